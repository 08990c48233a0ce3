"""RamanujanConstraint: freezing, rollback, per-role/per-layer independence, policies, state."""

import copy
import csv
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras

# isort: split
import tensorflow_model_optimization as tfmot
from tf_expander_pruning.datasets import load
from tf_expander_pruning.schedules import GeometricSchedule
from tf_expander_pruning.spectral import analyze

from tf_expander_pruning.constraint import HISTORY_FIELDS, RamanujanConstraint
from tf_expander_pruning.pruning import PruneRecurrent, prune_rnn, pruned_weights

X_ALL, Y_ALL = load("digits", "train")
X, Y = X_ALL[:256], Y_ALL[:256]  # 8 steps per epoch at batch 32
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


class MaskSpy(keras.callbacks.Callback):
    """Copies every pruned mask and weight after every batch (listed before the constraint, so
    it sees a failing mask before the rollback)."""

    def __init__(self):
        super().__init__()
        self.steps, self.masks, self.weights = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        items = pruned_weights(self.model)
        self.steps.append(int(items[0].wrapper.pruning_step.numpy()))
        self.masks.append({p.name: p.mask.numpy().copy() for p in items})
        self.weights.append({p.name: p.weight.numpy().copy() for p in items})

    def series(self, name):
        return [m[name] for m in self.masks]

    def at_step(self, step):
        return self.masks[self.steps.index(step)]


def _fit(model, callbacks, epochs, x=X, y=Y):
    if not model._is_compiled:
        model.compile("adam", LOSS)
    return model.fit(x, y, batch_size=32, epochs=epochs, verbose=0,
                     callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), *callbacks])


def _sparsity(mask):
    return 1.0 - np.count_nonzero(mask) / mask.size


def _lstm_model(units=16, name="lstm"):
    return keras.Sequential([
        keras.Input((8, 8)), keras.layers.LSTM(units, name=name), keras.layers.Dense(10),
    ])


def fail_w_xh_above(limit):
    """Criterion on the report: W_xh of an 8-input layer fails above `limit` sparsity."""

    def criterion(report):
        return not (report.n_left == 8 and report.sparsity > limit)

    return criterion


# ---------------------------------------------------------------- run A: W_xh freezes, W_hh not
@pytest.fixture(scope="module")
def run_a():
    keras.utils.set_random_seed(0)
    model = prune_rnn(_lstm_model(), GeometricSchedule(rate=0.25, frequency=2, max_sparsity=0.9))
    spy = MaskSpy()
    constraint = RamanujanConstraint(criterion=fail_w_xh_above(0.5), verbose=1, per_gate=False)
    _fit(model, [spy, constraint], epochs=5)  # 40 steps, 20 mask updates
    return model, spy, constraint


def test_frozen_mask_is_bit_identical_and_rollback_restores_last_passing_mask(run_a):
    model, spy, constraint = run_a
    name = "lstm/W_xh"
    records = [r for r in constraint.history if r["role"] == "W_xh"]
    passing = [r for r in records if r["passed"]]
    failing = [r for r in records if r["passed"] is False]
    assert len(passing) >= 2 and len(failing) == 1 and failing[0]["frozen"]
    assert failing[0]["sparsity"] > 0.5 >= passing[-1]["sparsity"]
    fail_step, pass_step = failing[0]["step"], passing[-1]["step"]
    last_passing = spy.at_step(pass_step)[name]
    failed_mask = spy.at_step(fail_step)[name]
    assert not np.array_equal(failed_mask, last_passing)
    final = pruned_weights(model)[0].mask.numpy()
    np.testing.assert_array_equal(final, last_passing)
    # After the freeze the mask never changes again (many more steps, many W_hh updates).
    after = spy.series(name)[spy.steps.index(fail_step) + 1:]
    assert len(after) >= 20
    for mask in after:
        np.testing.assert_array_equal(mask, last_passing)
    # The weights the restored mask removes are zero.
    kernel = pruned_weights(model)[0].weight.numpy()
    assert np.all(kernel[final == 0] == 0)
    assert np.count_nonzero(kernel[final == 1]) > 0.9 * final.sum()
    item = pruned_weights(model)[0]
    assert bool(item.frozen.numpy()) and int(item.frozen_step.numpy()) == fail_step
    np.testing.assert_array_equal(item.good_mask.numpy(), last_passing)


