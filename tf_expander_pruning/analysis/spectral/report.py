"""The :class:`SpectralReport` of a bipartite graph and the numbers derived from its spectrum.

Definitions (see DESIGN.md): ``d_left = edges / m'`` and ``d_right = edges / n'`` over the
nodes that have an edge; ``bound = sqrt(d_left - 1) + sqrt(d_right - 1)``, defined only when
both are at least 3; ``delta_r = bound - mu_hat``; ``delta_s = 2 sqrt(lambda_1 - 1) - mu_hat``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "MIN_AVERAGE_DEGREE",
    "WEIGHTED_REASON",
    "SpectralReport",
    "ramanujan_bound",
    "build_report",
    "empty_report",
]

#: The Ramanujan bound is only meaningful when both average degrees are at least this.
MIN_AVERAGE_DEGREE = 3.0

#: ``undefined_reason`` of every weighted report: its spectrum is of ``|w|``, the bound counts
#: edges, so the two are not comparable (DESIGN.md, "Weighted variant").
WEIGHTED_REASON = (
    "weighted graph: the Ramanujan bound counts edges and is not comparable with a |w| "
    "spectrum; see spectral_gap"
)


@dataclass(frozen=True)
class SpectralReport:
    """Result of :func:`~tf_expander_pruning.analysis.spectral.analyze`.

    Degrees are edges per node; spectra are unitless.  Fields that cannot be defined for the
    graph (see ``undefined_reason``) are ``None``.  A weighted report (``weighted=True``) has
    its ``spectral_gap`` and no Ramanujan verdict: ``bound``, ``delta_r``, ``delta_s``,
    ``delta_r_normalized`` and ``is_ramanujan`` are ``None``.  ``components`` counts the
    connected components after isolated nodes are dropped; a graph of more than one is not an
    expander, so its ``is_ramanujan`` is ``False`` whatever ``delta_r`` says.
    """

    n_left: int
    n_right: int
    dropped_left: int
    dropped_right: int
    edges: int
    density: float
    d_left: float | None
    d_right: float | None
    lambda1: float | None
    mu_hat: float | None
    bound: float | None
    delta_r: float | None
    delta_s: float | None
    delta_r_normalized: float | None
    is_ramanujan: bool | None
    undefined_reason: str | None
    weighted: bool = False
    spectral_gap: float | None = None
    components: int | None = None

    @property
    def sparsity(self) -> float:
        """Fraction of the ``n_left * n_right`` possible edges that are absent."""
        return 1.0 - self.density

    @property
    def is_connected(self) -> bool | None:
        """True for one component (isolated nodes dropped); ``None`` for an empty graph."""
        if not self.components:
            return None
        return self.components == 1

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (JSON serialisable)."""
        return asdict(self)


def ramanujan_bound(d_left: float, d_right: float) -> float | None:
    """Ramanujan bound ``sqrt(d_left - 1) + sqrt(d_right - 1)`` of a bipartite graph.

    Args:
        d_left, d_right: average left / right degree (edges per node).

    Returns:
        The bound, or ``None`` when either degree is below 3 (the bound is not meaningful there).

    Raises:
        ValueError: a degree is negative, NaN or infinite.
    """
    for name, value in (("d_left", d_left), ("d_right", d_right)):
        if value is None or not math.isfinite(float(value)) or float(value) < 0:
            raise ValueError(f"`{name}` must be a finite, non-negative degree; got {value!r}.")
    if d_left < MIN_AVERAGE_DEGREE or d_right < MIN_AVERAGE_DEGREE:
        return None
    return math.sqrt(d_left - 1.0) + math.sqrt(d_right - 1.0)


def empty_report(m: int, n: int, weighted: bool) -> SpectralReport:
    """The report of an ``(m, n)`` graph without edges."""
    return SpectralReport(
        n_left=m, n_right=n, dropped_left=m, dropped_right=n, edges=0, density=0.0,
        d_left=None, d_right=None, lambda1=None, mu_hat=None, bound=None, delta_r=None,
        delta_s=None, delta_r_normalized=None, is_ramanujan=None,
        undefined_reason="empty graph (every weight is pruned)", weighted=weighted,
        spectral_gap=None, components=0,
    )


def _low_degree_reason(d_left: float, d_right: float) -> str:
    low = [
        f"{side} average degree {d:.2f} < 3"
        for side, d in (("left", d_left), ("right", d_right))
        if d < MIN_AVERAGE_DEGREE
    ]
    return " and ".join(low) + " (the Ramanujan bound needs both >= 3)"


def build_report(
    m: int, n: int, m_core: int, n_core: int, edges: int, sigma: np.ndarray, weighted: bool,
    components: int,
) -> SpectralReport:
    """The report of an ``(m, n)`` graph with ``edges`` edges, ``m_core x n_core`` nodes that
    have an edge, top singular values ``sigma`` (descending, at least two) and ``components``
    connected components."""
    d_left, d_right = edges / m_core, edges / n_core
    lambda1, mu_hat = float(sigma[0]), float(sigma[1])
    bound = delta_r = normalized = is_ramanujan = delta_s = None
    if weighted:
        reason = WEIGHTED_REASON
    else:
        bound = ramanujan_bound(d_left, d_right)
        if bound is None:
            reason = _low_degree_reason(d_left, d_right)
        else:
            reason = None
            delta_r = bound - mu_hat
            normalized = delta_r / bound
            # A disconnected graph is not an expander: its other components' top singular
            # values hide among the "nontrivial" ones and may still sit below the bound.
            is_ramanujan = bool(delta_r >= 0.0) and components == 1
        delta_s = 2.0 * math.sqrt(lambda1 - 1.0) - mu_hat if lambda1 >= 1.0 else None
    return SpectralReport(
        n_left=m, n_right=n, dropped_left=m - m_core, dropped_right=n - n_core, edges=edges,
        density=edges / float(m * n), d_left=d_left, d_right=d_right, lambda1=lambda1,
        mu_hat=mu_hat, bound=bound, delta_r=delta_r, delta_s=delta_s,
        delta_r_normalized=normalized, is_ramanujan=is_ramanujan, undefined_reason=reason,
        weighted=weighted, spectral_gap=lambda1 - mu_hat, components=components,
    )
