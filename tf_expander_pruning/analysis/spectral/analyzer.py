"""One-shot analysis of a graph: :func:`analyze` and the iterative-mean ``Delta_r``."""

from __future__ import annotations

import numpy as np
import scipy.sparse

from tf_expander_pruning.analysis.spectral import solvers
from tf_expander_pruning.analysis.spectral.connectivity import bipartite_components
from tf_expander_pruning.analysis.spectral.dense import dense_route
from tf_expander_pruning.analysis.spectral.graph_input import (
    as_sparse_graph,
    drop_isolated,
    graph_of,
    validate,
)
from tf_expander_pruning.analysis.spectral.report import (
    SpectralReport,
    build_report,
    empty_report,
)
from tf_expander_pruning.core.validation import check_flag

__all__ = ["analyze", "analyze_graph", "iterative_mean_delta_r"]


def analyze(matrix, *, weighted: bool = False, v0: np.ndarray | None = None) -> SpectralReport:
    """Ramanujan analysis of the bipartite graph of a weight matrix or mask.

    Args:
        matrix: 2-D array or SciPy sparse matrix of shape ``(m, n)`` = (inputs, outputs).
            A nonzero entry is an edge.
        weighted: use ``|w|`` of the edges instead of 1 for the spectrum.  The report then has
            the weighted ``spectral_gap = sigma_1 - sigma_2`` and no Ramanujan verdict: the
            bound counts edges and is not comparable with a ``|w|`` spectrum, so ``bound``,
            ``delta_r``, ``delta_s``, ``delta_r_normalized`` and ``is_ramanujan`` are ``None``.
        v0: optional warm-start vector for the singular value solver.

    Returns:
        A :class:`SpectralReport`.  When an average degree is below 3 or the graph is empty the
        bound, ``delta_r`` and ``is_ramanujan`` are ``None`` and ``undefined_reason`` says why.
        ``components`` counts the connected components (isolated nodes dropped); with more
        than one, ``is_ramanujan`` is ``False``.

    Raises:
        ValueError: NaN/inf entries, a rank other than 2, or an empty shape.
        TypeError: ``weighted`` is not a bool.

    Method (after dropping isolated nodes): a dense SVD for tiny graphs; the top eigenvalues of
    the explicit Gram matrix ``B B^T`` (or ``B^T B``) with at most 256 nodes on the smaller side
    (up to 1024 when dense enough); Lanczos on the Gram operator otherwise.  All agree to about
    1e-12 relative; ``v0`` is used by Lanczos only.
    """
    check_flag(weighted, "weighted")
    matrix = validate(matrix)
    dense = dense_route(matrix, weighted)
    if dense is not None:
        return dense.analyze()
    report, _, _ = analyze_graph(graph_of(matrix, weighted), weighted, v0, None)
    return report


def analyze_graph(
    graph: scipy.sparse.csr_matrix, weighted: bool, v0, ncv: int | None
) -> tuple[SpectralReport, np.ndarray | None, tuple[np.ndarray, np.ndarray] | None]:
    """:func:`analyze` of a canonical CSR graph (from :func:`as_sparse_graph`).

    Returns:
        ``(report, vector, (keep_left, keep_right))``: ``vector`` is the solver's start vector
        for the next, similar graph, in the coordinates of the kept nodes of the smaller side
        of the core (``None`` when a dense SVD was used); ``keep_*`` are the indices of the
        nodes that were not dropped (``None`` for an empty graph).
    """
    m, n = graph.shape
    if graph.nnz == 0:
        return empty_report(m, n, weighted), None, None
    core, keep_left, keep_right = drop_isolated(graph)
    sigma, vector = solvers.solve(core, 2, v0, ncv)
    report = build_report(
        m, n, core.shape[0], core.shape[1], int(graph.nnz), sigma, weighted,
        bipartite_components(core),
    )
    return report, vector, (keep_left, keep_right)


def iterative_mean_delta_r(matrix, *, min_group_size: int = 3) -> float | None:
    """Iterative-mean ``Delta_r`` for irregular graphs.

    Left nodes are grouped by degree; each group of at least ``min_group_size`` nodes forms a
    left-regular subgraph (with its isolated right nodes dropped) whose ``Delta_r`` is computed.
    Returns the mean over the groups where ``Delta_r`` is defined, or ``None`` if there is none.
    """
    graph = as_sparse_graph(matrix)
    left_degree = np.diff(graph.indptr)
    values = []
    for degree in np.unique(left_degree[left_degree > 0]):
        rows = np.flatnonzero(left_degree == degree)
        if rows.size < min_group_size:
            continue
        delta_r = analyze(graph[rows]).delta_r
        if delta_r is not None:
            values.append(delta_r)
    return float(np.mean(values)) if values else None