def test_frozen_w_xh_while_w_hh_keeps_pruning_to_final_sparsity(run_a):
    model, spy, constraint = run_a
    fail_step = next(r["step"] for r in constraint.history if r["frozen"])
    start = spy.steps.index(fail_step) + 1
    hh = [_sparsity(m) for m in spy.series("lstm/W_hh")[start:]]
    assert hh[-1] > hh[0] + 0.2  # kept getting sparser after W_xh froze
    assert all(b >= a for a, b in zip(hh, hh[1:], strict=False))
    w_hh = pruned_weights(model)[1]
    assert not bool(w_hh.frozen.numpy())
    assert int(w_hh.mask.numpy().sum()) == round(w_hh.mask.numpy().size * (1 - 0.9))
    assert constraint.frozen_layers == {"lstm": ["W_xh"]}


def test_history_csv_summary_log_line_and_results(run_a, tmp_path):
    model, spy, constraint = run_a
    assert all(tuple(r) == HISTORY_FIELDS for r in constraint.history)
    steps = sorted({r["step"] for r in constraint.history})
    assert steps == sorted(set(steps)) and steps[0] == 2
    # each record's numbers are those of analyze() on the mask the spy saw at that step
    for record in constraint.history[:6]:
        mask = spy.at_step(record["step"])[f"lstm/{record['role']}"]
        report = analyze(mask)
        assert record["sparsity"] == pytest.approx(_sparsity(mask))
        assert record["delta_r"] == pytest.approx(report.delta_r)
        assert record["mu_hat"] == pytest.approx(report.mu_hat)
        assert record["components"] == report.components
    path = constraint.to_csv(tmp_path / "history.csv")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == HISTORY_FIELDS and len(rows) == len(constraint.history)
    assert float(rows[0]["delta_r"]) == pytest.approx(constraint.history[0]["delta_r"])
    (line,) = constraint.messages
    failed = next(r for r in constraint.history if r["frozen"])
    assert line.startswith("lstm: W_xh failed the criterion criterion at sparsity ")
    assert f"at sparsity {failed['sparsity']:.2f} " in line
    kept = _sparsity(pruned_weights(model)[0].mask.numpy())
    assert line.endswith(f"; frozen at {kept:.2f}")
    text = constraint.summary()
    assert "lstm" in text and "W_xh" in text and f"frozen at step {failed['step']}" in text
    results = {r["role"]: r for r in constraint.results()}
    assert results["W_xh"]["frozen"] and results["W_xh"]["frozen_step"] == failed["step"]
    assert results["W_xh"]["failed_sparsity"] == pytest.approx(failed["sparsity"])
    assert results["W_xh"]["frozen_sparsity"] == pytest.approx(kept)
    assert not results["W_hh"]["frozen"] and results["W_hh"]["sparsity"] == pytest.approx(
        0.9, abs=1e-3)


