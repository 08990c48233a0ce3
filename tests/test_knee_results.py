"""Every table of the knee study in docs/results.md is recomputed from the raw CSVs committed
under docs/results/knee/ (issue 22)."""

from pathlib import Path

import pytest

from tf_expander_pruning.research.experiments import knee_tables

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "docs" / "results" / "knee"
RESULTS = ROOT / "docs" / "results.md"


@pytest.mark.parametrize("name", ["knee-headline", "knee-ablation", "knee-noise"])
def test_results_md_table_equals_the_recomputed_one(name):
    blocks = knee_tables.markdown_blocks(RAW)
    text = RESULTS.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    assert start in text and end in text
    assert text.split(start, 1)[1].split(end, 1)[0].strip() == blocks[name].strip()


def test_knee_is_the_highest_fixed_target_within_one_point():
    """An independent recomputation of one cell's knee from its raw rows."""
    from tf_expander_pruning.research.experiments.results_io import read_rows

    for (dataset, cell), rows in knee_tables.study_rows(RAW).items():
        seeds = {r["seed"] for r in rows if r["method"] == "knee"}
        rows = [r for r in rows if r["seed"] in seeds]
        dense = sum(r["accuracy"] for r in rows if r["method"] == "dense") / len(seeds)
        targets = {}
        for r in rows:
            if str(r["method"]).startswith("fixed_"):
                targets.setdefault(float(r["target"]), []).append(float(r["accuracy"]))
        within = [t for t, accs in targets.items()
                  if len(accs) == len(seeds) and sum(accs) / len(accs) >= dense - 0.01 - 1e-12]
        (row,) = [r for r in knee_tables.knee_rows(RAW)
                  if (r["dataset"], r["cell"], r["method"]) == (dataset, cell, "knee")]
        assert row["knee_target"] == (max(within) if within else None)
        assert read_rows(RAW / dataset / cell / "knee_study.csv")
