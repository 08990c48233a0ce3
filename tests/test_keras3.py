"""Issue 12.5: weight_graphs, summary and `tf-expander inspect` read Keras 3 models and `.keras`
files saved by Keras 3.  (Pruning Keras 3 models, issue 24: tests/behaviour and
tests/test_backends.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras as keras3
import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras as tf_keras
from tf_expander_pruning.spectral import analyze

from tf_expander_pruning import graphs
from tf_expander_pruning.cli import main

assert keras3.__version__.startswith("3"), "Keras 3 is a dependency (setup.cfg)"

T, F = 6, 7


def build(keras_module):
    """The same architecture in either Keras: LSTM, Bidirectional GRU, SimpleRNN, Dense."""
    layers = keras_module.layers
    return keras_module.Sequential([
        keras_module.Input((T, F)),
        layers.LSTM(8, return_sequences=True, name="lstm"),
        layers.Bidirectional(layers.GRU(6, return_sequences=True), name="bigru"),
        layers.SimpleRNN(5, name="rnn"),
        layers.Dense(3, name="dense"),
    ])


def sparse_weights(model, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = []
    for value in model.get_weights():
        value = value.copy()
        if value.ndim == 2:
            value[rng.random(value.shape) < 0.45] = 0.0
        weights.append(value)
    model.set_weights(weights)
    return weights


@pytest.fixture(scope="module")
def pair():
    """A Keras 3 model and a tf_keras model holding the very same weights."""
    model3 = build(keras3)
    weights = sparse_weights(model3)
    model2 = build(tf_keras)
    model2.set_weights(weights)
    return model3, model2


def test_keras3_weight_graphs_are_the_masks_of_its_weights(pair):
    model3, _ = pair
    found = graphs.weight_graphs(model3)
    names = [graph.name for graph in found]
    assert names == [
        "lstm/W_xh", "lstm/W_hh", "bigru/forward/W_xh", "bigru/forward/W_hh",
        "bigru/backward/W_xh", "bigru/backward/W_hh", "rnn/W_xh", "rnn/W_hh",
    ]
    cells = [model3.layers[0].cell, model3.layers[1].forward_layer.cell,
             model3.layers[1].backward_layer.cell, model3.layers[2].cell]
    expected = []
    for cell in cells:
        expected += [np.asarray(cell.kernel.numpy()), np.asarray(cell.recurrent_kernel.numpy())]
    for graph, weight in zip(found, expected, strict=True):
        np.testing.assert_array_equal(graph.mask, weight != 0)
        assert graph.report().edges == np.count_nonzero(weight)
        assert graph.is_pruned is False
    gated = graphs.weight_graphs(model3, per_gate=True)
    assert len(gated) == 2 * 4 + 4 * 3 + 2 * 1


@pytest.mark.parametrize("per_gate", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_keras3_rows_equal_the_tf_keras_rows_of_the_same_weights(pair, per_gate, weighted):
    model3, model2 = pair
    rows3 = graphs.summary_rows(model3, per_gate=per_gate, weighted=weighted)
    rows2 = graphs.summary_rows(model2, per_gate=per_gate, weighted=weighted)
    assert len(rows3) == len(rows2)
    for row3, row2 in zip(rows3, rows2, strict=True):
        assert row3.keys() == row2.keys()
        for key, value in row2.items():
            if key == "role" and not row2["analysed"]:
                continue  # the class name of a skipped layer
            if isinstance(value, float):
                assert row3[key] == pytest.approx(value, rel=1e-12), key
            else:
                assert row3[key] == value, key
    text = graphs.summary(model3, per_gate=per_gate, weighted=weighted, print_fn=None)
    assert "lstm" in text and "not analysed" in text


def test_keras3_delta_r_matches_an_independent_analysis(pair):
    model3, _ = pair
    rows = [row for row in graphs.summary_rows(model3) if row["analysed"]]
    kernel = np.asarray(model3.layers[0].cell.recurrent_kernel.numpy())
    report = analyze(kernel != 0)
    assert rows[1]["layer"] == "lstm" and rows[1]["role"] == "W_hh"
    assert rows[1]["delta_r"] == pytest.approx(report.delta_r)
    assert rows[1]["components"] == report.components


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_inspect_reads_a_keras3_file(pair, tmp_path, capsys, suffix):
    model3, model2 = pair
    path = tmp_path / f"model3{suffix}"
    model3.save(path)
    assert main(["inspect", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expected = graphs.summary_rows(model2)
    assert [(r["layer"], r["role"]) for r in rows if r["analysed"]] == [
        (r["layer"], r["role"]) for r in expected if r["analysed"]
    ]
    for row, want in zip(rows, expected, strict=True):
        if want["analysed"]:
            assert row["delta_r"] == pytest.approx(want["delta_r"])
            assert row["status"] == want["status"]
    assert main(["inspect", str(path), "--weighted"]) == 0
    out = capsys.readouterr().out
    assert "Gap" in out and "no Ramanujan verdict" in out and "Delta_r" not in out


def test_prune_rnn_takes_a_keras3_model(pair):
    from tf_expander_pruning.schedules import GeometricSchedule

    from tf_expander_pruning.pruning import prune_rnn, pruned_weights

    pruned = prune_rnn(pair[0], GeometricSchedule())
    assert [p.name for p in pruned_weights(pruned)][:2] == ["lstm/W_xh", "lstm/W_hh"]
    assert isinstance(pruned, keras3.Sequential)


@pytest.mark.slow
def test_inspect_a_file_saved_by_a_plain_keras3_process(tmp_path):
    """A user's Keras 3 process (no TF_USE_LEGACY_KERAS) saves; our CLI inspects it."""
    path = tmp_path / "user.keras"
    script = textwrap.dedent(f"""
        import numpy as np, keras
        assert keras.__version__.startswith("3")
        model = keras.Sequential([keras.Input(({T}, {F})), keras.layers.LSTM(8, name="lstm"),
                                  keras.layers.Dense(2)])
        kernel = model.layers[0].cell.kernel
        value = np.asarray(kernel.numpy()); value[:, ::2] = 0.0; kernel.assign(value)
        model.save({str(path)!r})
        np.save({str(tmp_path / 'kernel.npy')!r}, value)
    """)
    env = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = subprocess.run(
        [sys.executable, "-m", "tf_expander_pruning.cli", "inspect", str(path), "--json"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(result.stdout)
    kernel = np.load(tmp_path / "kernel.npy")
    report = analyze(kernel != 0)
    assert rows[0]["layer"] == "lstm" and rows[0]["role"] == "W_xh"
    assert rows[0]["sparsity"] == pytest.approx(0.5)
    assert rows[0]["d_left"] == pytest.approx(report.d_left)
    assert rows[0]["delta_r"] == (None if report.delta_r is None else pytest.approx(report.delta_r))