@pytest.mark.slow
def test_save_load_and_resume_keeps_frozen_state(run_a, tmp_path):
    model, _, _ = run_a
    path = str(tmp_path / "pruned.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    frozen_mask = pruned_weights(loaded)[0].mask.numpy().copy()
    constraint = RamanujanConstraint(criterion=fail_w_xh_above(0.5), verbose=0, per_gate=False)
    constraint.set_model(loaded)
    assert constraint.frozen_layers == {"lstm": ["W_xh"]}  # read from the loaded variables
    _fit(loaded, [constraint], epochs=2)
    np.testing.assert_array_equal(pruned_weights(loaded)[0].mask.numpy(), frozen_mask)
    assert all(r["role"] == "W_hh" for r in constraint.history)
    assert constraint.frozen_layers == {"lstm": ["W_xh"]}


# ---------------------------------------------------------------- independence of layers
@pytest.mark.slow
def test_two_layers_freeze_independently_and_a_passing_layer_reaches_final_sparsity():
    """Real Ramanujan criterion: a layer whose bound holds at the schedule's cap reaches it;
    another layer, pruned further, freezes on its own with a genuinely failing mask."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8))
    hidden = PruneRecurrent(
        keras.layers.LSTM(32, return_sequences=True, name="wide"),
        GeometricSchedule(rate=0.2, frequency=2, max_sparsity=0.5),
    )(inputs)
    hidden = PruneRecurrent(
        keras.layers.LSTM(8, name="narrow"),
        GeometricSchedule(rate=0.3, frequency=2, max_sparsity=0.97),
    )(hidden)
    model = keras.Model(inputs, keras.layers.Dense(10)(hidden))
    spy = MaskSpy()
    constraint = RamanujanConstraint(verbose=0, per_gate=False)
    _fit(model, [spy, constraint], epochs=4)
    wide = [p for p in pruned_weights(model) if p.layer == "wide"]
    narrow = [p for p in pruned_weights(model) if p.layer == "narrow"]
    for item in wide:
        assert not bool(item.frozen.numpy())
        mask = item.mask.numpy()
        assert int(mask.sum()) == round(mask.size * 0.5)
        assert analyze(mask).is_ramanujan
    wide_records = [r for r in constraint.history if r["layer"] == "wide"]
    assert wide_records and all(r["passed"] and r["delta_r"] >= 0 for r in wide_records)
    assert all(bool(item.frozen.numpy()) for item in narrow)
    for item in narrow:
        records = [
            r for r in constraint.history if r["layer"] == "narrow" and r["role"] == item.role
        ]
        failure = records[-1]
        assert failure["frozen"] and not failure["passed"]
        assert failure["delta_r"] is None or failure["delta_r"] < 0
        assert all(r["passed"] for r in records[:-1])
        final = item.mask.numpy()
        np.testing.assert_array_equal(final, spy.at_step(records[-2]["step"])[item.name])
        assert analyze(final).is_ramanujan
    assert set(constraint.frozen_layers) == {"narrow"}
    pattern = (r"narrow: W_(xh|hh) lost the Ramanujan property at sparsity 0\.\d\d "
               r"\(Delta_r(=-\d+\.\d\d| undefined: .+)\); frozen at 0\.\d\d")
    assert len(constraint.messages) == 2
    assert all(re.fullmatch(pattern, line) for line in constraint.messages), constraint.messages


# ---------------------------------------------------------------- undefined policies
def _tiny_rnn():
    # SimpleRNN(2): W_xh is 8x2 and W_hh 2x2, so the left average degree is at most 2 < 3:
    # the Ramanujan bound is undefined at every check.
    return keras.Sequential([
        keras.Input((8, 8)), keras.layers.SimpleRNN(2, name="rnn"), keras.layers.Dense(10),
    ])


@pytest.mark.parametrize("policy", ["fail", "pass", "skip", "ignore"])
def test_average_degree_below_three_follows_undefined_policy(policy, tmp_path):
    keras.utils.set_random_seed(0)
    model = prune_rnn(_tiny_rnn(), GeometricSchedule(rate=0.3, frequency=2, max_sparsity=0.6),
                      roles=("W_xh",))
    constraint = RamanujanConstraint(
        undefined=policy, per_gate=False, verbose=0, stop_training_when_all_frozen=True,
        log_dir=str(tmp_path / "tb") if policy == "pass" else None,
    )
    history = _fit(model, [constraint], epochs=3)
    item = pruned_weights(model)[0]
    mask = item.mask.numpy()
    assert all(r["bound"] is None and r["delta_r"] is None for r in constraint.history)
    if policy == "fail":
        (record,) = constraint.history  # the first check froze it ...
        assert record["passed"] is False and record["frozen"]
        np.testing.assert_array_equal(mask, np.ones_like(mask))  # ... back to the dense mask
        assert "Delta_r undefined" in constraint.messages[0]
        assert len(history.history["loss"]) == 1  # stop_training_when_all_frozen
    else:
        assert not bool(item.frozen.numpy()) and len(history.history["loss"]) == 3
        assert int(mask.sum()) == round(mask.size * 0.4)  # schedule's final sparsity
        expected = True if policy == "pass" else None
        assert [r["passed"] for r in constraint.history] == [expected] * len(constraint.history)
        # "pass" moves the rollback point, "skip" does not.
        good = item.good_mask.numpy()
        np.testing.assert_array_equal(good, mask if policy == "pass" else np.ones_like(mask))
    if policy == "pass":
        from tensorflow.python.summary.summary_iterator import summary_iterator

        tags = set()
        for root, _, files in os.walk(tmp_path / "tb"):
            for file in files:
                for event in summary_iterator(os.path.join(root, file)):
                    tags.update(value.tag for value in event.summary.value)
        assert {"rnn/W_xh/sparsity", "rnn/W_xh/delta_s", "rnn/W_xh/passed"} <= tags


# ---------------------------------------------------------------- per gate
@pytest.mark.slow
def test_per_gate_fails_when_any_gate_fails():
    keras.utils.set_random_seed(0)
    model = prune_rnn(_lstm_model(8), GeometricSchedule(rate=0.1, frequency=2, max_sparsity=0.9),
                      roles=("W_xh",))
    spy = MaskSpy()
    limit = 0.45
    constraint = RamanujanConstraint(
        criterion=lambda report: report.sparsity <= limit, per_gate=True, verbose=0
    )
    _fit(model, [spy, constraint], epochs=3)
    by_step = {}
    for record in constraint.history:
        by_step.setdefault(record["step"], []).append(record)
    for step, records in by_step.items():
        assert [r["gate"] for r in records] == ["i", "f", "c", "o"]
        mask = spy.at_step(step)["lstm/W_xh"]
        for k, record in enumerate(records):
            assert record["sparsity"] == pytest.approx(_sparsity(mask[:, 8 * k:8 * (k + 1)]))
    *passing, failing = by_step.values()
    assert all(r["passed"] for records in passing for r in records)
    gate_sparsity = [r["sparsity"] for r in failing]
    assert max(gate_sparsity) > limit and all(r["frozen"] for r in failing)
    whole = spy.at_step(failing[0]["step"])["lstm/W_xh"]
    assert _sparsity(whole) < max(gate_sparsity)  # the gate failed before the whole matrix
    (line,) = constraint.messages
    failed_gates = [r["gate"] for r in failing if r["passed"] is False]
    assert line.split(" failed ")[0] in {f"lstm: W_xh gate {gate}" for gate in failed_gates}
    # results()/summary() report the worst gate of the final mask, the granularity checked
    (row,) = constraint.results()
    final = pruned_weights(model)[0].mask.numpy() != 0
    gate_reports = {g: analyze(final[:, 8 * k:8 * (k + 1)]) for k, g in enumerate("ifco")}
    defined = {g: r.delta_r for g, r in gate_reports.items() if r.delta_r is not None}
    if len(defined) == 4:
        assert row["gate"] == min(defined, key=defined.get)
        assert row["delta_r"] == pytest.approx(min(defined.values()))
        assert row["is_ramanujan"] == all(r.is_ramanujan for r in gate_reports.values())
    else:
        assert row["delta_r"] is None and row["is_ramanujan"] is None
    assert "Delta_r (worst gate)" in constraint.summary()


# ---------------------------------------------------------------- errors and plumbing
def test_constructor_errors():
    with pytest.raises(ValueError, match="Unknown criterion"):
        RamanujanConstraint(criterion="expander")
    with pytest.raises(ValueError, match="Unknown undefined"):
        RamanujanConstraint(undefined="maybe")
    with pytest.raises(ValueError, match="Unknown weight role"):
        RamanujanConstraint(roles=("W_hx",))


def test_model_without_pruned_recurrent_layer_is_rejected():
    model = _lstm_model(4)
    model.compile("adam", LOSS)
    with pytest.raises(ValueError, match="no pruned recurrent layer.*prune_rnn"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[RamanujanConstraint()])
    tfmot_model = tfmot.sparsity.keras.prune_low_magnitude(_lstm_model(4))
    tfmot_model.compile("adam", LOSS)
    with pytest.raises(ValueError, match="prune_low_magnitude.*prune_rnn"):
        tfmot_model.fit(X, Y, epochs=1, verbose=0, callbacks=[
            tfmot.sparsity.keras.UpdatePruningStep(), RamanujanConstraint()])


def test_unbuilt_model_is_reported():
    model = prune_rnn(keras.Sequential([keras.layers.LSTM(4), keras.layers.Dense(10)]),
                      GeometricSchedule(frequency=2))
    model.compile("adam", LOSS)
    with pytest.raises(ValueError, match="not built"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[RamanujanConstraint()])


def test_missing_update_pruning_step_is_reported():
    model = prune_rnn(_lstm_model(4), GeometricSchedule(frequency=2))
    model.compile("adam", LOSS)
    with pytest.raises(ValueError, match="UpdatePruningStep"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[RamanujanConstraint()])


def test_deepcopy_keeps_settings_and_history():
    constraint = RamanujanConstraint(criterion="spectral_gap", margin=0.1, per_gate=True,
                                     undefined="ignore", roles=["W_hh"], verbose=0)
    constraint.history.append(dict.fromkeys(HISTORY_FIELDS))
    clone = copy.deepcopy(constraint)
    assert clone is not constraint and clone.get_config() == constraint.get_config()
    assert clone.undefined == "skip" and clone.history == constraint.history
    assert clone.history is not constraint.history
    model = prune_rnn(_tiny_rnn(), GeometricSchedule(frequency=2))
    constraint.set_model(model)
    assert copy.deepcopy(constraint).model is None


# ---------------------------------------------------------------- resume and distribution
class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated preemption")


@pytest.mark.slow
def test_backup_and_restore_resume_never_prunes_a_frozen_weight_further(tmp_path):
    backup = str(tmp_path / "backup")

    def build():
        keras.utils.set_random_seed(0)
        return prune_rnn(_lstm_model(16),
                         GeometricSchedule(rate=0.25, frequency=2, max_sparsity=0.9))

    model = build()
    first = RamanujanConstraint(criterion=fail_w_xh_above(0.4), verbose=0, per_gate=False)
    with pytest.raises(RuntimeError, match="preemption"):
        _fit(model, [first, keras.callbacks.BackupAndRestore(backup), _Interrupt(1)], epochs=6)
    assert first.frozen_layers == {"lstm": ["W_xh"]}
    frozen_mask = pruned_weights(model)[0].mask.numpy().copy()
    hh_before = pruned_weights(model)[1].mask.numpy().sum()

    resumed = build()  # fresh process state: everything comes from the backup
    assert not bool(pruned_weights(resumed)[0].frozen.numpy())
    spy = MaskSpy()
    second = RamanujanConstraint(criterion=fail_w_xh_above(0.4), verbose=0, per_gate=False)
    history = _fit(resumed, [keras.callbacks.BackupAndRestore(backup), spy, second], epochs=6)
    assert len(history.history["loss"]) == 4  # resumed after the 2 finished epochs
    assert bool(pruned_weights(resumed)[0].frozen.numpy())
    for mask in spy.series("lstm/W_xh"):
        np.testing.assert_array_equal(mask, frozen_mask)
    assert all(r["role"] == "W_hh" for r in second.history)
    assert pruned_weights(resumed)[1].mask.numpy().sum() < hh_before


_MIRRORED = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tf_expander_pruning.keras_compat import keras
    import tensorflow_model_optimization as tfmot
    from tf_expander_pruning import constraint as c, pruning as p, schedules as s
    from tf_expander_pruning.datasets import load

    x, y = load("digits", "train")
    x, y = x[:256], y[:256]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    keras.utils.set_random_seed(0)
    with strategy.scope():
        dense = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(16, name="lstm"),
                                  keras.layers.Dense(10)])
        model = p.prune_rnn(dense, s.GeometricSchedule(rate=0.25, frequency=2,
                                                      max_sparsity=0.9))
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    crit = lambda r: not (r.n_left == 8 and r.sparsity > 0.4)
    constraint = c.RamanujanConstraint(criterion=crit, verbose=0, per_gate=False)
    model.fit(x, y, batch_size=32, epochs=4, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), constraint])
    out = {"replicas": strategy.num_replicas_in_sync, "frozen": constraint.frozen_layers,
           "equal": [], "sparsity": [], "good": []}
    for item in p.pruned_weights(model):
        values = [v.numpy() for v in item.mask.values]
        weights = [v.numpy() for v in item.weight.values]
        out["equal"].append(all(np.array_equal(values[0], v) for v in values)
                            and all(np.array_equal(weights[0], w) for w in weights))
        out["sparsity"].append(float(1 - values[0].mean()))
        out["good"].append(bool(np.array_equal(item.good_mask.values[1].numpy(), values[0])))
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
def test_mirrored_strategy_two_logical_cpus_keeps_replicas_equal():
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", CUDA_VISIBLE_DEVICES="-1")
    done = subprocess.run([sys.executable, "-c", _MIRRORED], capture_output=True, text=True,
                          env=env, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT"):])
    assert result["replicas"] == 2
    assert result["frozen"] == {"lstm": ["W_xh"]}
    assert all(result["equal"]), result
    assert result["sparsity"][0] <= 0.4 < result["sparsity"][1]
    assert result["good"][0]  # the rolled-back mask is the saved good mask on every replica
