"""prune_rnn / PruneRecurrent / strip_pruning: what gets wrapped, per-weight masks, saving."""

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras, tf

# isort: split
import tensorflow_model_optimization as tfmot
from tf_expander_pruning.schedules import Freezable, GeometricSchedule

from tf_expander_pruning.pruning import (
    PrunableBidirectional,
    PruneRecurrent,
    prune_rnn,
    pruned_weights,
    strip_pruning,
)

RNG = np.random.default_rng(0)
X = RNG.random((96, 8, 8), dtype=np.float32)
Y = RNG.integers(0, 10, 96)


def _functional(rnn_layer, name="functional"):
    inputs = keras.Input((8, 8))
    hidden = rnn_layer(inputs)
    outputs = keras.layers.Dense(10, name="head")(hidden)
    return keras.Model(inputs, outputs, name=name)


def _fit(model, epochs=1, batch_size=16):
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, Y, batch_size=batch_size, epochs=epochs, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return model


def _masks(model):
    return [np.asarray(p.mask.numpy()) for p in pruned_weights(model)]


@pytest.mark.slow
def test_sequential_only_recurrent_layers_are_wrapped_and_weights_copied():
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([
        keras.Input((8, 8)),
        keras.layers.LSTM(12, return_sequences=True, name="lstm_a"),
        keras.layers.GRU(6, name="gru_b"),
        keras.layers.Dense(10, name="head"),
    ])
    original = [w.copy() for w in dense.get_weights()]
    pruned = prune_rnn(dense, GeometricSchedule(rate=0.3, frequency=2))
    assert isinstance(pruned, keras.Sequential)
    kinds = [type(layer).__name__ for layer in pruned.layers]
    assert kinds == ["PruneRecurrent", "PruneRecurrent", "Dense"]
    assert [layer.layer.name for layer in pruned.layers[:2]] == ["lstm_a", "gru_b"]
    # PruneLowMagnitude.get_weights() is the wrapped layer's weights (no masks).
    copied = [w for layer in pruned.layers for w in layer.get_weights()]
    for new, old in zip(copied, original, strict=True):
        np.testing.assert_array_equal(new, old)
    # One schedule (and flag) per weight, none shared between layers.
    schedules = [s for layer in pruned.layers[:2] for s in layer.pruning_schedules]
    assert len(schedules) == 4 and len({id(s) for s in schedules}) == 4
    assert len({id(s.frozen) for s in schedules}) == 4
    assert len({id(s.base_schedule) for s in schedules}) == 4
    _fit(pruned, epochs=1)  # 6 steps: updates at 2, 4, 6
    for mask in _masks(pruned):
        kept = int(mask.sum())
        assert kept == round(mask.size * 0.7**3)
    # The dense input model is untouched.
    for new, old in zip(dense.get_weights(), original, strict=True):
        np.testing.assert_array_equal(new, old)


def test_functional_model_and_unique_variable_names():
    keras.utils.set_random_seed(0)
    pruned = prune_rnn(_functional(keras.layers.LSTM(8, name="lstm")), GeometricSchedule())
    wrapper = pruned.get_layer("prune_recurrent_lstm")
    assert isinstance(wrapper, PruneRecurrent)
    assert isinstance(pruned.get_layer("head"), keras.layers.Dense)
    names = [v.name for v in wrapper.weights]
    assert len(names) == len(set(names)), names
    assert [m.name.split("/")[-1] for _, m, _ in wrapper.pruning_vars] == [
        "mask_kernel:0", "mask_recurrent_kernel:0",
    ]
    cell = wrapper.layer.cell
    assert wrapper.pruning_vars[0][0] is cell.kernel
    assert wrapper.pruning_vars[1][0] is cell.recurrent_kernel
    assert [p.name for p in pruned_weights(pruned)] == ["lstm/W_xh", "lstm/W_hh"]


@pytest.mark.parametrize("role, pruned_attr, dense_attr", [
    ("W_xh", "kernel", "recurrent_kernel"),
    ("W_hh", "recurrent_kernel", "kernel"),
])
def test_prune_only_one_role(role, pruned_attr, dense_attr):
    keras.utils.set_random_seed(0)
    model = prune_rnn(
        _functional(keras.layers.SimpleRNN(16, name="rnn")),
        GeometricSchedule(rate=0.5, frequency=2), roles=(role,),
    )
    wrapper = model.layers[1]
    assert len(wrapper.pruning_vars) == 1
    cell = wrapper.layer.cell
    assert wrapper.pruning_vars[0][0] is getattr(cell, pruned_attr)
    _fit(model)
    pruned = getattr(cell, pruned_attr).numpy()
    dense = getattr(cell, dense_attr).numpy()
    assert np.mean(pruned == 0) > 0.8
    assert np.count_nonzero(dense == 0) == 0


