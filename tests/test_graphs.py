"""weight_graphs / summary on every supported layer type, wrapped for pruning and not."""

import numpy as np
import pytest
import tensorflow_model_optimization as tfmot
from tf_expander_pruning.keras_compat import keras
from tf_expander_pruning.spectral import analyze

from tf_expander_pruning import graphs

L = keras.layers
T, F = 5, 7


def _zero_some(model, seed=0):
    """Zero about half of every recurrent weight so masks are non-trivial."""
    rng = np.random.default_rng(seed)
    for layer in model.weights:
        if "kernel" in layer.name:
            value = layer.numpy()
            value[rng.random(value.shape) < 0.5] = 0.0
            layer.assign(value)


def _model(*layers):
    model = keras.Sequential([keras.Input((T, F)), *layers])
    _zero_some(model)
    return model


def _check_against_cell(graph, cell):
    kernel = getattr(cell, graphs.ROLES[graph.role]).numpy()[:, graph.columns]
    np.testing.assert_array_equal(graph.weights, kernel)
    np.testing.assert_array_equal(graph.mask, kernel != 0)
    assert graph.report().edges == np.count_nonzero(kernel)


@pytest.mark.parametrize(
    "layer, cell_type, gates",
    [
        (lambda: L.SimpleRNN(6), "SimpleRNNCell", (None,)),
        (lambda: L.LSTM(6), "LSTMCell", ("i", "f", "c", "o")),
        (lambda: L.GRU(6, reset_after=True), "GRUCell", ("z", "r", "h")),
        (lambda: L.GRU(6, reset_after=False), "GRUCell", ("z", "r", "h")),
        (lambda: L.RNN(L.LSTMCell(6)), "LSTMCell", ("i", "f", "c", "o")),
    ],
)
def test_single_layer_types(layer, cell_type, gates):
    model = _model(layer(), L.Dense(3))
    rnn = model.layers[0]
    whole = graphs.weight_graphs(model)
    assert [(g.layer, g.role, g.gate) for g in whole] == [
        (rnn.name, "W_xh", None), (rnn.name, "W_hh", None)
    ]
    assert whole[0].shape == (F, 6 * len(gates)) and whole[1].shape == (6, 6 * len(gates))
    for graph in whole:
        assert graph.cell_type == cell_type
        _check_against_cell(graph, rnn.cell)
    per_gate = graphs.weight_graphs(model, per_gate=True)
    assert [g.gate for g in per_gate] == list(gates) * 2
    for graph in per_gate:
        assert graph.shape[1] == 6
        _check_against_cell(graph, rnn.cell)
    # The gate blocks tile the whole matrix.
    xh = np.concatenate([g.mask for g in per_gate if g.role == "W_xh"], axis=1)
    np.testing.assert_array_equal(xh, whole[0].mask)


