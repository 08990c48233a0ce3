"""Issue 22: the knee search finds each matrix's largest tolerable sparsity within one fit.

The controller is tested in pure Python against a synthetic oracle (accuracy falls past a known
sparsity), then in real training with the oracle injected as a logged metric: a failed try
rolls masks and weights back bit for bit, a frozen matrix never changes, and the stop ends
within ``min_step`` below the oracle's knee, never above it.
"""

import numpy as np
import pytest
import tensorflow_model_optimization as tfmot

from tf_expander_pruning import GeometricSchedule, RamanujanConstraint, keras, prune_rnn
from tf_expander_pruning.constraint.decisions import KneeSearch
from tf_expander_pruning.pruning import pruned_weights


def search_against_oracle(knee, rate=0.2, min_step=0.02, max_retries=20, updates=60):
    """Drive one matrix as the callback does: follow the geometric schedule until the first
    failure, then the search's targets; the oracle passes iff sparsity <= knee."""
    search = KneeSearch(1, min_step=min_step, max_retries=max_retries, patience=0)
    search.start(0, 0.0)
    scheduled, tried = 0.0, []
    for _ in range(updates):
        scheduled = 1.0 - (1.0 - scheduled) * (1.0 - rate)
        target = search.target(0)
        sparsity = scheduled if target is None else target
        tried.append(sparsity)
        done = search.accept(0, sparsity) if sparsity <= knee else search.reject(0, sparsity)
        if done:
            break
    return search.states[0], tried


@pytest.mark.parametrize("knee", [0.05, 0.31, 0.5, 0.62, 0.777, 0.9, 0.955])
@pytest.mark.parametrize("rate", [0.1, 0.2, 0.3, 0.5])
def test_search_ends_within_its_floor_below_the_knee_and_never_above(knee, rate):
    state, tried = search_against_oracle(knee, rate=rate)
    assert state.done
    assert knee - 0.02 <= state.safe <= knee
    assert state.failed_at is not None and state.failed_at > knee
    assert len(tried) <= 40  # bisection: a handful of tries after the first failure


def test_zero_retries_is_the_first_failure_stop():
    state, tried = search_against_oracle(0.5, rate=0.2, max_retries=0)
    assert state.done and state.failures == 1
    assert state.safe == pytest.approx(1 - 0.8**3)  # 0.488 passed, 0.590 failed: frozen there
    assert tried[-1] == pytest.approx(1 - 0.8**4)


def test_a_pass_above_an_earlier_failure_reopens_the_search():
    search = KneeSearch(1, min_step=0.02)
    search.start(0, 0.2)
    assert not search.reject(0, 0.5)
    assert search.target(0) == pytest.approx(0.35)
    assert not search.accept(0, 0.55)  # noise made 0.5 fail: the bracket is dropped
    # and the search goes on upwards in half the step that failed: (0.5 - 0.2) / 2
    assert search.states[0].failed_at is None and search.target(0) == pytest.approx(0.70)


def test_the_failing_end_is_rechecked_once_before_the_matrix_freezes():
    search = KneeSearch(1, min_step=0.02)
    search.start(0, 0.40)
    assert not search.reject(0, 0.43)
    assert search.target(0) == pytest.approx(0.415)
    assert not search.accept(0, 0.415)  # the bracket is closed ...
    assert search.target(0) == pytest.approx(0.43)  # ... so 0.43 is tried once more
    assert search.reject(0, 0.43)  # failed again: frozen at 0.415
    assert search.states[0].safe == pytest.approx(0.415)


# ---------------------------------------------------------------- in training, with an oracle
STEPS, UNITS = 8, 16
KNEE = 0.63


class Oracle(keras.callbacks.Callback):
    """Before the constraint: logs ``val_oracle`` = 1 while every matrix is at or below KNEE."""

    def on_epoch_end(self, epoch, logs=None):
        worst = max(1.0 - float(p.mask.numpy().mean()) for p in pruned_weights(self.model))
        logs["val_oracle"] = 1.0 if worst <= KNEE else 0.0


