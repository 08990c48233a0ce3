"""Connected components of a bipartite graph after its isolated nodes are dropped.

Cheap next to the singular values: ``scipy.sparse.csgraph`` on the edges (``O(edges)``), on
the Gram path a breadth-first sweep of the Gram matrix that is already there, and for a small
dense pattern the same sweep on the pattern's Gram matrix (building a CSR costs more there).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

__all__ = ["bipartite_components", "dense_components", "gram_components"]


def bipartite_components(graph) -> int:
    """Components of the bipartite graph of ``graph`` (CSR or dense, nonzero = edge), isolated
    nodes not counted (0 for a graph without edges)."""
    csr = scipy.sparse.csr_matrix(graph)
    if csr.nnz == 0:
        return 0
    m, n = csr.shape
    # Directed edges left -> right in one (m + n)-square matrix; weak connectivity is the
    # undirected bipartite graph's, with no transpose or block matrix built.
    indptr = np.concatenate([csr.indptr, np.full(n, csr.indptr[-1], dtype=csr.indptr.dtype)])
    adjacency = scipy.sparse.csr_matrix(
        (np.ones(csr.nnz, dtype=np.int8), csr.indices + m, indptr), shape=(m + n, m + n)
    )
    count, _ = scipy.sparse.csgraph.connected_components(
        adjacency, directed=True, connection="weak"
    )
    isolated = int(np.count_nonzero(np.diff(csr.indptr) == 0))
    isolated += n - int(np.count_nonzero(np.bincount(csr.indices, minlength=n)))
    return int(count) - isolated


def dense_components(nonzero: np.ndarray) -> int:
    """:func:`bipartite_components` of a dense ``(m, n)`` edge pattern (``nonzero``, bool),
    through the ``min(m, n)``-square Gram matrix of the pattern (:func:`gram_components`):
    no CSR to build, which for the small gate matrices of a recurrent layer costs more than
    the count.  Exact: the products of 0/1 entries are nonnegative counts."""
    pattern = np.asarray(nonzero, dtype=np.float32)
    gram = pattern @ pattern.T if pattern.shape[0] <= pattern.shape[1] else pattern.T @ pattern
    return gram_components(gram)


def gram_components(gram: np.ndarray) -> int:
    """Components of a bipartite graph from its (nonnegative) Gram matrix on one side.

    Two nodes of that side share a neighbour iff their Gram entry is positive, and every
    non-isolated node of the other side hangs on one of them, so the bipartite components
    are the components of ``gram > 0`` over the nodes with a positive diagonal.  An expander
    has a small diameter: a sweep from one node reaches all in a few steps (about 0.1 ms at
    256 nodes), and csgraph counts the components only when it does not.
    """
    adjacency = gram > 0
    alive = np.diagonal(adjacency)
    total = int(np.count_nonzero(alive))
    if total == 0:
        return 0
    reached = adjacency[int(np.argmax(alive))].copy()
    count = int(np.count_nonzero(reached))
    while count < total:
        grown = adjacency[reached].any(axis=0)
        grown_count = int(np.count_nonzero(grown))
        if grown_count == count:
            break
        reached, count = grown, grown_count
    if count == total:
        return 1
    index = np.flatnonzero(alive)
    components, _ = scipy.sparse.csgraph.connected_components(
        adjacency[np.ix_(index, index)], directed=False
    )
    return int(components)
