"""Per-trial rows of an expander search, their Markdown table and CSV, and :class:`SearchResult`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tf_expander_pruning.core.formatting import MISSING, markdown_table, write_csv

__all__ = ["TABLE_COLUMNS", "trial_table", "format_table", "SearchResult"]

#: Columns of :func:`trial_table` rows, in display order.
TABLE_COLUMNS = (
    "trial", "status", "cell", "units", "rate", "updates_per_epoch", "roles", "dense_acc",
    "val_acc", "nonzero_params", "recurrent_sparsity", "min_delta_r", "all_ramanujan",
    "within_tolerance", "score",
)

#: Row key -> the trial metric it shows.
_METRICS = {
    "dense_acc": "dense_val_accuracy", "val_acc": "val_accuracy",
    "nonzero_params": "nonzero_params", "total_params": "total_params",
    "recurrent_sparsity": "recurrent_sparsity", "min_delta_r": "min_delta_r",
    "baseline_accuracy": "baseline_accuracy", "frozen": "frozen",
}
_FLAGS = ("all_ramanujan", "within_tolerance", "feasible")
_HYPERPARAMETERS = ("cell", "units", "rate", "updates_per_epoch", "roles")


def _value(trial, name: str):
    if trial.metrics.exists(name):
        return trial.metrics.get_last_value(name)
    return None


def _row(trial_id: str, trial) -> dict[str, Any]:
    values = trial.hyperparameters.values
    row: dict[str, Any] = {
        "trial": trial_id, "status": str(getattr(trial.status, "value", trial.status)),
    }
    row.update({name: values.get(name) for name in _HYPERPARAMETERS})
    row.update({key: _value(trial, metric) for key, metric in _METRICS.items()})
    for flag in _FLAGS:
        value = _value(trial, flag)
        row[flag] = None if value is None else bool(value)
    row["score"] = _value(trial, "score")
    return row


def trial_table(tuner) -> list[dict[str, Any]]:
    """One row per trial of an expander tuner, in trial order, keys :data:`TABLE_COLUMNS`.

    Hyperparameters, ``dense_acc``/``val_acc`` (validation accuracy before/after pruning),
    ``nonzero_params``, ``recurrent_sparsity``, ``min_delta_r``, the constraint flags
    (``all_ramanujan``, ``within_tolerance`` as bools, ``None`` for failed trials) and ``score``.
    """
    return [_row(trial_id, trial) for trial_id, trial in sorted(tuner.oracle.trials.items())]


def _cell_text(key: str, value) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if key in ("nonzero_params", "score", "total_params", "frozen"):
        return f"{value:.0f}"
    if key in ("dense_acc", "val_acc"):
        return f"{value:.4f}"
    if key == "recurrent_sparsity":
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.3g}" if key == "rate" else f"{value:.3f}"
    return str(value)


def format_table(rows: list[dict[str, Any]], columns: Sequence[str] = TABLE_COLUMNS) -> str:
    """A Markdown table of :func:`trial_table` rows."""
    return markdown_table(list(columns),
                          [[_cell_text(c, row.get(c)) for c in columns] for row in rows])


@dataclass
class SearchResult:
    """What :func:`~tf_expander_pruning.research.tuning.search` returns.

    Attributes:
        best_model: the best trial's stripped tf_keras model (sparse weights), loaded from disk.
        best_hyperparameters: its hyperparameter values.
        best_trial: its :func:`trial_table` row.
        trials: every trial's row.
        baseline_accuracy: the dense accuracy the tolerance is measured from.
        tolerance: the allowed accuracy drop.
        tuner: the keras-tuner tuner (for ``results_summary()``, ``oracle`` ...).
        directory: where the tuner stored its trials.
    """

    best_model: Any
    best_hyperparameters: dict[str, Any]
    best_trial: dict[str, Any]
    trials: list[dict[str, Any]]
    baseline_accuracy: float | None
    tolerance: float
    tuner: Any
    directory: str

    @property
    def feasible(self) -> bool:
        """True when the best trial met the constraint (Ramanujan and within tolerance)."""
        return bool(self.best_trial.get("feasible"))

    def table(self, columns: Sequence[str] = TABLE_COLUMNS) -> str:
        """The per-trial Markdown table."""
        return format_table(self.trials, columns)

    def to_csv(self, path: str | os.PathLike) -> str:
        """Write the per-trial rows to ``path`` (empty cells for missing values); returns it."""
        path = str(path)
        write_csv(path, self.trials, None if self.trials else TABLE_COLUMNS)
        return path