class Spy(keras.callbacks.Callback):
    """After the constraint: masks, weights and frozen flags at every epoch end."""

    def __init__(self):
        super().__init__()
        self.states = []

    def on_epoch_end(self, epoch, logs=None):
        self.states.append([(p.mask.numpy().copy(), p.weight.numpy().copy(),
                             bool(p.frozen.numpy())) for p in pruned_weights(self.model)])


@pytest.fixture(scope="module")
def oracle_run():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32 * STEPS, 6, 4)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("int64")
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input((6, 4)), keras.layers.LSTM(UNITS, name="lstm"),
                              keras.layers.Dense(2)])
    schedule = GeometricSchedule(rate=0.3, frequency=2 * STEPS, begin_step=STEPS + 1,
                                 end_step=40 * STEPS)
    model = prune_rnn(dense, schedule)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    constraint = RamanujanConstraint(monitor="val_oracle", max_drop=0.5, verbose=0,
                                     criterion=lambda report: True, min_step=0.02)
    spy = Spy()
    model.fit(x, y, epochs=42, batch_size=32, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), Oracle(), constraint, spy])
    return constraint, spy, model


def test_training_stop_is_within_min_step_below_the_oracle_knee(oracle_run):
    constraint, _, model = oracle_run
    for row in constraint.results():
        assert row["frozen"] and row["stopped_by"] == "guard"
        assert KNEE - 0.02 - 1e-3 <= row["sparsity"] <= KNEE, row
    actions = [r["action"] for r in constraint.history if r["stopped_by"] == "guard"]
    assert "retry" in actions and "wait" in actions and actions[-1] == "frozen"
    for entry in pruned_weights(model):  # weights obey the frozen mask exactly
        assert np.all(entry.weight.numpy()[entry.mask.numpy() == 0] == 0)


def test_a_failed_try_rolls_masks_and_weights_back_bit_for_bit(oracle_run):
    constraint, spy, _ = oracle_run
    tries = [r for r in constraint.history if r["stopped_by"] == "guard"]
    epochs = sorted({r["epoch"] for r in tries})
    checked = 0
    for epoch in epochs:
        mine = [r for r in tries if r["epoch"] == epoch]
        if mine[0]["action"] != "retry":
            continue
        # the state after the retry's rollback equals the last accepted state, bit for bit
        accepted = [e for e in epochs if e < epoch and any(
            r["epoch"] == e and r["action"] == "accepted" for r in tries)]
        assert accepted, "the oracle passes the first tries"
        for (mask, weight, _), (safe_mask, safe_weight, _) in zip(
                spy.states[epoch], spy.states[accepted[-1]], strict=True):
            np.testing.assert_array_equal(mask, safe_mask)
            np.testing.assert_array_equal(weight, safe_weight)
        checked += 1
    assert checked >= 1


def test_a_frozen_matrix_never_changes(oracle_run):
    _, spy, _ = oracle_run
    for index in range(len(spy.states[0])):
        frozen_at = next(e for e, state in enumerate(spy.states) if state[index][2])
        first = spy.states[frozen_at][index][0]
        for state in spy.states[frozen_at:]:
            assert state[index][2]
            np.testing.assert_array_equal(state[index][0], first)


def test_max_drop_of_two_for_accuracy_is_a_percent_typo():
    with pytest.raises(ValueError, match="max_drop=0.02"):
        RamanujanConstraint(max_drop=2)
    assert RamanujanConstraint(monitor="val_loss", max_drop=2).max_drop == 2.0


