"""Results and the summary table of a :class:`RamanujanConstraint` (read from the model)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_expander_pruning.constraint.criterion import Criterion
from tf_expander_pruning.constraint.runner import CheckRunner
from tf_expander_pruning.core.formatting import format_value, text_table
from tf_expander_pruning.core.layers import mask_sparsity
from tf_expander_pruning.pruning.adapter import PrunedMatrix

__all__ = ["results", "summary_table"]


def _failed_sparsity(mine: Sequence[dict[str, Any]]) -> float | None:
    """The sparsity that stopped the matrix: the spectral check that froze it, else the lowest
    guard try that failed (a try that was only given another window does not count)."""
    spectral = [r for r in mine if r["frozen"] and r.get("stopped_by") != "guard"]
    if spectral:
        whole = [r["sparsity"] for r in spectral if r["gate"] is None]
        return whole[-1] if whole else float(np.mean([r["sparsity"] for r in spectral]))
    tries = [r["sparsity"] for r in mine
             if r.get("stopped_by") == "guard" and not r["passed"] and r.get("action") != "wait"]
    return min(tries) if tries else None


def _stopped_by(mine: Sequence[dict[str, Any]], frozen: bool) -> str | None:
    if not frozen:
        return None
    first = next((r for r in mine if r["frozen"]), None)
    return (first.get("stopped_by") or "spectral") if first else "spectral"


def results(entries: Sequence[PrunedMatrix], history: Sequence[dict[str, Any]],
            criterion: Criterion, per_gate: bool) -> list[dict[str, Any]]:
    """One dict per checked matrix (see :meth:`RamanujanConstraint.results`)."""
    runner = CheckRunner(per_gate)
    rows = []
    for entry in entries:
        mask = entry.mask_array()
        gate, report = criterion.worst(runner.gate_reports(entry, mask != 0))
        frozen = entry.is_frozen()
        sparsity = mask_sparsity(mask)
        mine = [r for r in history if r["layer"] == entry.layer and r["role"] == entry.role]
        rows.append({
            "layer": entry.layer, "role": entry.role, "shape": tuple(mask.shape),
            "sparsity": sparsity, "delta_r": report.delta_r, "delta_s": report.delta_s,
            "is_ramanujan": report.is_ramanujan, "gate": gate, "frozen": frozen,
            "frozen_step": entry.frozen_step_value() if frozen else None,
            "frozen_sparsity": sparsity if frozen else None,
            "failed_sparsity": _failed_sparsity(mine),
            "stopped_by": _stopped_by(mine, frozen),
            "checks": len({r["step"] for r in mine if r.get("stopped_by") != "guard"}),
            "tries": sum(1 for r in mine if r.get("stopped_by") == "guard"),
            "retries": sum(1 for r in mine if r.get("action") == "retry"),
        })
    return rows


def summary_table(rows: Sequence[dict[str, Any]], per_gate: bool) -> str:
    """The text table of :func:`results` rows."""
    delta_r = "Delta_r (worst gate)" if per_gate else "Delta_r"
    header = ("Layer", "Role", "Sparsity", delta_r, "Delta_s", "Checks", "Tries", "Status")
    lines = []
    for row in rows:
        if row["frozen"]:
            status = f"frozen at step {row['frozen_step']} by {row['stopped_by']}"
            if row["failed_sparsity"] is not None:
                status += f" (failed at {row['failed_sparsity']:.2f})"
        else:
            status = "pruning" if row["is_ramanujan"] is not False else "not Ramanujan"
        lines.append((
            row["layer"], row["role"], f"{row['sparsity']:.3f}", format_value(row["delta_r"]),
            format_value(row["delta_s"]), str(row["checks"]),
            f"{row['tries']} ({row['retries']} retried)" if row["tries"] else "-", status,
        ))
    return text_table(header, lines)
