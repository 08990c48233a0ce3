"""Issue 14.1: a pruned recurrent layer used twice (shared weights) advances its schedule once
per optimizer step, not once per call."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_model_optimization as tfmot
from tf_expander_pruning.keras_compat import keras
from tf_expander_pruning.schedules import GeometricSchedule

from tf_expander_pruning.pruning import prune_rnn, pruned_weights
from tf_expander_pruning.pruning.step_gate import SharedEagerError

T, F, BATCH = 6, 5, 8


def shared_model(calls: int = 2) -> keras.Model:
    """One LSTM applied to ``calls`` views of the input, the outputs concatenated."""
    inputs = keras.Input((T, F))
    lstm = keras.layers.LSTM(12, name="shared")
    outputs = [lstm(inputs)] + [
        lstm(keras.layers.Lambda(lambda x, k=k: x * float(k + 2))(inputs))
        for k in range(calls - 1)
    ]
    merged = keras.layers.Concatenate()(outputs) if calls > 1 else outputs[0]
    return keras.Model(inputs, keras.layers.Dense(3)(merged))


def data(batches: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batches * BATCH, T, F)).astype("float32")
    return x, rng.integers(0, 3, size=batches * BATCH)


def expected_updates(schedule: GeometricSchedule, steps: int) -> int:
    """Mask updates the schedule asks for over optimizer steps 1..steps (TF-MOT's first step
    is 1), evaluated step by step, independently of the wrapper."""
    return sum(bool(schedule(step)[0].numpy()) for step in range(1, steps + 1))


def train(model, batches: int, epochs: int = 1, **compile_kwargs):
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  **compile_kwargs)
    x, y = data(batches)
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, shuffle=False,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return model


@pytest.mark.parametrize("calls, steps_per_execution", [(2, 1), (3, 1), (2, 5)])
def test_shared_layer_steps_once_per_optimizer_step(calls, steps_per_execution):
    schedule = GeometricSchedule(rate=0.2, frequency=5)
    model = prune_rnn(shared_model(calls), schedule)
    wrappers = [layer for layer in model.layers if hasattr(layer, "pruning_step")]
    assert len(wrappers) == 1 and len(wrappers[0].inbound_nodes) == calls  # still shared
    train(model, batches=25, steps_per_execution=steps_per_execution)
    iterations = int(model.optimizer.iterations.numpy())
    assert iterations == 25
    assert int(wrappers[0].pruning_step.numpy()) == iterations
    updates = expected_updates(schedule, iterations)
    assert updates == 5  # steps 5, 10, 15, 20, 25
    for pruned in pruned_weights(model):
        assert int(pruned.mask_updates.numpy()) == updates, pruned.name
        # The mask is the schedule's 5th geometric update: sparsity 1 - 0.8^5.
        sparsity = 1.0 - np.count_nonzero(pruned.mask.numpy()) / pruned.mask.numpy().size
        assert sparsity == pytest.approx(schedule.sparsity_at(iterations), abs=0.01)


def test_shared_layer_over_epochs_keeps_counting_optimizer_steps():
    schedule = GeometricSchedule(rate=0.3, frequency=4)
    model = train(prune_rnn(shared_model(2), schedule), batches=6, epochs=3)
    iterations = int(model.optimizer.iterations.numpy())
    wrapper = next(layer for layer in model.layers if hasattr(layer, "pruning_step"))
    assert int(wrapper.pruning_step.numpy()) == iterations == 18
    for pruned in pruned_weights(model):
        assert int(pruned.mask_updates.numpy()) == expected_updates(schedule, iterations) == 4


def test_single_call_layer_unchanged():
    schedule = GeometricSchedule(rate=0.2, frequency=5)
    model = train(prune_rnn(shared_model(1), schedule), batches=10)
    wrapper = next(layer for layer in model.layers if hasattr(layer, "pruning_step"))
    assert int(wrapper.pruning_step.numpy()) == int(model.optimizer.iterations.numpy()) == 10
    for pruned in pruned_weights(model):
        assert int(pruned.mask_updates.numpy()) == 2


def test_shared_layer_trained_eagerly_is_a_clear_error():
    model = prune_rnn(shared_model(2), GeometricSchedule(rate=0.2, frequency=5))
    with pytest.raises(SharedEagerError, match="called 2 times.*run_eagerly"):
        train(model, batches=2, run_eagerly=True)