def test_new_arguments_are_checked_and_round_trip():
    constraint = RamanujanConstraint(min_step=0.05, max_retries=2, patience=0)
    config = constraint.get_config()
    assert (config["min_step"], config["max_retries"], config["patience"]) == (0.05, 2, 0)
    assert RamanujanConstraint(**config).get_config() == config
    for bad in ({"min_step": 0.0}, {"min_step": 1.5}, {"max_retries": -1}, {"patience": 3}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            RamanujanConstraint(**bad)
    with pytest.raises(TypeError, match="max_retries"):
        RamanujanConstraint(max_retries=1.5)


# ---------------------------------------------------------------- set-up and reporting
def _small_fit(x, y, epochs=3, **constraint_args):
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.GRU(8, name="gru"),
                              keras.layers.Dense(4)])
    model = prune_rnn(dense, GeometricSchedule(rate=0.3, frequency=4, begin_step=5))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    constraint = RamanujanConstraint(verbose=0, **constraint_args)
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, validation_split=0.25,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), constraint])
    return constraint


def _four_classes(n=64, sort=False):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, n)
    if sort:
        y = np.sort(y)
    x = rng.normal(size=(n, 5, 6)).astype("float32") + y[:, None, None]
    return x, y


def test_validation_split_of_data_stored_by_class_warns():
    x, y = _four_classes(sort=True)
    with pytest.warns(UserWarning, match="does not shuffle before splitting"):
        _small_fit(x, y, epochs=1)


def test_validation_split_of_shuffled_data_does_not_warn(recwarn):
    x, y = _four_classes(sort=False)
    _small_fit(x, y, epochs=1)
    assert not [w for w in recwarn if "shuffle" in str(w.message)]


@pytest.mark.parametrize("spectral, frozen_by_spectral", [("auto", False), ("stop", True)])
def test_with_the_guard_the_spectral_verdict_is_recorded_not_obeyed(spectral,
                                                                     frozen_by_spectral):
    x, y = _four_classes()
    # margin=100: every graph fails the spectral test
    constraint = _small_fit(x, y, margin=100.0, spectral=spectral, max_drop=0.5)
    spectral_rows = [r for r in constraint.history if r["stopped_by"] != "guard"]
    assert spectral_rows and not any(r["passed"] for r in spectral_rows)
    stopped = {r["stopped_by"] for r in constraint.results() if r["frozen"]}
    assert ("spectral" in stopped) is frozen_by_spectral


def test_spectral_report_needs_the_guard():
    with pytest.raises(ValueError, match="nothing would ever stop pruning"):
        RamanujanConstraint(guard=None, spectral="report")
    with pytest.raises(ValueError, match="spectral"):
        RamanujanConstraint(spectral="maybe")
    assert RamanujanConstraint(guard=None).spectral_stops
    assert not RamanujanConstraint().spectral_stops


def test_summary_prints_like_model_summary(capsys):
    x, y = _four_classes()
    constraint = _small_fit(x, y, epochs=2)
    text = constraint.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    assert "Tries" in text and "W_hh" in text
    constraint.summary(print_fn=None)
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="print_fn"):
        constraint.summary(print_fn=3)


@pytest.mark.slow
def test_digits_default_stop_prunes_past_70_percent_within_one_point():
    """Issue 22: ``make demo``'s job (LSTM(64) on digits, the default RamanujanConstraint) ends
    at >= 70 % layer sparsity within 1 point of the dense test accuracy."""
    from tf_expander_pruning import datasets, demo, strip_pruning
    from tf_expander_pruning.research.classifier import accuracy

    x, y = datasets.load("digits", "train")
    x_test, y_test = datasets.load("digits", "test")
    dense = demo.train_dense(x, y, units=64, epochs=40, progress=False)
    dense_accuracy = accuracy(dense, x_test, y_test)
    pruned, constraint = demo.prune_while_ramanujan(dense, x, y, epochs=40, progress=False)
    masks = [entry.mask.numpy() for entry in pruned_weights(pruned)]
    layer_sparsity = sum(float((m == 0).sum()) for m in masks) / sum(m.size for m in masks)
    final = accuracy(strip_pruning(pruned), x_test, y_test)
    assert layer_sparsity >= 0.70, constraint.messages
    assert final >= dense_accuracy - 0.01, (final, dense_accuracy)
    # the search really searched: every matrix had tries, and some were rolled back
    assert all(row["tries"] > 3 for row in constraint.results())


