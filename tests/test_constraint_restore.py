"""Issue 14.2 and 14.5: freezes survive weight restores; every constructor argument is checked;
a resumed model trained without UpdatePruningStep is flagged."""

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras

# isort: split
import tensorflow_model_optimization as tfmot
from tf_expander_pruning.datasets import load
from tf_expander_pruning.schedules import GeometricSchedule

from tf_expander_pruning.constraint import RamanujanConstraint
from tf_expander_pruning.pruning import prune_rnn, pruned_weights

X_ALL, Y_ALL = load("digits", "train")
X, Y = X_ALL[:256], Y_ALL[:256]  # 8 steps per epoch at batch 32
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def fail_w_xh_above(limit):
    """W_xh of the 8-input layer fails above `limit` sparsity; everything else passes."""

    def criterion(report):
        return not (report.n_left == 8 and report.sparsity > limit)

    return criterion


def _pruned(frequency=8):
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(16, name="lstm"),
                              keras.layers.Dense(10)])
    model = prune_rnn(dense, GeometricSchedule(rate=0.3, frequency=frequency))
    model.compile("adam", LOSS)
    return model


class Score(keras.callbacks.Callback):
    """Puts a made-up metric in the epoch logs: best at epoch 0, then worse every epoch, so
    EarlyStopping's best weights are from before any freeze."""

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = 1.0 - 0.1 * epoch


class FrozenSpy(keras.callbacks.Callback):
    """Copies each frozen matrix's mask at the epoch end it was first seen frozen."""

    def __init__(self):
        super().__init__()
        self.frozen = {}

    def on_epoch_end(self, epoch, logs=None):
        for p in pruned_weights(self.model):
            if bool(p.frozen.numpy()) and p.name not in self.frozen:
                self.frozen[p.name] = p.mask.numpy().copy()


def _check_frozen_state(model, constraint, spy):
    entries = {p.name: p for p in pruned_weights(model)}
    assert spy.frozen, "the run must freeze something for the test to mean anything"
    for name, mask in spy.frozen.items():
        assert bool(entries[name].frozen.numpy()), name
        np.testing.assert_array_equal(entries[name].mask.numpy(), mask)
        # the weights outside the frozen mask are zero (the mask is applied, not only stored)
        assert not np.any(entries[name].weight.numpy()[mask == 0])
    flags = {(p.layer, p.role) for p in entries.values() if bool(p.frozen.numpy())}
    records = {(layer, role) for layer, roles in constraint.frozen_layers.items()
               for role in roles}
    frozen_by_history = {(r["layer"], r["role"]) for r in constraint.history if r["frozen"]}
    assert flags == records == frozen_by_history


@pytest.mark.slow
@pytest.mark.parametrize("order", ["constraint_first", "early_stopping_first"])
def test_early_stopping_restore_best_weights_keeps_frozen_masks_bit_for_bit(order):
    model = _pruned()
    constraint = RamanujanConstraint(criterion=fail_w_xh_above(0.5), per_gate=False, verbose=0,
                                     guard=None)
    stopper = keras.callbacks.EarlyStopping(monitor="score", mode="max", patience=100,
                                            restore_best_weights=True)
    spy = FrozenSpy()
    pair = [constraint, stopper] if order == "constraint_first" else [stopper, constraint]
    model.fit(X, Y, batch_size=32, epochs=6, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), Score(), *pair, spy])
    assert stopper.best_epoch == 0  # restored to a state from before the freeze
    _check_frozen_state(model, constraint, spy)
    reapplied = [m for m in constraint.messages if "re-applied" in m]
    assert len(reapplied) == 1 and "lstm/W_xh" in reapplied[0]


@pytest.mark.slow
def test_set_weights_and_load_weights_after_the_freeze_are_undone_once(tmp_path):
    model = _pruned()
    early = model.get_weights()  # everything dense, nothing frozen
    model.save_weights(str(tmp_path / "early_ckpt"))  # TF format: every variable
    constraint = RamanujanConstraint(criterion=fail_w_xh_above(0.5), per_gate=False, verbose=0,
                                     guard=None)
    spy = FrozenSpy()
    model.fit(X, Y, batch_size=32, epochs=5, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), constraint, spy])
    model.set_weights(early)
    _check_frozen_state(model, constraint, spy)
    model.load_weights(str(tmp_path / "early_ckpt"))
    _check_frozen_state(model, constraint, spy)
    assert sum("re-applied" in m for m in constraint.messages) == 1  # said once


@pytest.mark.parametrize("kwargs, error, message", [
    ({"log_dir": 123}, TypeError, "`log_dir` must be a path"),
    ({"csv_path": 5}, TypeError, "`csv_path` must be a path"),
    ({"guard": "yes"}, TypeError, "`guard` must be True"),
    ({"monitor": 3}, TypeError, "`monitor` must be the name"),
    ({"max_drop": "0.1"}, TypeError, "`max_drop` must be a number"),
    ({"max_drop": -0.1}, ValueError, "`max_drop` must be in"),
    ({"baseline": "high"}, TypeError, "`baseline` must be a number"),
    ({"mode": "up"}, ValueError, "`mode` must be one of"),
    ({"verbose": -1}, ValueError, "`verbose` must be >= 0"),
    ({"verbose": True}, TypeError, "`verbose` must be 0, 1 or 2"),
    ({"undefined": 3}, ValueError, "Unknown undefined"),
])
def test_every_constructor_argument_is_checked_and_named(kwargs, error, message, tmp_path,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        RamanujanConstraint(**kwargs)
    assert list(tmp_path.iterdir()) == []  # log_dir=123 no longer creates ./123


@pytest.mark.slow
def test_resumed_model_without_update_pruning_step_is_flagged():
    model = _pruned()
    model.fit(X, Y, batch_size=32, epochs=1, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    assert int(pruned_weights(model)[0].wrapper.pruning_step.numpy()) > 0  # a resumed step
    with pytest.raises(ValueError, match="UpdatePruningStep.*resumed"):
        model.fit(X, Y, batch_size=32, epochs=1, verbose=0,
                  callbacks=[RamanujanConstraint(verbose=0, guard=None)])
