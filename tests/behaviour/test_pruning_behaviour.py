"""Pruning, for every Keras (see conftest.py): masks honoured bit for bit, the schedule's
steps, freezing, stripping, saving and resuming."""

import numpy as np
import pytest
from flavours import data
from tf_expander_pruning.schedules import GeometricSchedule

from tf_expander_pruning.pruning import (
    UpdatePruningStep,
    prune_rnn,
    pruned_weights,
    strip_pruning,
)

BATCH, FREQUENCY = 16, 3  # 4 steps per epoch; a mask update every 3 steps


def build(keras):
    inputs = keras.Input((6, 4))
    hidden = keras.layers.LSTM(8, return_sequences=True, name="lstm")(inputs)
    hidden = keras.layers.Bidirectional(keras.layers.GRU(4), name="bigru")(hidden)
    outputs = keras.layers.Dense(3, name="head")(hidden)
    return keras.Model(inputs, outputs)


def compiled(flavour, model):
    keras = flavour.keras
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def spy_class(flavour):
    class Spy(flavour.keras.callbacks.Callback):
        """After every batch: each matrix's mask, update count, and weights outside the mask."""

        def __init__(self):
            super().__init__()
            self.rows = []

        def on_train_batch_end(self, batch, logs=None):
            for entry in pruned_weights(self.model):
                mask, weight = entry.mask_array(), entry.weight_array()
                self.rows.append({"name": entry.name, "mask": mask,
                                  "updates": entry.update_count(),
                                  "outside": np.abs(weight[~mask]).max(initial=0.0)})

        def on_epoch_end(self, epoch, logs=None):
            for entry in pruned_weights(self.model):
                mask = entry.mask_array()
                assert np.all(entry.weight_array()[~mask] == 0), (epoch, entry.name)

    return Spy


def test_masks_are_honoured_bit_for_bit_and_follow_the_schedule(flavour):
    x, y = data()
    model = compiled(flavour, prune_rnn(build(flavour.keras),
                                        GeometricSchedule(rate=0.3, frequency=FREQUENCY)))
    names = [p.name for p in pruned_weights(model)]
    assert names == ["lstm/W_xh", "lstm/W_hh", "bigru/forward/W_xh", "bigru/forward/W_hh",
                     "bigru/backward/W_xh", "bigru/backward/W_hh"]
    spy = spy_class(flavour)()
    model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, shuffle=False,
              callbacks=[UpdatePruningStep(), spy])
    per_matrix = {name: [row for row in spy.rows if row["name"] == name] for name in names}
    for name, rows in per_matrix.items():
        # One update at each schedule step (3, 6, 9, 12), counted in the batch it happens.
        assert [row["updates"] for row in rows] == [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4], name
        sparsities = [1 - row["mask"].mean() for row in rows]
        expected = [GeometricSchedule(rate=0.3, frequency=FREQUENCY).sparsity_at(s)
                    for s in (3, 6, 9, 12)]
        got = [sparsities[i] for i in (2, 5, 8, 11)]
        assert got == pytest.approx(expected, abs=0.02), name
        for before, after in zip(rows[:-1], rows[1:], strict=True):  # never regrown
            assert not np.any(after["mask"] & ~before["mask"]), name
        if flavour.zero_after_every_step:
            assert all(row["outside"] == 0.0 for row in rows), name


def test_a_frozen_matrix_keeps_its_mask_while_the_others_prune(flavour):
    x, y = data()
    model = compiled(flavour, prune_rnn(build(flavour.keras), GeometricSchedule(
        rate=0.3, frequency=FREQUENCY), roles=("W_hh",), layers=["lstm"]))
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[UpdatePruningStep()])
    (entry,) = pruned_weights(model)
    entry.schedule.freeze()
    frozen_mask = entry.mask_array()
    assert frozen_mask.mean() < 1.0
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[UpdatePruningStep()])
    (entry,) = pruned_weights(model)
    np.testing.assert_array_equal(entry.mask_array(), frozen_mask)
    assert entry.update_count() == 1
    assert np.all(entry.weight_array()[~frozen_mask] == 0)


def test_strip_pruning_gives_a_plain_model_with_the_sparse_weights(flavour):
    x, y = data()
    model = compiled(flavour, prune_rnn(build(flavour.keras),
                                        GeometricSchedule(rate=0.5, frequency=2)))
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[UpdatePruningStep()])
    plain = strip_pruning(model)
    assert [type(layer).__name__ for layer in plain.layers[1:]] == [
        "LSTM", "Bidirectional", "Dense"]
    kernel = np.asarray(plain.get_layer("lstm").cell.recurrent_kernel.numpy())
    np.testing.assert_array_equal(kernel != 0, pruned_weights(model)[1].mask_array()
                                  & (kernel != 0))
    assert 0.4 < 1 - np.count_nonzero(kernel) / kernel.size < 0.9
    np.testing.assert_allclose(plain.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_save_load_and_resume_keep_masks_flags_and_the_schedule(flavour, tmp_path):
    x, y = data()
    model = compiled(flavour, prune_rnn(build(flavour.keras),
                                        GeometricSchedule(rate=0.3, frequency=FREQUENCY)))
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[UpdatePruningStep()])
    frozen = pruned_weights(model)[1]  # lstm/W_hh
    frozen.mark_frozen(7)
    frozen.schedule.set_target(0.6)
    path = tmp_path / "pruned.keras"
    model.save(path)
    loaded = flavour.load(path)  # no custom_objects
    before = {p.name: p for p in pruned_weights(model)}
    after = {p.name: p for p in pruned_weights(loaded)}
    assert list(after) == list(before)
    for name, entry in after.items():
        np.testing.assert_array_equal(entry.mask_array(), before[name].mask_array())
        np.testing.assert_array_equal(entry.weight_array(), before[name].weight_array())
        assert entry.is_frozen() == before[name].is_frozen()
        assert entry.update_count() == before[name].update_count() == 2
    assert after["lstm/W_hh"].frozen_step_value() == 7
    assert after["lstm/W_hh"].schedule.driven_target == pytest.approx(0.6)
    assert after["lstm/W_xh"].schedule.base_schedule.get_config() == GeometricSchedule(
        rate=0.3, frequency=FREQUENCY).get_config()
    # Resuming: the frozen mask never changes; the others go on pruning from step 8.
    compiled(flavour, loaded)
    loaded.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[UpdatePruningStep()])
    resumed = {p.name: p for p in pruned_weights(loaded)}
    np.testing.assert_array_equal(resumed["lstm/W_hh"].mask_array(),
                                  before["lstm/W_hh"].mask_array())
    assert resumed["lstm/W_hh"].update_count() == 2
    assert resumed["lstm/W_xh"].update_count() == 4  # steps 9 and 12
    assert np.all(resumed["lstm/W_hh"].weight_array()[~before["lstm/W_hh"].mask_array()] == 0)
