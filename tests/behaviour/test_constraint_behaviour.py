"""RamanujanConstraint, for every Keras (see conftest.py): the spectral freeze, the guard's
rollback bit for bit, frozen masks across a save and a resumed fit."""

import numpy as np
from flavours import data
from tf_expander_pruning.schedules import GeometricSchedule

from tf_expander_pruning.constraint import RamanujanConstraint
from tf_expander_pruning.pruning import UpdatePruningStep, prune_rnn, pruned_weights

BATCH = 16  # 4 steps per epoch


def model_for(flavour, frequency=4, rate=0.5):
    keras = flavour.keras
    dense = keras.Sequential([keras.Input((6, 4)), keras.layers.SimpleRNN(16, name="rnn"),
                              keras.layers.Dense(3, name="head")])
    model = prune_rnn(dense, GeometricSchedule(rate=rate, frequency=frequency))
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def recorder(flavour):
    class Recorder(flavour.keras.callbacks.Callback):
        """After the constraint: trainable weights at the start and masks at each epoch end."""

        def __init__(self):
            super().__init__()
            self.start, self.epochs = None, []

        def on_train_batch_begin(self, batch, logs=None):
            if self.start is None:
                self.start = [np.array(v.numpy()) for v in self.model.trainable_weights]

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append({
                "weights": [np.array(v.numpy()) for v in self.model.trainable_weights],
                "masks": [p.mask_array() for p in pruned_weights(self.model)],
                "frozen": [p.is_frozen() for p in pruned_weights(self.model)],
                "updates": [p.update_count() for p in pruned_weights(self.model)],
            })

    return Recorder()


def test_spectral_rule_freezes_and_rolls_back_to_the_last_passing_mask(flavour):
    x, y = data()
    model = model_for(flavour, frequency=2, rate=0.5)
    constraint = RamanujanConstraint(guard=None, verbose=0)
    model.fit(x, y, batch_size=BATCH, epochs=4, verbose=0,
              callbacks=[UpdatePruningStep(), constraint])
    assert constraint.frozen_layers == {"rnn": ["W_xh", "W_hh"]}
    for entry in pruned_weights(model):
        assert entry.is_frozen()
        np.testing.assert_array_equal(entry.mask_array(), entry.good_mask_array())
        assert np.all(entry.weight_array()[~entry.mask_array()] == 0)
    froze = [row for row in constraint.history if row["frozen"]]
    assert froze and all(row["stopped_by"] == "spectral" for row in froze)
    rows = constraint.results()
    assert [row["role"] for row in rows] == ["W_xh", "W_hh"]
    assert all(row["frozen"] and row["frozen_sparsity"] < row["failed_sparsity"] for row in rows)
    assert "frozen at step" in constraint.summary(print_fn=None)


def test_the_guard_rolls_back_masks_and_weights_bit_for_bit_and_freezes(flavour):
    """A guard that every try fails (val_loss may not rise above 0): the first try is rolled
    back to the state before the fit, weights included, and frozen (max_retries=0)."""
    x, y = data()
    model = model_for(flavour, frequency=4)
    constraint = RamanujanConstraint(monitor="val_loss", baseline=0.0, max_drop=0.0,
                                     max_retries=0, patience=0, spectral="report", verbose=0)
    spy = recorder(flavour)
    model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, validation_data=(x, y),
              callbacks=[UpdatePruningStep(), constraint, spy])
    first = spy.epochs[0]  # the update at step 4 was judged at the end of epoch 1
    for value, start in zip(first["weights"], spy.start, strict=True):
        np.testing.assert_array_equal(value, start)
    assert all(mask.all() for mask in first["masks"]) and all(first["frozen"])
    last = spy.epochs[-1]
    assert all(mask.all() for mask in last["masks"]) and last["updates"] == first["updates"]
    tries = [row for row in constraint.history if row["stopped_by"] == "guard"]
    assert [row["action"] for row in tries] == ["frozen", "frozen"]
    assert constraint.frozen_layers == {"rnn": ["W_xh", "W_hh"]}


def test_a_resumed_fit_never_changes_a_frozen_mask(flavour, tmp_path):
    x, y = data()
    model = model_for(flavour, frequency=2, rate=0.3)
    constraint = RamanujanConstraint(guard=None, verbose=0, roles=("W_hh",))
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0,
              callbacks=[UpdatePruningStep(), constraint])
    pruned_weights(model)[1].mark_frozen(4)
    path = tmp_path / "constrained.keras"
    model.save(path)
    loaded = flavour.load(path)
    frozen = pruned_weights(loaded)[1]
    kept = frozen.mask_array()
    again = RamanujanConstraint(guard=None, verbose=0, roles=("W_hh",))
    loaded.fit(x, y, batch_size=BATCH, epochs=2, verbose=0,
               callbacks=[UpdatePruningStep(), again])
    assert again.frozen_layers == {"rnn": ["W_hh"]}
    assert not [row for row in again.history if row["role"] == "W_hh"]
    np.testing.assert_array_equal(pruned_weights(loaded)[1].mask_array(), kept)
    assert np.all(pruned_weights(loaded)[1].weight_array()[~kept] == 0)
    assert pruned_weights(loaded)[0].update_count() > pruned_weights(model)[0].update_count()
