"""Files of the curves experiment: ``config.json``, ``rounds.csv``, ``graphs.csv``,
``summary.json``, ``summary.md``; and growing a saved result seed by seed."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.core.formatting import write_csv
from tf_expander_pruning.research.experiments.config import ExperimentConfig, ExperimentResult
from tf_expander_pruning.research.experiments.results_io import merge_rows, read_rows
from tf_expander_pruning.research.experiments.summary import summarize, summary_markdown

__all__ = ["json_default", "save_results", "merge_saved_result"]


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for NumPy scalars."""
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def save_results(result: ExperimentResult, out: str | os.PathLike) -> list[Path]:
    """Write ``config.json``, ``rounds.csv``, ``graphs.csv``, ``summary.json`` and ``summary.md``
    to directory ``out`` (created).  Returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not result.summary:
        result.summary = summarize(result)
    paths = []
    path = out / "config.json"
    path.write_text(json.dumps(result.config.to_dict(), indent=2, default=json_default))
    paths.append(path)
    for name, rows in (("rounds.csv", result.rounds), ("graphs.csv", result.graphs)):
        write_csv(out / name, rows)
        paths.append(out / name)
    path = out / "summary.json"
    path.write_text(json.dumps(result.summary, indent=2, default=json_default))
    paths.append(path)
    path = out / "summary.md"
    path.write_text(summary_markdown(result))
    paths.append(path)
    return paths


def merge_saved_result(result: ExperimentResult, out: str | os.PathLike) -> ExperimentResult:
    """``result`` plus the rows of other seeds already saved in ``out`` by the same protocol.

    A curves run can so be grown seed by seed into one directory.  Saved rows are used only when
    ``out/config.json`` matches ``result.config`` in everything but the seeds; otherwise (or
    when nothing is saved) ``result`` is returned unchanged.
    """
    out = Path(out)
    try:
        saved = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return result
    mine = result.config.to_dict()
    if {k: v for k, v in saved.items() if k != "seeds"} != {
        k: v for k, v in json.loads(json.dumps(mine)).items() if k != "seeds"
    }:
        return result
    new_seeds = set(result.config.seed_list())
    old_rounds = [r for r in read_rows(out / "rounds.csv") if r["seed"] not in new_seeds]
    old_graphs = [r for r in read_rows(out / "graphs.csv") if r["seed"] not in new_seeds]
    if not old_rounds:
        return result
    seeds = sorted(new_seeds | {r["seed"] for r in old_rounds})
    config = ExperimentConfig(**{**asdict(result.config), "seeds": seeds})
    merged = ExperimentResult(
        config=config,
        rounds=merge_rows(old_rounds, result.rounds, ("seed", "variant", "round")),
        graphs=merge_rows(
            old_graphs, result.graphs, ("seed", "variant", "round", "weight", "gate")
        ),
    )
    merged.summary = summarize(merged)
    return merged
