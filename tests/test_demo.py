"""`make demo`'s job, shortened: it trains, prunes under the constraint and writes its outputs."""

import csv
import os
import re
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
    """``python -m tf_expander_pruning.demo``, the short path of the module ``make demo`` runs
    (``tf_expander_pruning.research.demo``), must start too."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "tf_expander_pruning.demo", "--help"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--out" in done.stdout and "--no-export" in done.stdout


def test_deploy_md_demo_tables_are_the_committed_demo_run():
    """docs/deploy.md's `make demo` tables are copied from docs/demo/demo_run.txt (that run's
    output), and that run's tries are docs/demo/history.csv."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    run = (root / "docs" / "demo" / "demo_run.txt").read_text()
    deploy = (root / "docs" / "deploy.md").read_text()
    section = deploy.split("## The `make demo` model")[1].split("\n## ")[0]
    tflite = [line for line in run.split("== Deployment")[1].splitlines()
              if line.startswith(("| dense |", "| pruned |"))]
    assert len(tflite) == 6
    for line in tflite:
        cells = line.strip("|").split("|")[:9]  # the note column is not in the docs
        assert "| " + " | ".join(c.strip() for c in cells) + " |" in section, line

    def numbers(text: str) -> list[str]:
        text = text.replace("int8", "")
        return [n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]

    c_run = run.split("== Sparse C")[1]
    flat = [n for line in c_run.splitlines() if line.startswith("| TFLM") for n in numbers(line)]
    sparse = [n for line in c_run.splitlines() if line.startswith("| sparse C")
              for n in numbers(line)]
    doc_flat = [line for line in section.splitlines() if line.startswith("| TFLM int8")][0]
    doc_sparse = [line for line in section.splitlines() if line.startswith("| sparse C int8")][0]
    assert numbers(doc_flat)[-4:] == flat[-4:]  # flash, RAM, accuracy
    assert numbers(doc_sparse)[:4] == sparse[:4]  # weights + indices, constants, RAM, accuracy
    agreement = re.search(r"argmax agreement with Keras ([\d.]+)%", c_run).group(1)
    assert f"{agreement} %" in doc_sparse
    match = re.search(r"recurrent weights kept: \d+/\d+ \(sparsity ([\d.]+)%\)", run)
    assert f"{match.group(1)} %" in section
    with open(root / "docs" / "demo" / "history.csv") as handle:
        assert tuple(next(csv.reader(handle))) == HISTORY_FIELDS