@pytest.mark.slow
def test_bidirectional_forward_and_backward_kernels_are_pruned():
    keras.utils.set_random_seed(0)
    dense = _functional(keras.layers.Bidirectional(keras.layers.GRU(6), name="bi"))
    pruned = prune_rnn(dense, GeometricSchedule(rate=0.4, frequency=2))
    wrapper = pruned.layers[1]
    assert isinstance(wrapper.layer, PrunableBidirectional)
    assert [p.name for p in pruned_weights(pruned)] == [
        "bi/forward/W_xh", "bi/forward/W_hh", "bi/backward/W_xh", "bi/backward/W_hh",
    ]
    for new, old in zip(wrapper.get_weights(), dense.layers[1].get_weights(), strict=True):
        np.testing.assert_array_equal(new, old)
    _fit(pruned)
    for item in pruned_weights(pruned):
        mask = item.mask.numpy()
        assert int(mask.sum()) == round(mask.size * 0.6**3)
        weight = item.weight.numpy()
        assert np.all(weight[mask == 0] == 0)


def test_layers_argument_selects_layers():
    dense = keras.Sequential([
        keras.Input((8, 8)),
        keras.layers.SimpleRNN(4, return_sequences=True, name="first"),
        keras.layers.LSTM(4, name="second"),
        keras.layers.Dense(2),
    ])
    pruned = prune_rnn(dense, GeometricSchedule(), layers=["second"])
    assert [type(layer).__name__ for layer in pruned.layers] == [
        "SimpleRNN", "PruneRecurrent", "Dense",
    ]
    with pytest.raises(ValueError, match="not a layer of model"):
        prune_rnn(dense, GeometricSchedule(), layers=["nope"])
    with pytest.raises(ValueError, match="not a SimpleRNN, LSTM, GRU"):
        prune_rnn(dense, GeometricSchedule(), layers=[dense.layers[-1]])


def test_clear_errors():
    dense_only = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no recurrent layer"):
        prune_rnn(dense_only, GeometricSchedule())
    model = _functional(keras.layers.LSTM(4))
    with pytest.raises(ValueError, match="Unknown weight role"):
        prune_rnn(model, GeometricSchedule(), roles=("W_hx",))
    with pytest.raises(ValueError, match="empty"):
        prune_rnn(model, GeometricSchedule(), roles=())
    with pytest.raises(TypeError, match="PruningSchedule"):
        prune_rnn(model, 0.8)

    class Backwards(tfmot.sparsity.keras.PruningSchedule):
        begin_step, end_step, frequency = 20, 10, 5

        def __call__(self, step):
            return tf.constant(True), tf.constant(0.5)

        def get_config(self):
            return {"class_name": "Backwards", "config": {}}

    with pytest.raises(ValueError, match="end_step .* before begin_step"):
        prune_rnn(model, Backwards())
    pruned = prune_rnn(model, GeometricSchedule())
    with pytest.raises(ValueError, match="already wrapped"):
        prune_rnn(pruned, GeometricSchedule())
    with pytest.raises(ValueError, match="PruneRecurrent wraps"):
        PruneRecurrent(keras.layers.Dense(3))


def test_keras3_model_is_pruned_by_the_keras3_adapter():
    """Issue 24: a Keras 3 model is no longer refused; the same call prunes it (the behaviour
    is tested in tests/behaviour, per Keras and backend)."""
    import keras as keras3

    model = keras3.Sequential([keras3.Input((8, 8)), keras3.layers.LSTM(4, name="lstm")])
    pruned = prune_rnn(model, GeometricSchedule())
    assert isinstance(pruned, keras3.Sequential)
    assert [type(layer).__module__.rsplit(".", 1)[-1] for layer in pruned.layers] == ["wrapper"]
    assert [p.name for p in pruned_weights(pruned)] == ["lstm/W_xh", "lstm/W_hh"]
    plain = strip_pruning(pruned)
    assert [type(layer).__name__ for layer in plain.layers] == ["LSTM"]
    with pytest.raises(TypeError, match="tf_keras Model"):
        prune_rnn(object(), GeometricSchedule())


