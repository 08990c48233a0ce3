"""Spectral analysis of a bipartite weight graph (NumPy/SciPy only, no TensorFlow).

A weight matrix ``B`` of shape ``(m, n)`` is read as a bipartite graph: ``m`` left (input) nodes,
``n`` right (output) nodes and an edge wherever ``B`` is nonzero.  Its adjacency
``A = [[0, B], [B^T, 0]]`` has eigenvalues ``+/-`` the singular values of ``B`` (plus zeros), so
the two numbers the Ramanujan test needs, ``lambda_1`` and ``mu_hat`` (the largest and second
largest eigenvalue of ``A``), are the two largest singular values of ``B``.  The
``(m + n) x (m + n)`` adjacency is never built.

Definitions (see DESIGN.md):

* nodes of degree zero are dropped on both sides; ``d_left = edges / m'``,
  ``d_right = edges / n'`` are the average degrees of what remains;
* ``bound = sqrt(d_left - 1) + sqrt(d_right - 1)`` (Ramanujan bound of an irregular bipartite
  graph), defined only when both average degrees are at least 3;
* ``delta_r = bound - mu_hat``; the graph is Ramanujan iff ``delta_r >= 0`` and it is
  connected (one component once isolated nodes are dropped);
* ``delta_s = 2 sqrt(lambda_1 - 1) - mu_hat`` (spectral gap against the degree bound);
* ``delta_r_normalized = delta_r / bound``;
* a weighted graph (``|w|`` on the edges) gets ``spectral_gap = sigma_1 - sigma_2`` and no
  Ramanujan verdict: the bound counts edges.

The package is small modules, one step each: ``graph_input`` (validation, CSR), ``solvers``
(the two top singular values), ``connectivity`` (components), ``report`` (the
:class:`SpectralReport` and its numbers), ``dense`` and ``analyzer`` (:func:`analyze`),
``fingerprint``, ``warm`` and ``cache`` (:class:`SpectralCache`).  Only NumPy and SciPy are
imported: ``import tf_expander_pruning.spectral`` does not load TensorFlow.
"""

from __future__ import annotations

from tf_expander_pruning.analysis.spectral.analyzer import analyze, iterative_mean_delta_r
from tf_expander_pruning.analysis.spectral.cache import SpectralCache
from tf_expander_pruning.analysis.spectral.graph_input import as_sparse_graph
from tf_expander_pruning.analysis.spectral.report import (
    MIN_AVERAGE_DEGREE,
    SpectralReport,
    ramanujan_bound,
)
from tf_expander_pruning.analysis.spectral.solvers import top_singular_values

__all__ = [
    "MIN_AVERAGE_DEGREE",
    "SpectralReport",
    "analyze",
    "ramanujan_bound",
    "top_singular_values",
    "iterative_mean_delta_r",
    "as_sparse_graph",
    "SpectralCache",
]
