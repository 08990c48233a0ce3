"""The headline table (stop vs knee): its rule on made-up rows, and the committed numbers in
docs/results.md against the committed raw results, recomputed here independently."""

from __future__ import annotations

import csv
import math
import re
import statistics
from pathlib import Path

import pytest

from tf_expander_pruning.research.experiments import headline
from tf_expander_pruning.research.experiments.results_io import merge_rows, read_rows, write_rows

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
DOC = ROOT / "docs" / "results.md"


def _rows(dense, stop, fixed, seeds=(0,)):
    rows = []
    for seed in seeds:
        rows.append({"dataset": "d", "cell": "lstm", "seed": seed, "method": "dense",
                     "target": 0.0, "layer_sparsity": 0.0, "accuracy": dense})
        rows.append({"dataset": "d", "cell": "lstm", "seed": seed, "method": "ramanujan",
                     "target": None, "layer_sparsity": stop[0], "accuracy": stop[1]})
        for target, accuracy in fixed.items():
            rows.append({"dataset": "d", "cell": "lstm", "seed": seed,
                         "method": f"fixed_{target:g}", "target": target,
                         "layer_sparsity": target, "accuracy": accuracy})
    return rows


def test_knee_is_the_highest_target_within_one_point():
    # 0.8 is within 1 point, 0.9 is not, 0.95 is again (a noisy high target still counts:
    # "the highest fixed target within 1 point of dense").
    row = headline.headline_row(_rows(0.90, (0.70, 0.905), {0.5: 0.91, 0.8: 0.891, 0.9: 0.85}))
    assert row["knee_target"] == 0.8 and row["knee_accuracy"] == 0.891
    assert math.isclose(row["distance"], 0.10)
    assert row["met"] is False  # 10 points below the knee
    close = headline.headline_row(_rows(0.90, (0.76, 0.895), {0.5: 0.91, 0.8: 0.891}))
    assert close["met"] is True and math.isclose(close["distance"], 0.04)
    costly = headline.headline_row(_rows(0.90, (0.79, 0.88), {0.8: 0.891}))
    assert costly["met"] is False  # within 5 points of the knee but 2 points below dense
    none = headline.headline_row(_rows(0.90, (0.5, 0.9), {0.5: 0.80}))
    assert none["knee_target"] is None and none["distance"] is None and none["met"] is None
    assert "| d | lstm | 1 | 90.0 | 50.0 | 90.0 | - | - | - | - |" in (
        headline.headline_markdown([none])
    )


def test_a_seed_cut_short_is_left_out():
    rows = _rows(0.90, (0.70, 0.90), {0.5: 0.9, 0.8: 0.90}, seeds=(0,))
    rows += _rows(0.50, (0.60, 0.50), {0.5: 0.5}, seeds=(1,))  # seed 1 lacks fixed_0.8
    row = headline.headline_row(rows)
    assert row["seeds"] == 1 and row["dense_accuracy"] == 0.90 and row["knee_target"] == 0.8


def test_means_are_over_seeds():
    rows = _rows(0.90, (0.70, 0.90), {0.8: 0.90}, seeds=(0,))
    rows += _rows(0.80, (0.60, 0.78), {0.8: 0.70}, seeds=(1,))
    row = headline.headline_row(rows)
    assert row["seeds"] == 2
    assert math.isclose(row["dense_accuracy"], 0.85)
    assert math.isclose(row["stop_sparsity"], 0.65)
    assert row["knee_target"] is None  # mean 0.80 < 0.85 - 0.01


def test_rows_merge_by_key_and_read_back_typed(tmp_path):
    path = tmp_path / "r.csv"
    write_rows(path, [{"seed": 1, "method": "a", "x": 0.5, "f": ""}], ("seed", "method"))
    write_rows(path, [{"seed": 0, "method": "a", "x": None, "f": "W_hh@0.5"}], ("seed", "method"))
    rows = write_rows(path, [{"seed": 1, "method": "a", "x": 0.25}], ("seed", "method"))
    assert [(r["seed"], r["x"]) for r in rows] == [(0, None), (1, 0.25)]
    assert read_rows(path) == [{"seed": 0, "method": "a", "x": None, "f": "W_hh@0.5"},
                               {"seed": 1, "method": "a", "x": 0.25, "f": None}]
    assert merge_rows([], [], ("seed",)) == []


# ------------------------------------------------------------------ the committed results