def test_bidirectional_stacked_cells_and_nested_models():
    inner = keras.Sequential(
        [keras.Input((T, 8)), L.GRU(5, return_sequences=True, reset_after=False, name="gru")],
        name="encoder",
    )
    model = _model(
        L.Bidirectional(L.LSTM(4, return_sequences=True)),
        inner,
        L.RNN(L.StackedRNNCells([L.GRUCell(3), L.SimpleRNNCell(4)])),
        L.Dense(2),
    )
    found = graphs.weight_graphs(model)
    names = [g.name for g in found]
    bidi = model.layers[0].name
    assert names == [
        f"{bidi}/forward/W_xh", f"{bidi}/forward/W_hh",
        f"{bidi}/backward/W_xh", f"{bidi}/backward/W_hh",
        "encoder/gru/W_xh", "encoder/gru/W_hh",
        f"{model.layers[2].name}/cell_0/W_xh", f"{model.layers[2].name}/cell_0/W_hh",
        f"{model.layers[2].name}/cell_1/W_xh", f"{model.layers[2].name}/cell_1/W_hh",
    ]
    cells = [
        model.layers[0].forward_layer.cell, model.layers[0].backward_layer.cell,
        inner.layers[0].cell, *model.layers[2].cell.cells,
    ]
    for index, graph in enumerate(found):
        _check_against_cell(graph, cells[index // 2])
    # forward and backward are different weights
    assert not np.array_equal(found[0].weights, found[2].weights)


def _pruned_lstm_model(layer):
    schedule = tfmot.sparsity.keras.ConstantSparsity(0.6, begin_step=0, frequency=1)
    model = tfmot.sparsity.keras.prune_low_magnitude(
        keras.Sequential([keras.Input((T, F)), layer, L.Dense(3)]), pruning_schedule=schedule
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(16, T, F)).astype("float32")
    y = np.arange(16) % 3
    model.fit(x, y, epochs=1, batch_size=8, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return model


@pytest.mark.slow
@pytest.mark.parametrize(
    "layer", [lambda: L.SimpleRNN(8), lambda: L.LSTM(8), lambda: L.GRU(8, reset_after=False)]
)
def test_masks_come_from_the_pruning_wrapper(layer):
    model = _pruned_lstm_model(layer())
    wrapper = model.layers[0]
    found = graphs.weight_graphs(model)
    assert [g.role for g in found] == ["W_xh", "W_hh"]
    for graph, (weight, mask, _) in zip(found, wrapper.pruning_vars, strict=True):
        assert graph.wrapper is wrapper and graph.mask_variable is mask
        np.testing.assert_array_equal(graph.mask, mask.numpy() != 0)
        assert graph.sparsity == pytest.approx(0.6, abs=0.02)
        # pruned weights are zero where the mask is 0
        assert not np.any(weight.numpy()[~graph.mask])
    # A kept weight that happens to be exactly zero is still an edge: the wrapper's mask rules.
    weight = wrapper.pruning_vars[1][0]
    value = weight.numpy()
    kept = np.argwhere(wrapper.pruning_vars[1][1].numpy() != 0)[0]
    value[tuple(kept)] = 0.0
    weight.assign(value)
    again = graphs.weight_graphs(model)[1]
    assert again.mask[tuple(kept)]
    assert again.report().edges == np.count_nonzero(wrapper.pruning_vars[1][1].numpy())


def test_summary_lists_every_layer():
    model = _model(
        L.LSTM(8, return_sequences=True, name="lstm"),
        L.GRU(8, name="gru"),
        L.Dense(3, name="dense"),
    )
    lines = []
    text = graphs.summary(model, print_fn=lines.append)
    assert lines == [text]
    rows = graphs.summary_rows(model)
    assert [(r["layer"], r["role"]) for r in rows] == [
        ("lstm", "W_xh"), ("lstm", "W_hh"), ("gru", "W_xh"), ("gru", "W_hh"), ("dense", "Dense")
    ]
    dense_row = rows[-1]
    assert dense_row["analysed"] is False and "not analysed" in dense_row["status"]
    # one schema for every row (JSON consumers of `inspect --json` index any row by any key)
    assert all(list(row) == list(rows[0]) for row in rows)
    assert dense_row["pruned"] is None and rows[0]["pruned"] is False
    for row, graph in zip(rows[:4], graphs.weight_graphs(model), strict=True):
        report = analyze(graph.mask)
        assert row["delta_r"] == report.delta_r
        expected = "Ramanujan" if report.is_ramanujan else "not Ramanujan"
        assert row["status"].startswith(expected if report.is_ramanujan is not None else "undef")
        assert f"{row['delta_r']:.3f}" in text
    assert "not analysed" in text and "Delta_r" in text


def test_undefined_status_has_reason():
    model = keras.Sequential([keras.Input((T, 2)), L.SimpleRNN(2)])
    row = graphs.summary_rows(model)[0]
    assert row["delta_r"] is None and row["status"].startswith("undefined: ")
    assert "average degree" in row["status"]


def test_unanalysable_layers_are_listed_not_analysed():
    class Custom(L.Layer):
        state_size = 3

        def build(self, shape):
            self.w = self.add_weight(name="w", shape=(shape[-1], 3))

        def call(self, x, states):
            return x @ self.w, states

    model = keras.Sequential([
        keras.Input((T, 4, 4, 1)),
        L.ConvLSTM2D(2, 3, return_sequences=True),
        L.TimeDistributed(L.Flatten()),
        L.RNN(Custom()),
    ])
    assert graphs.weight_graphs(model) == []
    rows = graphs.summary_rows(model)
    assert all(not row["analysed"] for row in rows)
    assert "ConvLSTM2D" in rows[0]["status"]
    assert "Custom" in rows[-1]["status"]


def test_unbuilt_model_is_a_clear_error():
    model = keras.Sequential([L.LSTM(4)])
    with pytest.raises(ValueError, match="not built"):
        graphs.weight_graphs(model)
