"""TensorBoard: TF-MOT's PruningSummaries and RamanujanConstraint scalars under one log dir."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import tensorflow_model_optimization as tfmot  # noqa: E402
from tf_expander_pruning.keras_compat import keras, tf
from tf_expander_pruning.schedules import GeometricSchedule

from tf_expander_pruning import datasets
from tf_expander_pruning.constraint import RamanujanConstraint
from tf_expander_pruning.pruning import prune_rnn


def read_scalars(root: Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """``{run: {tag: [(step, value), ...]}}`` from every event file under ``root``.

    Reads the TFRecord files directly (what TensorBoard reads); only scalar summaries are kept
    (Keras also writes the model config as a text summary).
    """
    runs: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(root.rglob("events.out.tfevents.*")):
        run = path.parent.relative_to(root).as_posix()
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    runs[run][value.tag].append((event.step, float(value.simple_value)))
                elif value.metadata.plugin_data.plugin_name == "scalars":
                    number = tf.make_ndarray(value.tensor)
                    runs[run][value.tag].append((event.step, float(number)))
    return runs


@pytest.mark.slow
def test_pruning_summaries_and_constraint_scalars_share_one_log_dir(tmp_path):
    x, y = datasets.load("digits", "train")
    x_val, y_val = datasets.load("digits", "test")
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([
        keras.Input((8, 8)), keras.layers.LSTM(16, name="lstm"), keras.layers.Dense(10),
    ])
    batch_size = 32
    steps_per_epoch = int(np.ceil(len(x) / batch_size))
    model = prune_rnn(dense, GeometricSchedule(rate=0.3, frequency=steps_per_epoch))
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    log_dir = tmp_path / "logs"
    constraint = RamanujanConstraint(per_gate=False, log_dir=str(log_dir / "ramanujan"),
                                     verbose=0)
    epochs = 4
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0,
              validation_data=(x_val, y_val),
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep(),
                         tfmot.sparsity.keras.PruningSummaries(log_dir=str(log_dir)),
                         constraint])

    runs = read_scalars(log_dir)
    assert {"train", "validation", "metrics", "ramanujan"} <= set(runs), sorted(runs)
    assert "epoch_loss" in runs["train"] and "epoch_accuracy" in runs["validation"]

    # TF-MOT: mask sparsity and threshold of each pruned matrix, once per epoch.
    tfmot_sparsity = {}
    for attribute, role in (("kernel", "W_xh"), ("recurrent_kernel", "W_hh")):
        tags = [t for t in runs["metrics"] if re.search(rf"/mask_{attribute}[^/]*/sparsity$", t)]
        assert len(tags) == 1, sorted(runs["metrics"])
        points = sorted(runs["metrics"][tags[0]])
        assert len(points) == epochs
        values = [v for _, v in points]
        assert values[0] == 0.0 and all(0.0 <= v < 1.0 for v in values)
        assert max(values) > 0.2  # pruning really happened
        tfmot_sparsity[role] = dict(points)
        thresholds = [t for t in runs["metrics"] if t.endswith("/threshold")]
        assert len(thresholds) == 2

    # The constraint: Delta_r, Delta_s, sparsity and the verdict per matrix at each check.
    ramanujan = runs["ramanujan"]
    assert constraint.history
    for role in ("W_xh", "W_hh"):
        # spectral checks (guard rollbacks have no spectral values; their scalar is below)
        records = [r for r in constraint.history
                   if r["role"] == role and r["stopped_by"] != "guard"]
        assert records, role
        for key in ("delta_r", "delta_s", "sparsity", "passed"):
            logged = dict(ramanujan[f"lstm/{role}/{key}"])
            for record in records:
                expected = record[key]
                if expected is None:
                    assert record["step"] not in logged  # undefined values are not written
                else:
                    assert logged[record["step"]] == pytest.approx(float(expected), abs=1e-6)
        # Same step axis as TF-MOT: where the check passed, both report the same sparsity.
        # (not at a step where the guard then rolled the mask back: TF-MOT logs after that)
        rolled_back = {r["step"] for r in constraint.history
                       if r["role"] == role and r["stopped_by"] == "guard" and not r["passed"]}
        common = [
            r for r in records
            if r["passed"] and r["step"] in tfmot_sparsity[role] and r["step"] not in rolled_back
        ]
        assert common, (role, [r["step"] for r in records], sorted(tfmot_sparsity[role]))
        for record in common:
            assert tfmot_sparsity[role][record["step"]] == pytest.approx(record["sparsity"],
                                                                         abs=1e-6)
    delta_r = [v for _, v in ramanujan["lstm/W_hh/delta_r"]]
    assert all(-5.0 < v < 20.0 for v in delta_r)
    assert set(v for _, v in ramanujan["lstm/W_hh/passed"]) <= {0.0, 1.0}
    # The guard: its metric at each guard check, equal to Keras's own validation accuracy.
    guard = dict(ramanujan["guard/val_accuracy"])
    assert guard
    keras_val = {e: v for e, v in runs["validation"]["epoch_accuracy"]}
    for step, value in guard.items():
        epoch = step // steps_per_epoch - 1  # the epoch whose end the check closed
        assert value == pytest.approx(keras_val[epoch], abs=1e-6)
    for record in (r for r in constraint.history if r["stopped_by"] == "guard"):
        assert guard[record["step"]] == pytest.approx(record["monitor_value"], abs=1e-6)


@pytest.mark.slow
def test_expander_tuner_gives_each_trial_its_own_log_dirs(tmp_path):
    from tf_expander_pruning import tuning
    x, y = datasets.load("digits", "train")
    x_val, y_val = datasets.load("digits", "test")
    log_dir = tmp_path / "logs"
    result = tuning.search(
        x[:400], y[:400], x_val[:100], y_val[:100], max_trials=2, tolerance=0.5,
        directory=tmp_path / "tuner", units=(8,), cells=("simplernn",), rates=(0.2, 0.3),
        updates_per_epoch=(2,), roles=("W_xh+W_hh",), dense_epochs=1, prune_epochs=2,
        baseline=0.2,
        callbacks=[tfmot.sparsity.keras.PruningSummaries(log_dir=str(log_dir)),
                   RamanujanConstraint(per_gate=False, log_dir=str(log_dir / "ramanujan"),
                                       verbose=0)],
    )
    assert [row["status"] for row in result.trials] == ["COMPLETED", "COMPLETED"]
    for row in result.trials:
        runs = read_scalars(log_dir / f"trial_{row['trial']}")
        assert {"train", "metrics", "ramanujan"} <= set(runs), sorted(runs)
        assert any(t.endswith("/sparsity") for t in runs["metrics"]), sorted(runs["metrics"])
        assert "simplernn/W_hh/delta_r" in runs["ramanujan"], sorted(runs["ramanujan"])
    # No scalar is written outside the trial dirs (the user's PruningSummaries leaves a header-only
    # event file in logs/metrics: TF-MOT opens its writer in __init__).
    runs = read_scalars(log_dir)
    assert runs and all(run.startswith("trial_") for run, tags in runs.items() if tags)
