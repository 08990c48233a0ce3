"""Freezable and GeometricSchedule: values, freezing inside tf.function, config round trips."""

import copy

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras, tf

# isort: split
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)
from tf_expander_pruning.schedules import (
    Freezable,
    GeometricSchedule,
    deserialize_schedule,
    validate_schedule,
)


def _call(schedule, step):
    should, sparsity = schedule(tf.constant(step, tf.int64))
    return bool(should.numpy()), float(sparsity.numpy())


def test_geometric_removes_rate_of_remaining_each_update():
    schedule = GeometricSchedule(rate=0.2, frequency=10, begin_step=0, max_sparsity=0.9)
    # TF-MOT never shows step 0 to the schedule, so the k-th update is at step 10*k.
    for k in range(1, 8):
        should, sparsity = _call(schedule, 10 * k)
        assert should
        expected = min(1 - 0.8**k, 0.9)
        assert sparsity == pytest.approx(expected, abs=1e-6)
        assert schedule.sparsity_at(10 * k) == pytest.approx(expected, abs=1e-12)
        assert not _call(schedule, 10 * k + 3)[0]
    # capped: 1 - 0.8**11 > 0.9
    assert _call(schedule, 1000)[1] == pytest.approx(0.9, abs=1e-6)
    assert schedule.updates_to_cap() == 11


def test_geometric_with_begin_and_end_step():
    schedule = GeometricSchedule(rate=0.5, frequency=4, begin_step=6, end_step=14)
    assert not _call(schedule, 5)[0]
    assert _call(schedule, 6) == (True, pytest.approx(0.5))
    assert _call(schedule, 10) == (True, pytest.approx(0.75))
    assert _call(schedule, 14) == (True, pytest.approx(0.875))
    should, sparsity = _call(schedule, 18)
    assert not should and sparsity == pytest.approx(0.875)
    for step in range(0, 30):
        assert _call(schedule, step)[1] == pytest.approx(schedule.sparsity_at(step), abs=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rate": 0.0}, "rate"),
        ({"rate": 1.0}, "rate"),
        ({"max_sparsity": 1.0}, "max_sparsity"),
        ({"frequency": 0}, "frequency"),
        ({"begin_step": -1}, "begin_step"),
        ({"begin_step": 10, "end_step": 5}, "before begin_step"),
    ],
)
def test_geometric_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GeometricSchedule(**kwargs)


def test_validate_schedule_rejects_end_before_begin_and_non_schedules():
    class Backwards(tfmot.sparsity.keras.PruningSchedule):
        begin_step, end_step, frequency = 10, 5, 1

        def __call__(self, step):
            return tf.constant(True), tf.constant(0.5)

        def get_config(self):
            return {"class_name": "Backwards", "config": {}}

    with pytest.raises(ValueError, match=r"end_step \(5\) is before begin_step \(10\)"):
        validate_schedule(Backwards())
    with pytest.raises(ValueError, match="before begin_step"):
        Freezable(Backwards())
    with pytest.raises(TypeError, match="PruningSchedule"):
        validate_schedule(0.5)
    with pytest.raises(TypeError, match="PruningSchedule"):
        Freezable("ConstantSparsity")


def test_freezable_is_anded_into_should_prune_inside_tf_function():
    schedule = Freezable(tfmot.sparsity.keras.ConstantSparsity(0.6, begin_step=0, frequency=5))
    traces = []

    @tf.function
    def run(step):
        traces.append(1)
        return schedule(step)

    step = tf.constant(10, tf.int64)
    should, sparsity = run(step)
    assert bool(should) and float(sparsity) == pytest.approx(0.6)
    schedule.freeze()
    should, sparsity = run(step)
    assert not bool(should) and float(sparsity) == pytest.approx(0.6)
    assert schedule.is_frozen
    schedule.unfreeze()
    assert bool(run(step)[0])
    assert len(traces) == 1  # the flag is read by the traced graph, not baked in


def test_freezable_config_round_trip_and_bare_name_registration():
    inner = tfmot.sparsity.keras.PolynomialDecay(0.1, 0.8, begin_step=3, end_step=50, frequency=7)
    schedule = Freezable(inner)
    config = schedule.get_config()
    assert config["class_name"] == "Freezable"
    loaded = deserialize_schedule(config)
    assert isinstance(loaded, Freezable)
    assert isinstance(loaded.base_schedule, tfmot.sparsity.keras.PolynomialDecay)
    assert loaded.get_config() == config
    assert loaded.frozen is not schedule.frozen
    geometric = GeometricSchedule(rate=0.3, frequency=9, begin_step=2, end_step=99,
                                  max_sparsity=0.7)
    assert deserialize_schedule(geometric.get_config()).get_config() == geometric.get_config()
    custom = keras.utils.get_custom_objects()
    assert custom["Freezable"] is Freezable and custom["GeometricSchedule"] is GeometricSchedule
    with pytest.raises(ValueError, match="register"):
        deserialize_schedule({"class_name": "NoSuchSchedule", "config": {}})


def test_tfmot_wrapper_from_config_loads_our_schedules():
    # PruneLowMagnitude.from_config only knows TF-MOT's schedules unless ours are registered
    # under their bare class names (otherwise it silently returns the name as a string).
    for schedule in (Freezable(GeometricSchedule(frequency=3)), GeometricSchedule(frequency=3)):
        wrapper = tfmot.sparsity.keras.prune_low_magnitude(
            keras.layers.Dense(4), pruning_schedule=schedule
        )
        loaded = PruneLowMagnitude.from_config(wrapper.get_config())
        assert type(loaded.pruning_schedule) is type(schedule)
        assert loaded.pruning_schedule.get_config() == schedule.get_config()


def test_freezable_deepcopy_copies_flag_value_not_variable():
    schedule = Freezable(GeometricSchedule())
    schedule.freeze()
    clone = copy.deepcopy(schedule)
    assert clone.is_frozen and clone.frozen is not schedule.frozen
    clone.unfreeze()
    assert schedule.is_frozen


@pytest.mark.slow
def test_freezable_freezes_a_plain_tfmot_wrapper_and_exports_savedmodel(tmp_path):
    keras.utils.set_random_seed(1)
    schedule = Freezable(GeometricSchedule(rate=0.3, frequency=2, max_sparsity=0.95))
    model = keras.Sequential([
        keras.Input((6,)),
        tfmot.sparsity.keras.prune_low_magnitude(keras.layers.Dense(8), pruning_schedule=schedule),
        keras.layers.Dense(1),
    ])
    model.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    step = tfmot.sparsity.keras.UpdatePruningStep()
    model.fit(x, y, batch_size=16, epochs=1, callbacks=[step], verbose=0)  # steps 1..4
    mask = model.layers[0].pruning_vars[0][1]
    before = mask.numpy().copy()
    assert before.mean() < 1.0
    schedule.freeze()
    model.fit(x, y, batch_size=16, epochs=3, callbacks=[step], verbose=0)
    np.testing.assert_array_equal(mask.numpy(), before)
    # The schedule is a tf.Module, so its variable is reachable from the root: export works.
    tf.saved_model.save(model, str(tmp_path / "saved"))
