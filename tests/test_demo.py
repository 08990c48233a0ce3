"""`make demo`'s job, shortened: it trains, prunes under the constraint and writes its outputs."""

import csv

import pytest

from tf_expander_pruning import demo
from tf_expander_pruning.constraint import HISTORY_FIELDS


@pytest.mark.slow
def test_demo_writes_report_and_outputs(tmp_path):
    lines = []
    result = demo.run(tmp_path, units=16, dense_epochs=4, prune_epochs=8, export=False,
                      print_fn=lines.append)
    text = "\n".join(lines)
    assert "test accuracy: dense" in text and "Delta_r" in text
    for name in ("history.csv", "delta_r_vs_sparsity.png", "pruned_model.keras"):
        assert (tmp_path / name).stat().st_size > 0
    with open(tmp_path / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and tuple(rows[0]) == HISTORY_FIELDS
    assert 0.0 < result["sparsity"] < 1.0
    assert 0.0 <= result["pruned_accuracy"] <= 1.0
