"""The detail tables of docs/results.md, computed from the raw results under a results root.

* :func:`runs_markdown`: what ran (seeds per experiment and variant);
* :func:`stops_markdown`: every stopping-rule method (the default constraint, its variants, the
  fixed targets) per data set and cell, from ``<root>/<dataset>/<cell>/stopping_rule.csv``;
* :func:`curves_markdown`: the curves experiment per data set and cell, from
  ``<root>/<dataset>/<cell>/curves/summary.json``: knee, where the Ramanujan criteria fail, the
  W_xh-only / W_hh-only / random-mask knees and the noisy knees.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tf_expander_pruning.core.formatting import format_value, markdown_table
from tf_expander_pruning.research.experiments.config import KNEE_DROP
from tf_expander_pruning.research.experiments.headline import (
    HEADLINE_CELLS,
    HEADLINE_DATASETS,
    STOP_METHOD,
    complete_seeds,
)
from tf_expander_pruning.research.experiments.results_io import read_rows
from tf_expander_pruning.research.experiments.stopping import summarize_stopping_rule

__all__ = ["runs_markdown", "stops_markdown", "curves_markdown", "write_tables"]


def _pct(value: Any) -> str:
    return format_value(value, percent=True)


def _pm(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("mean") is None:
        return format_value(None)
    std = entry.get("std")
    return _pct(entry["mean"]) if not std else f"{_pct(entry['mean'])} ± {_pct(std)}"


def _cells(root: Path, leaf: str):
    for dataset in HEADLINE_DATASETS:
        for cell in HEADLINE_CELLS:
            path = root / dataset / cell / leaf
            if path.is_file():
                yield dataset, cell, path


def _method_order(method: str) -> tuple:
    """dense, the default constraint, its variants (as run), then the fixed targets ascending."""
    if method == "dense":
        return (0, 0.0)
    if method == STOP_METHOD:
        return (1, 0.0)
    if method.startswith("fixed_"):
        return (3, float(method[len("fixed_"):]))
    return (2, 0.0)


def stops_markdown(root: str | os.PathLike) -> str:
    """One row per (data set, cell, method): sparsities, accuracy, drop vs dense, noisy
    accuracies (percent, mean ± std over seeds)."""
    table = []
    for dataset, cell, path in _cells(Path(root), "stopping_rule.csv"):
        summary = summarize_stopping_rule(read_rows(path))
        for method in sorted(summary, key=_method_order):
            entry = summary[method]
            noisy = [k for k in entry if k.startswith("accuracy_") and k != "accuracy_drop"]
            table.append([
                dataset, cell, method, str(entry["seeds"]),
                _pm(entry.get("sparsity_kernel")), _pm(entry.get("sparsity_recurrent")),
                _pm(entry.get("layer_sparsity")), _pm(entry.get("accuracy")),
                _pm(entry.get("accuracy_drop")),
                " / ".join(_pm(entry[k]) for k in noisy) or format_value(None),
            ])
    headers = ["data set", "cell", "method", "seeds", "W_xh", "W_hh", "layer", "accuracy",
               "drop", "noisy (gaussian 0.3 / s&p 0.1)"]
    return markdown_table(headers, table)


def _seeds(seeds) -> str:
    return ",".join(str(s) for s in sorted(seeds)) or format_value(None)


def runs_markdown(root: str | os.PathLike) -> str:
    """What ran, per data set and cell: the seeds of the stopping rule (complete seeds, as the
    headline uses them), of each constraint variant, and of the curves experiment."""
    root = Path(root)
    table = []
    for dataset in HEADLINE_DATASETS:
        for cell in HEADLINE_CELLS:
            rows = read_rows(root / dataset / cell / "stopping_rule.csv")
            summary_path = root / dataset / cell / "curves" / "summary.json"
            curves = json.loads(summary_path.read_text())["seeds"] if summary_path.is_file() else []
            if not rows and not curves:
                continue
            complete = {r["seed"] for r in complete_seeds(rows)} if rows else set()
            variants: dict[str, set] = {}
            for row in rows:
                if _method_order(row["method"])[0] == 2:
                    variants.setdefault(row["method"], set()).add(row["seed"])
            table.append([
                dataset, cell, _seeds(complete),
                "; ".join(f"{m} ({_seeds(s)})" for m, s in variants.items()) or format_value(None),
                _seeds(curves),
            ])
    return markdown_table(
        ["data set", "cell", "stopping rule: seeds", "constraint variants (seeds)",
         "curves: seeds"], table)


def _noisy_knee(curve: list[dict[str, Any]], key: str) -> float | None:
    """First sparsity of the mean curve whose ``key`` accuracy is > 2 points below round 0."""
    dense = curve[0].get(key)
    if dense is None:
        return None
    hit = next((p for p in curve[1:] if p.get(key) is not None and p[key] < dense - KNEE_DROP),
               None)
    return hit["sparsity"] if hit else None


def _knee(variants: dict[str, Any], variant: str) -> str:
    data = variants.get(variant)
    if not data:
        return format_value(None)
    knee = data["aggregate"]["knee_sparsity"]
    seeds = len(data["per_seed"])
    return f"{_pm(knee)} ({knee['seeds_reached']}/{seeds})"


def _fails(aggregate: dict[str, Any], key: str) -> str:
    entry = aggregate.get(key)
    if not entry:
        return format_value(None)
    mean = {"mean": entry["sparsity_mean"], "std": entry["sparsity_std"]}
    return f"{_pm(mean)} ({entry['seeds_failed']})"


def curves_markdown(root: str | os.PathLike) -> str:
    """One row per (data set, cell) with a curves run: see the module docstring.  Sparsities in
    percent, mean ± std over seeds, (n) = seeds where it happened within the rounds run."""
    table = []
    for dataset, cell, path in _cells(Path(root), "curves/summary.json"):
        summary = json.loads(path.read_text())
        variants = summary["variants"]
        both = variants["both"]
        aggregate = both["aggregate"]
        noisy_keys = [k for k in both["curve"][0]
                      if k.startswith("accuracy_") and not k.endswith("_std")]
        table.append([
            dataset, cell, str(len(summary["seeds"])), _pm(aggregate["dense_accuracy"]),
            _knee(variants, "both"),
            _fails(aggregate, "recurrent/delta_r_any_gate"),
            _fails(aggregate, "recurrent/delta_r_concat"),
            _fails(aggregate, "kernel/delta_r_any_gate"),
            _fails(aggregate, "kernel/undefined"),
            _knee(variants, "kernel"), _knee(variants, "recurrent"), _knee(variants, "random"),
            " / ".join(_pct(_noisy_knee(both["curve"], k)) for k in noisy_keys)
            or format_value(None),
        ])
    headers = ["data set", "cell", "seeds", "dense acc.", "knee (both)",
               "W_hh: a gate's Delta_r < 0", "W_hh: whole Delta_r < 0",
               "W_xh: a gate's Delta_r < 0", "W_xh: bound undefined", "knee W_xh only",
               "knee W_hh only", "knee random mask", "noisy knees (gauss / s&p)"]
    return markdown_table(headers, table)


def write_tables(root: str | os.PathLike) -> dict[str, str]:
    """Write ``<root>/runs.md``, ``stops.md`` and ``curves.md``; return ``{file name: table}``."""
    tables = {"runs.md": runs_markdown(root), "stops.md": stops_markdown(root),
              "curves.md": curves_markdown(root)}
    for name, text in tables.items():
        (Path(root) / name).write_text(text + "\n")
    return tables