def test_paired_standard_error_counts_flipped_rows():
    """noise_margin's noise: sqrt(rows whose verdict flipped) / n, against the reference."""
    from tf_expander_pruning.constraint.paired import PairedAccuracy, is_accuracy_key

    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])

    class Fixed:
        def __init__(self, predicted):
            self.scores = np.eye(3)[predicted]

        def predict(self, x, batch_size=None, verbose=0):
            return self.scores

    paired = PairedAccuracy.from_validation({"x": np.zeros((8, 2, 1)), "y": labels})
    assert paired.start(Fixed(labels))  # the reference gets every row right
    flipped = labels.copy()
    flipped[[1, 4, 6]] = (labels[[1, 4, 6]] + 1) % 3
    assert paired.standard_error(Fixed(flipped)) == pytest.approx(np.sqrt(3) / 8)
    assert paired.standard_error(Fixed(labels)) == 0.0
    assert is_accuracy_key("val_accuracy") and not is_accuracy_key("val_loss")
    # sample weights or a one-output model: no paired noise (the guard reads the logs alone)
    assert PairedAccuracy.from_validation({"x": 0, "y": labels, "sample_weight": labels}) is None
    one_output = PairedAccuracy(np.zeros((8, 1)), labels)
    one_output.predict = None
    assert not one_output.start(type("M", (), {"predict": lambda *a, **k: np.zeros((8, 1))})())


def test_noise_margin_records_the_paired_noise_of_each_try():
    x, y = _four_classes()
    constraint = _small_fit(x, y, epochs=3, noise_margin=1.0, max_drop=0.5)
    tries = [r for r in constraint.history if r["stopped_by"] == "guard"]
    assert tries and all(r["noise"] is not None and 0 <= r["noise"] <= 1 for r in tries)
    assert constraint.get_config()["noise_margin"] == 1.0


def test_the_loss_test_fails_a_try_whose_accuracy_held():
    """max_loss_rise: a try fails when the validation loss rose more than that fraction above
    its value where pruning started, whatever the accuracy did."""
    from tf_expander_pruning.constraint.decisions import ValidationGuard

    guard = ValidationGuard("val_accuracy", 0.02, max_loss_rise=1.0)
    guard.start_loss = 0.1
    assert guard.loss_ok(0.2) and not guard.loss_ok(0.2001) and not guard.loss_ok(float("nan"))
    assert ValidationGuard("val_accuracy", 0.02).loss_ok(5.0)  # off
    x, y = _four_classes()
    logged = {}

    class Losses(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logged[epoch] = logs["val_loss"]

    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.GRU(8), keras.layers.Dense(4)])
    model = prune_rnn(dense, GeometricSchedule(rate=0.5, frequency=4, begin_step=5))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    strict = RamanujanConstraint(verbose=0, max_drop=0.9, max_loss_rise=0.05, patience=0)
    model.fit(x, y, epochs=6, batch_size=16, verbose=0, validation_split=0.25,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), strict, Losses()])
    start = strict._guard.start_loss
    tries = [r for r in strict.history if r["stopped_by"] == "guard" and r["role"] == "W_hh"]
    assert tries and start is not None
    for r in tries:  # the accuracy held (max_drop=0.9): the loss alone decided
        assert r["passed"] == (logged[r["epoch"]] <= start * 1.05), (r, logged, start)
    assert any(not r["passed"] for r in tries)  # the loss test did fail a try
    with pytest.raises(ValueError, match="max_loss_rise"):
        RamanujanConstraint(max_loss_rise=0.0)
    assert RamanujanConstraint().get_config()["max_loss_rise"] == 1.0
