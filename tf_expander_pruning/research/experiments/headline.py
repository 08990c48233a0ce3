"""The headline table: where the automatic (Ramanujan) stop lands against the accuracy knee.

Input: the raw stopping-rule rows committed under ``<root>/<dataset>/<cell>/stopping_rule.csv``
(written by ``tf-expander reproduce --experiment stopping-rule``).  Per data set and cell, means
over the seeds present:

* ``dense``: dense accuracy;
* ``stop``: the constraint run's layer sparsity (W_xh and W_hh together) and accuracy;
* ``knee``: the highest fixed TF-MOT target whose accuracy is within :data:`KNEE_POINTS` (1 point)
  of dense;
* ``distance``: knee - stop layer sparsity, in points of sparsity;
* ``met``: the target of issue 15, ``distance <= 5`` points and ``stop accuracy >= dense - 1``.

Only seeds with every one of these runs count (:func:`complete_seeds`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.core.formatting import format_value, markdown_table, write_csv
from tf_expander_pruning.research.datasets import DATASETS
from tf_expander_pruning.research.experiments.results_io import read_rows

__all__ = [
    "HEADLINE_DATASETS",
    "HEADLINE_CELLS",
    "HEADLINE_COLUMNS",
    "KNEE_POINTS",
    "complete_seeds",
    "MAX_DISTANCE",
    "STOP_METHOD",
    "headline_row",
    "headline_rows",
    "headline_markdown",
    "write_headline",
]

HEADLINE_DATASETS = DATASETS  # digits, mnist_5k, mnist1d first; the TFDS sets when run
HEADLINE_CELLS = ("lstm", "gru", "simplernn")
KNEE_POINTS = 0.01  # the knee: highest fixed target within 1 accuracy point of dense
MAX_DISTANCE = 0.05  # the target: stop at most 5 points of sparsity below the knee
STOP_METHOD = "ramanujan"  # the constraint run with RamanujanConstraint's defaults

#: Columns of headline.csv (fractions) and of the Markdown table (percent).
HEADLINE_COLUMNS = (
    "dataset", "cell", "seeds", "dense_accuracy", "stop_sparsity", "stop_accuracy",
    "knee_target", "knee_accuracy", "distance", "met",
)


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def complete_seeds(
    rows: Sequence[dict[str, Any]], *, stop_method: str = STOP_METHOD
) -> list[dict[str, Any]]:
    """The rows of the seeds that have the dense model, the stop and every fixed target of the
    file: a seed cut short by the end of a run is left out rather than mixed into some means."""
    fixed = {r["method"] for r in rows if r["method"].startswith("fixed_")}
    needed = {"dense", stop_method} | fixed
    complete = {
        seed for seed in {r["seed"] for r in rows}
        if needed <= {r["method"] for r in rows if r["seed"] == seed}
    }
    return [r for r in rows if r["seed"] in complete]


def headline_row(
    rows: Sequence[dict[str, Any]], *, stop_method: str = STOP_METHOD
) -> dict[str, Any]:
    """One headline row from the stopping-rule rows of one data set and cell."""
    rows = list(rows)
    if not rows:
        raise ValueError("`rows` is empty: no stopping-rule results to summarise.")
    rows = complete_seeds(rows, stop_method=stop_method)
    dense_rows = [r for r in rows if r["method"] == "dense"]
    stop_rows = [r for r in rows if r["method"] == stop_method]
    dense = _mean(dense_rows, "accuracy")
    fixed: dict[float, float | None] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        if method.startswith("fixed_"):
            at = [r for r in rows if r["method"] == method]
            fixed[float(at[0]["target"])] = _mean(at, "accuracy")
    within = [
        t for t, acc in fixed.items()
        if dense is not None and acc is not None and acc >= dense - KNEE_POINTS - 1e-12
    ]
    knee = max(within) if within else None
    stop_sparsity = _mean(stop_rows, "layer_sparsity")
    stop_accuracy = _mean(stop_rows, "accuracy")
    distance = knee - stop_sparsity if knee is not None and stop_sparsity is not None else None
    met = None
    if distance is not None and stop_accuracy is not None:
        met = distance <= MAX_DISTANCE + 1e-12 and stop_accuracy >= dense - KNEE_POINTS - 1e-12
    return {
        "dataset": rows[0]["dataset"], "cell": rows[0]["cell"],
        "seeds": len({r["seed"] for r in dense_rows}),
        "dense_accuracy": dense, "stop_sparsity": stop_sparsity, "stop_accuracy": stop_accuracy,
        "knee_target": knee, "knee_accuracy": fixed.get(knee) if knee is not None else None,
        "distance": distance, "met": met,
    }


def headline_rows(
    root: str | os.PathLike, *, stop_method: str = STOP_METHOD
) -> list[dict[str, Any]]:
    """Headline rows for every ``<root>/<dataset>/<cell>/stopping_rule.csv`` present, in the
    order of :data:`HEADLINE_DATASETS` x :data:`HEADLINE_CELLS`."""
    out = []
    for dataset in HEADLINE_DATASETS:
        for cell in HEADLINE_CELLS:
            rows = read_rows(Path(root) / dataset / cell / "stopping_rule.csv")
            if rows:
                out.append(headline_row(rows, stop_method=stop_method))
    return out


def headline_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The headline table in Markdown, accuracies and sparsities in percent."""
    headers = (
        "data set", "cell", "seeds", "dense acc.", "stop: sparsity", "stop: acc.",
        "knee (target)", "knee acc.", "distance (points)", "target met",
    )

    def pct(value):
        return format_value(value, percent=True)

    table = [
        (
            r["dataset"], r["cell"], str(r["seeds"]), pct(r["dense_accuracy"]),
            pct(r["stop_sparsity"]), pct(r["stop_accuracy"]), pct(r["knee_target"]),
            pct(r["knee_accuracy"]), pct(r["distance"]),
            format_value(None) if r["met"] is None else ("yes" if r["met"] else "no"),
        )
        for r in rows
    ]
    return markdown_table(headers, table)


def write_headline(root: str | os.PathLike, *, stop_method: str = STOP_METHOD) -> str:
    """Write ``<root>/headline.csv`` and ``<root>/headline.md``; return the Markdown table."""
    rows = headline_rows(root, stop_method=stop_method)
    if not rows:
        raise ValueError(
            f"No stopping-rule results under {os.fspath(root)!r}: expected "
            "<root>/<dataset>/<cell>/stopping_rule.csv (run `tf-expander reproduce "
            "--experiment stopping-rule --out <root>/<dataset>/<cell> ...` first)."
        )
    write_csv(Path(root) / "headline.csv", rows, HEADLINE_COLUMNS)
    text = headline_markdown(rows)
    (Path(root) / "headline.md").write_text(text + "\n")
    return text
