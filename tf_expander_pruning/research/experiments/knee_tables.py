"""The tables of the one-run knee study (issue 22), recomputed from its raw rows.

Input: ``<root>/<dataset>/<cell>/knee_study.csv`` (written by
:mod:`~tf_expander_pruning.research.experiments.knee_study`).  Per data set and cell, means over
the seeds that have every run (:func:`~.headline.complete_seeds`):

* the knee: the highest fixed TF-MOT target whose mean accuracy is within 1 point of the mean
  dense accuracy (:func:`~.headline.headline_row`, the definition of the earlier headline);
* per stop method: layer sparsity, accuracy, the worst seed's accuracy against its own dense
  model, epochs and seconds per run, and whether the issue's targets are met: mean sparsity
  >= knee - 5 points, mean accuracy >= dense - 1 point, no seed below its dense - 2 points.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.core.formatting import format_value, markdown_table
from tf_expander_pruning.research.experiments.headline import (
    complete_seeds,
    headline_row,
)
from tf_expander_pruning.research.experiments.knee_study import KNEE_METHODS, PROTOCOL
from tf_expander_pruning.research.experiments.results_io import read_rows

__all__ = [
    "WORST_POINTS", "knee_rows", "study_rows", "knee_markdown", "ablation_markdown",
    "noise_markdown", "markdown_blocks", "replace_blocks",
]

WORST_POINTS = 0.02  # no seed may end more than 2 points below its own dense model
CELLS = ("lstm", "gru", "simplernn")


def study_rows(root: str | os.PathLike) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """``{(dataset, cell): rows}`` for every ``knee_study.csv`` under ``root``."""
    found = {}
    for dataset in PROTOCOL:
        for cell in CELLS:
            rows = read_rows(Path(root) / dataset / cell / "knee_study.csv")
            if rows:
                found[(dataset, cell)] = rows
    return found


def _method_row(rows: Sequence[dict[str, Any]], method: str) -> dict[str, Any]:
    complete = complete_seeds(rows, stop_method=method)
    base = headline_row(complete, stop_method=method)
    dense = {r["seed"]: float(r["accuracy"]) for r in complete if r["method"] == "dense"}
    mine = [r for r in complete if r["method"] == method]
    worst = min((float(r["accuracy"]) - dense[r["seed"]] for r in mine), default=None)
    fixed_seconds = [float(r["seconds"]) for r in complete
                     if str(r["method"]).startswith("fixed_") and r.get("seconds") is not None]
    epochs = [float(r["epochs"]) for r in mine if r.get("epochs") is not None]
    fixed_epochs = [float(r["epochs"]) for r in complete if str(r["method"]).startswith("fixed_")]
    met = None
    if base["met"] is not None and worst is not None:
        met = bool(base["met"]) and worst >= -WORST_POINTS - 1e-12
    return {
        **base, "method": method, "worst": worst, "met": met,
        "sparsity_kernel": _mean(mine, "sparsity_kernel"),
        "sparsity_recurrent": _mean(mine, "sparsity_recurrent"),
        "epochs": float(np.mean(epochs)) if epochs else None,
        "fixed_epochs": float(np.mean(fixed_epochs)) if fixed_epochs else None,
        "seconds": _mean(mine, "seconds"),
        "fixed_seconds": float(np.mean(fixed_seconds)) if fixed_seconds else None,
        "tries": _mean(mine, "tries"), "retries": _mean(mine, "retries"),
    }


def _mean(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    return float(np.mean(values)) if values else None


def knee_rows(root: str | os.PathLike,
              methods: Sequence[str] = KNEE_METHODS) -> list[dict[str, Any]]:
    """One row per data set, cell and stop method present (see the module docstring)."""
    out = []
    for (_, _), rows in study_rows(root).items():
        present = {r["method"] for r in rows}
        out.extend(_method_row(rows, method) for method in methods if method in present)
    return out


def _pct(value: float | None) -> str:
    return format_value(value, percent=True)


def _yes(value: bool | None) -> str:
    return format_value(None) if value is None else ("yes" if value else "no")


def knee_markdown(rows: Sequence[dict[str, Any]], method: str = "knee") -> str:
    """The headline: the default stop against the knee, per data set and cell."""
    headers = ("data set", "cell", "seeds", "dense acc.", "knee (target)", "knee acc.",
               "stop: layer sparsity", "W_xh / W_hh", "stop: acc.", "worst seed vs its dense",
               "short of knee (points)", "epochs: stop / fixed run", "target met")
    table = [(
        r["dataset"], r["cell"], str(r["seeds"]), _pct(r["dense_accuracy"]),
        _pct(r["knee_target"]), _pct(r["knee_accuracy"]), _pct(r["stop_sparsity"]),
        f"{_pct(r['sparsity_kernel'])} / {_pct(r['sparsity_recurrent'])}",
        _pct(r["stop_accuracy"]), format_value(None if r["worst"] is None else 100 * r["worst"],
                                               ".1f"),
        _pct(r["distance"]), f"{r['epochs']:.0f} / {r['fixed_epochs']:.0f}", _yes(r["met"]),
    ) for r in rows if r["method"] == method]
    return markdown_table(headers, table)


def ablation_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Every stop method on the same rows: sparsity, accuracy and cost."""
    headers = ("data set", "cell", "method", "layer sparsity", "acc.", "acc. - dense",
               "worst seed", "short of knee", "tries (retried)", "seconds / fixed run",
               "target met")
    table = []
    for r in rows:
        drop = None if r["stop_accuracy"] is None else 100 * (r["stop_accuracy"]
                                                              - r["dense_accuracy"])
        tries = "-" if r["tries"] is None else f"{r['tries']:.1f} ({r['retries']:.1f})"
        ratio = (None if not r["seconds"] or not r["fixed_seconds"]
                 else r["seconds"] / r["fixed_seconds"])
        table.append((
            r["dataset"], r["cell"], r["method"], _pct(r["stop_sparsity"]),
            _pct(r["stop_accuracy"]), format_value(drop, "+.1f"),
            format_value(None if r["worst"] is None else 100 * r["worst"], "+.1f"),
            _pct(r["distance"]), tries, format_value(ratio, ".2f"), _yes(r["met"]),
        ))
    return markdown_table(headers, table)