def test_freezable_template_is_unwrapped_and_config_round_trips():
    wrapper = PruneRecurrent(keras.layers.GRU(3), Freezable(GeometricSchedule(frequency=7)),
                             roles=["W_hh"])
    config = wrapper.get_config()
    assert config["roles"] == ["W_hh"]
    assert config["pruning_schedule"]["class_name"] == "GeometricSchedule"
    clone = PruneRecurrent.from_config(config)
    assert clone.roles == ("W_hh",)
    assert clone.pruning_schedule.get_config() == GeometricSchedule(frequency=7).get_config()


@pytest.fixture(scope="module")
def trained_bidirectional():
    keras.utils.set_random_seed(0)
    model = prune_rnn(
        _functional(keras.layers.Bidirectional(keras.layers.SimpleRNN(5), name="bi")),
        GeometricSchedule(rate=0.4, frequency=2),
    )
    _fit(model)
    items = pruned_weights(model)
    items[1].frozen.assign(True)
    items[1].frozen_step.assign(4)
    items[2].good_mask.assign(items[2].mask)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["h5", "keras", "savedmodel"])
def test_save_and_load_keeps_masks_and_frozen_flags(tmp_path, fmt, trained_bidirectional):
    model = trained_bidirectional
    items = pruned_weights(model)
    path = str(tmp_path / ("model" if fmt == "savedmodel" else f"model.{fmt}"))
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[1], PruneRecurrent)
    assert isinstance(loaded.layers[1].layer, PrunableBidirectional)
    loaded_items = pruned_weights(loaded)
    assert [p.name for p in loaded_items] == [p.name for p in items]
    for a, b in zip(items, loaded_items, strict=True):
        np.testing.assert_array_equal(a.mask.numpy(), b.mask.numpy())
        np.testing.assert_array_equal(a.good_mask.numpy(), b.good_mask.numpy())
        np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
        assert bool(a.frozen.numpy()) == bool(b.frozen.numpy())
        assert int(a.frozen_step.numpy()) == int(b.frozen_step.numpy())
        # the loaded schedule reads the loaded flag
        assert b.schedule.frozen is b.frozen
    assert [bool(p.frozen.numpy()) for p in loaded_items] == [False, True, False, False]
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)
    if fmt == "keras":
        # Training the loaded model does not change the frozen matrix's mask; others prune on.
        frozen_mask = loaded_items[1].mask.numpy().copy()
        _fit(loaded)
        np.testing.assert_array_equal(loaded_items[1].mask.numpy(), frozen_mask)
        assert loaded_items[0].mask.numpy().sum() < items[0].mask.numpy().sum()


@pytest.mark.slow
def test_strip_pruning_ours_and_tfmot():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8))
    hidden = keras.layers.Bidirectional(keras.layers.SimpleRNN(4, return_sequences=True),
                                        name="bi")(inputs)
    hidden = keras.layers.LSTM(4, name="lstm")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(10)(hidden))
    pruned = _fit(prune_rnn(model, GeometricSchedule(rate=0.5, frequency=2)))
    expected = pruned.predict(X, verbose=0)
    ours = strip_pruning(pruned)
    assert [type(layer).__name__ for layer in ours.layers] == [
        "InputLayer", "Bidirectional", "LSTM", "Dense",
    ]
    np.testing.assert_allclose(ours.predict(X, verbose=0), expected, rtol=1e-5, atol=1e-6)
    kernel = ours.get_layer("lstm").cell.kernel.numpy()
    assert np.mean(kernel == 0) > 0.8
    theirs = tfmot.sparsity.keras.strip_pruning(pruned)
    assert not any(isinstance(layer, PruneRecurrent) for layer in theirs.layers)
    np.testing.assert_allclose(theirs.predict(X, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_a_frozen_matrix_keeps_its_mask_while_the_other_is_still_pruned():
    """The shared schedule is evaluated once a step; each matrix still obeys its own flag."""
    keras.utils.set_random_seed(0)
    model = prune_rnn(_functional(keras.layers.LSTM(6)), GeometricSchedule(rate=0.3, frequency=2))
    _fit(model)
    w_xh, w_hh = pruned_weights(model)
    w_hh.frozen.assign(True)
    frozen_mask = w_hh.mask.numpy().copy()
    updates = [int(w_xh.mask_updates.numpy()), int(w_hh.mask_updates.numpy())]
    xh_sparsity = float(np.mean(w_xh.mask.numpy() == 0))
    _fit(model)
    np.testing.assert_array_equal(w_hh.mask.numpy(), frozen_mask)  # bit for bit
    assert int(w_hh.mask_updates.numpy()) == updates[1]
    assert int(w_xh.mask_updates.numpy()) > updates[0]
    assert float(np.mean(w_xh.mask.numpy() == 0)) > xh_sparsity
