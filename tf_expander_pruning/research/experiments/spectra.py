"""Spectra recorded by the curves experiment: every weight graph (whole matrix and each gate) and
the layer unrolled over its sequence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tf_expander_pruning.analysis.spectral import analyze, iterative_mean_delta_r

__all__ = ["analyze_weight", "unrolled_report"]


def analyze_weight(weight: np.ndarray, mask: np.ndarray, gates: Sequence[str | None]) -> list[dict]:
    """Spectral rows for one weight matrix: the whole matrix (``gate="all"``) and each gate.

    Args:
        weight: ``(n_in, n_gates * units)`` weights (used for the weighted gap only).
        mask: 0/1 mask of the same shape (the unweighted graph).
        gates: gate letters in column order (``(None,)`` for SimpleRNN: no gate rows).

    Returns:
        Rows with ``gate``, ``sparsity`` and the
        :class:`~tf_expander_pruning.analysis.spectral.SpectralReport` fields, plus
        ``iterative_mean_delta_r`` and ``weighted_gap`` / ``weighted_gap_normalized``
        (``(s1 - s2) / s1`` of ``|W| * mask``).
    """
    weight = np.asarray(weight, np.float64)
    mask = np.asarray(mask, np.float64)
    parts: list[tuple[str, slice]] = [("all", slice(None))]
    if len(gates) > 1:
        units = mask.shape[1] // len(gates)
        parts += [(g, slice(i * units, (i + 1) * units)) for i, g in enumerate(gates)]
    rows = []
    for gate, columns in parts:
        sub_mask = mask[:, columns]
        report = analyze(sub_mask)
        row = {"gate": gate, "sparsity": 1.0 - float(sub_mask.mean())}
        row.update(report.to_dict())
        row.pop("weighted", None)
        row["iterative_mean_delta_r"] = (
            iterative_mean_delta_r(sub_mask) if report.edges else None
        )
        weighted = np.abs(weight[:, columns]) * sub_mask
        if report.edges:
            w_report = analyze(weighted, weighted=True)
            gap = w_report.spectral_gap
            row["weighted_gap"] = gap
            row["weighted_gap_normalized"] = gap / w_report.lambda1 if w_report.lambda1 else None
        else:
            row["weighted_gap"] = row["weighted_gap_normalized"] = None
        rows.append(row)
    return rows


def unrolled_report(
    kernel_mask: np.ndarray, recurrent_mask: np.ndarray, n_gates: int, steps: int
) -> dict | None:
    """Spectral fields (``unrolled_*``) of the layer unrolled over ``steps``, gates merged;
    ``None`` when both masks are empty."""
    from tf_expander_pruning.analysis.unrolled import analyze_unrolled

    units = recurrent_mask.shape[0]
    # Union over gates: x_i -> h_j is an edge when any gate connects them.
    kernel = np.zeros((kernel_mask.shape[0], units), bool)
    recurrent = np.zeros((units, units), bool)
    for g in range(n_gates):
        kernel |= kernel_mask[:, g * units:(g + 1) * units] != 0
        recurrent |= recurrent_mask[:, g * units:(g + 1) * units] != 0
    if not kernel.any() and not recurrent.any():
        return None
    report = analyze_unrolled(kernel.astype(np.float32), recurrent.astype(np.float32), steps)
    return {
        "unrolled_spectral_gap": report.spectral_gap,
        "unrolled_gap_normalized": (
            report.spectral_gap / report.lambda1 if report.lambda1 else None
        ),
        "unrolled_delta_r": report.delta_r,
        "unrolled_lambda1": report.lambda1,
        "unrolled_mu_hat": report.mu_hat,
    }