def noise_markdown(root: str | os.PathLike) -> str:
    """The guard metric's noise without pruning (``<root>/noise.csv``, see
    :func:`~.knee_study.measure_noise`), one row per data set and cell, means over seeds."""
    rows = read_rows(Path(root) / "noise.csv")
    headers = ("data set", "cell", "seeds", "validation rows", "mean val. acc.",
               "std over epochs (points)", "range over epochs (points)",
               "binomial s.e. of one value (points)")
    table = []
    for key in dict.fromkeys((r["dataset"], r["cell"]) for r in rows):
        mine = [r for r in rows if (r["dataset"], r["cell"]) == key]
        table.append((
            key[0], key[1], str(len(mine)), str(int(mine[0]["n_val"])),
            _pct(_mean(mine, "mean")), format_value(100 * _mean(mine, "std"), ".2f"),
            format_value(100 * _mean(mine, "range"), ".2f"),
            format_value(100 * _mean(mine, "binomial_se"), ".2f"),
        ))
    return markdown_table(headers, table)


def markdown_blocks(root: str | os.PathLike) -> dict[str, str]:
    """The study's tables by their marker in ``docs/results.md``."""
    rows = knee_rows(root)
    return {"knee-headline": knee_markdown(rows), "knee-ablation": ablation_markdown(rows),
            "knee-noise": noise_markdown(root)}


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each ``<!-- name:start -->...<!-- name:end -->`` block replaced."""
    for name, table in blocks.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start not in text or end not in text:
            raise ValueError(f"{start} / {end} markers not found.")
        head, rest = text.split(start, 1)
        text = head + start + "\n" + table + "\n" + end + rest.split(end, 1)[1]
    return text


if __name__ == "__main__":  # python -m ...knee_tables docs/results/knee docs/results.md
    import sys

    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    target.write_text(replace_blocks(target.read_text(), markdown_blocks(source)))
