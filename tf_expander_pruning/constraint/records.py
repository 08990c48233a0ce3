"""History records: one dict per checked graph (spectral test) or per rolled-back matrix (guard)."""

from __future__ import annotations

from typing import Any

from tf_expander_pruning.analysis.spectral import SpectralReport
from tf_expander_pruning.pruning.adapter import PrunedMatrix

__all__ = ["spectral_record", "guard_record"]


def spectral_record(entry: PrunedMatrix, step: int, epoch: int, gate: Any,
                    report: SpectralReport, outcome: bool | None) -> dict[str, Any]:
    return {
        "step": step, "epoch": epoch, "layer": entry.layer, "role": entry.role, "gate": gate,
        "sparsity": float(report.sparsity), "d_left": report.d_left, "d_right": report.d_right,
        "lambda1": report.lambda1, "mu_hat": report.mu_hat, "bound": report.bound,
        "delta_r": report.delta_r, "delta_s": report.delta_s, "passed": outcome,
        "frozen": False, "stopped_by": None, "monitor_value": None,
        "components": report.components, "reference": None, "step_size": None,
        "action": None, "noise": None,
    }


def guard_record(entry: PrunedMatrix, step: int, epoch: int, sparsity: float, value: float,
                 passed: bool = False, frozen: bool = True, reference: float | None = None,
                 step_size: float | None = None, action: str = "frozen") -> dict[str, Any]:
    """One try of a matrix judged by the guard: the spectral columns are empty; ``sparsity`` is
    the tried sparsity, ``step_size`` how far it went beyond the last passing one, ``action``
    ``"accepted"``, ``"retry"`` (rolled back, tried again smaller) or ``"frozen"``."""
    return {
        "step": step, "epoch": epoch, "layer": entry.layer, "role": entry.role, "gate": None,
        "sparsity": float(sparsity), "d_left": None, "d_right": None, "lambda1": None,
        "mu_hat": None, "bound": None, "delta_r": None, "delta_s": None, "passed": bool(passed),
        "frozen": bool(frozen), "stopped_by": "guard", "monitor_value": float(value),
        "components": None, "reference": reference,
        "step_size": None if step_size is None else float(step_size), "action": action,
        "noise": None,
    }
