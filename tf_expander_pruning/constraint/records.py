"""History records: one dict per checked graph (spectral test) or per rolled-back matrix (guard)."""

from __future__ import annotations

from typing import Any

from tf_expander_pruning.analysis.spectral import SpectralReport
from tf_expander_pruning.pruning.wrapper import PrunedWeight

__all__ = ["spectral_record", "guard_record"]


def spectral_record(entry: PrunedWeight, step: int, epoch: int, gate: Any,
                    report: SpectralReport, outcome: bool | None) -> dict[str, Any]:
    return {
        "step": step, "epoch": epoch, "layer": entry.layer, "role": entry.role, "gate": gate,
        "sparsity": float(report.sparsity), "d_left": report.d_left, "d_right": report.d_right,
        "lambda1": report.lambda1, "mu_hat": report.mu_hat, "bound": report.bound,
        "delta_r": report.delta_r, "delta_s": report.delta_s, "passed": outcome,
        "frozen": False, "stopped_by": None, "monitor_value": None,
        "components": report.components,
    }


def guard_record(entry: PrunedWeight, step: int, epoch: int, sparsity: float,
                 value: float) -> dict[str, Any]:
    """A matrix the guard rolled back: the spectral columns are empty, ``passed`` is False."""
    return {
        "step": step, "epoch": epoch, "layer": entry.layer, "role": entry.role, "gate": None,
        "sparsity": float(sparsity), "d_left": None, "d_right": None, "lambda1": None,
        "mu_hat": None, "bound": None, "delta_r": None, "delta_s": None, "passed": False,
        "frozen": True, "stopped_by": "guard", "monitor_value": float(value),
        "components": None,
    }