def _independent_headline(path: Path) -> dict:
    """The headline numbers of one stopping_rule.csv with the csv module and statistics only."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Only seeds with dense, the default stop and every fixed target (a run cut short is out).
    fixed = {r["method"] for r in rows if r["method"].startswith("fixed_")}
    needed = {"dense", "ramanujan"} | fixed
    seeds = {s for s in {r["seed"] for r in rows}
             if needed <= {r["method"] for r in rows if r["seed"] == s}}
    rows = [r for r in rows if r["seed"] in seeds]
    by_method: dict[str, list[dict]] = {}
    for row in rows:
        by_method.setdefault(row["method"], []).append(row)

    def mean(method, key):
        return statistics.fmean(float(r[key]) for r in by_method[method])

    dense = mean("dense", "accuracy")
    within = [float(rs[0]["target"]) for m, rs in by_method.items()
              if m.startswith("fixed_") and mean(m, "accuracy") >= dense - 0.01 - 1e-12]
    knee = max(within) if within else None
    stop = mean("ramanujan", "layer_sparsity")
    return {
        "seeds": len(by_method["dense"]), "dense": dense, "stop_sparsity": stop,
        "stop_accuracy": mean("ramanujan", "accuracy"), "knee": knee,
        "distance": None if knee is None else knee - stop,
    }


def _doc_table() -> list[list[str]]:
    text = DOC.read_text()
    match = re.search(r"<!-- headline:start -->(.*?)<!-- headline:end -->", text, re.S)
    assert match, "docs/results.md lost its headline table markers"
    lines = [line for line in match.group(1).splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def test_every_headline_number_matches_the_committed_raw_results():
    files = sorted(RESULTS.glob("*/*/stopping_rule.csv"))
    if not files:
        pytest.skip("no committed stopping-rule results")
    table = {(r[0], r[1]): r for r in _doc_table()}
    assert len(table) == len(files), "every committed data set x cell has a headline row"
    for path in files:
        dataset, cell = path.parent.parent.name, path.parent.name
        expected = _independent_headline(path)
        row = table[(dataset, cell)]
        assert row[2] == str(expected["seeds"]), (dataset, cell)
        assert row[3] == _pct(expected["dense"]), (dataset, cell)
        assert row[4] == _pct(expected["stop_sparsity"]), (dataset, cell)
        assert row[5] == _pct(expected["stop_accuracy"]), (dataset, cell)
        assert row[6] == _pct(expected["knee"]), (dataset, cell)
        assert row[8] == _pct(expected["distance"]), (dataset, cell)
    # The committed headline.csv is the same computation at full precision.
    for row in read_rows(RESULTS / "headline.csv"):
        expected = _independent_headline(RESULTS / row["dataset"] / row["cell"]
                                         / "stopping_rule.csv")
        assert math.isclose(row["dense_accuracy"], expected["dense"], abs_tol=1e-12)
        assert math.isclose(row["stop_sparsity"], expected["stop_sparsity"], abs_tol=1e-12)


def test_detail_tables_from_a_results_root(tmp_path):
    import json

    from tf_expander_pruning.core.formatting import write_csv
    from tf_expander_pruning.research.experiments import tables

    cell = tmp_path / "mnist_5k" / "gru"
    cell.mkdir(parents=True)
    rows = _rows(0.90, (0.70, 0.88), {0.8: 0.85}, seeds=(0, 1))
    for row in rows:
        row.update(dataset="mnist_5k", cell="gru", sparsity_kernel=row["layer_sparsity"],
                   sparsity_recurrent=row["layer_sparsity"])
    rows[1]["accuracy"] = 0.86  # seed 0's stop: 4 points below its dense model
    write_csv(cell / "stopping_rule.csv", rows)
    stops = tables.stops_markdown(tmp_path)
    # ramanujan: accuracies 0.86 and 0.88 -> 87.0 ± 1.0; drops 4 and 2 points -> 3.0 ± 1.0
    assert "| mnist_5k | gru | ramanujan | 2 | 70.0 | 70.0 | 70.0 | 87.0 ± 1.0 | 3.0 ± 1.0 | - |" \
        in stops
    (cell / "curves").mkdir()
    curve = [{"round": 0, "sparsity": 0.0, "accuracy": 0.9, "accuracy_gaussian=0.3": 0.5},
             {"round": 1, "sparsity": 0.5, "accuracy": 0.89, "accuracy_gaussian=0.3": 0.47}]
    aggregate = {"dense_accuracy": {"mean": 0.9, "std": 0.0},
                 "knee_sparsity": {"mean": None, "std": None, "seeds_reached": 0},
                 "recurrent/delta_r_any_gate": {"sparsity_mean": 0.5, "sparsity_std": 0.0,
                                                "seeds_failed": 1}}
    summary = {"seeds": [0], "variants": {"both": {"curve": curve, "per_seed": [{}],
                                                   "aggregate": aggregate}}}
    (cell / "curves" / "summary.json").write_text(json.dumps(summary))
    curves = tables.curves_markdown(tmp_path)
    assert "| mnist_5k | gru | 1 | 90.0 | - (0/1) | 50.0 (1) | - |" in curves
    assert curves.rstrip().endswith("| 50.0 |")  # noisy knee: 47 < 50 - 2 at 50 %
    assert "| mnist_5k | gru | 0,1 | - | 0 |" in tables.runs_markdown(tmp_path)


def test_normalized_margin_criterion():
    from types import SimpleNamespace

    from tf_expander_pruning.research.experiments.criteria import (
        NormalizedMargin,
        constraint_options,
    )

    criterion = NormalizedMargin(0.1)
    assert criterion(SimpleNamespace(delta_r_normalized=0.1)) is True
    assert criterion(SimpleNamespace(delta_r_normalized=0.05)) is False
    assert criterion(SimpleNamespace(delta_r_normalized=None)) is None
    options = constraint_options({"normalized_margin": -0.2, "per_gate": False})
    assert options["per_gate"] is False and options["criterion"].margin == -0.2
    with pytest.raises(ValueError, match="normalized_margin"):
        constraint_options({"normalized_margin": 0.1, "criterion": "ramanujan"})
    with pytest.raises(ValueError, match="normalized_margin"):
        NormalizedMargin(2.0)
