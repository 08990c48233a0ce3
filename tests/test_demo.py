"""`make demo`'s job, shortened: it trains, prunes under the constraint and writes its outputs."""

import csv
import os
import subprocess
import sys

import pytest

from tf_expander_pruning.constraint import HISTORY_FIELDS


@pytest.mark.slow
def test_demo_writes_report_and_outputs(demo_run):
    text, out, result = demo_run.text, demo_run.out, demo_run.result
    assert "test accuracy: dense" in text and "Delta_r" in text
    for name in ("history.csv", "delta_r_vs_sparsity.png", "pruned_model.keras"):
        assert (out / name).stat().st_size > 0
    with open(out / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and tuple(rows[0]) == HISTORY_FIELDS
    assert 0.0 < result["sparsity"] < 1.0
    assert 0.0 <= result["pruned_accuracy"] <= 1.0


@pytest.mark.slow
def test_demo_runs_as_a_module():
    """``make demo`` runs ``python -m tf_expander_pruning.demo``: the short path must start."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "tf_expander_pruning.demo", "--help"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--out" in done.stdout and "--no-export" in done.stdout
