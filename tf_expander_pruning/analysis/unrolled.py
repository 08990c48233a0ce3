"""The graph of a recurrent layer unrolled over ``T`` time steps (NumPy/SciPy only).

Nodes, in time order: ``x_1, h_1, x_2, h_2, ..., x_T, h_T`` (``n_in`` input nodes and ``units``
hidden nodes per step, ``T * (n_in + units)`` in all).  Edges: ``x_t -> h_t`` through the kernel
mask ``W_xh`` and ``h_{t-1} -> h_t`` through the recurrent mask ``W_hh``.

Ordered by time, the directed adjacency (row = target, column = source) is block lower
bidiagonal and block Toeplitz: the same ``(n_in + units)``-square block ``D`` on the diagonal
(``x_t -> h_t``) and the same block ``S`` below it (``h_{t-1} -> h_t``).

The undirected graph is bipartite (colour ``h_t`` by the parity of ``t`` and ``x_t`` by the
opposite parity), so :func:`analyze_unrolled` runs the ordinary bipartite Ramanujan analysis of
:mod:`tf_expander_pruning.analysis.spectral` on its biadjacency; the eigenvalues of the symmetric
adjacency are ``+/-`` its singular values.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from tf_expander_pruning.analysis.spectral import SpectralReport, analyze, as_sparse_graph

__all__ = [
    "unrolled_graph",
    "unrolled_adjacency",
    "unrolled_biadjacency",
    "analyze_unrolled",
]


def _check(kernel_mask, recurrent_mask, steps: int):
    kernel = as_sparse_graph(kernel_mask)
    recurrent = as_sparse_graph(recurrent_mask)
    units = kernel.shape[1]
    if recurrent.shape != (units, units):
        raise ValueError(
            f"recurrent_mask must be square with the kernel's {units} hidden units, "
            f"got {recurrent.shape} for a kernel of shape {kernel.shape}."
        )
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"`steps` must be a positive integer, got {steps!r}.")
    return kernel, recurrent, int(steps)


def unrolled_graph(kernel_mask, recurrent_mask, steps: int) -> scipy.sparse.csr_matrix:
    """Directed adjacency of the unrolled layer, block lower-bidiagonal and block Toeplitz.

    Args:
        kernel_mask: ``(n_in, units)`` mask of ``W_xh`` (nonzero = edge).
        recurrent_mask: ``(units, units)`` mask of ``W_hh``.
        steps: number of time steps ``T``.

    Returns:
        CSR matrix of shape ``(T*(n_in+units), T*(n_in+units))``; entry ``[target, source]``
        is 1 for every edge.  Block ``(t, t)`` holds ``x_t -> h_t``, block ``(t, t-1)``
        ``h_{t-1} -> h_t``.
    """
    kernel, recurrent, steps = _check(kernel_mask, recurrent_mask, steps)
    n_in, units = kernel.shape
    # Within one step's block [x_t, h_t]: rows/cols 0..n_in-1 are x_t, the rest h_t.
    zeros_in = scipy.sparse.csr_matrix((n_in, n_in))
    zeros_units = scipy.sparse.csr_matrix((units, units))
    diagonal = scipy.sparse.bmat([[zeros_in, None], [kernel.T, zeros_units]], format="csr")
    below = scipy.sparse.bmat([[zeros_in, None], [None, recurrent.T]], format="csr")
    identity = scipy.sparse.identity(steps, format="csr")
    shift = scipy.sparse.eye(steps, k=-1, format="csr")
    graph = scipy.sparse.kron(identity, diagonal) + scipy.sparse.kron(shift, below)
    return graph.tocsr()


def unrolled_adjacency(kernel_mask, recurrent_mask, steps: int) -> scipy.sparse.csr_matrix:
    """Symmetric (undirected) adjacency ``G + G^T`` of :func:`unrolled_graph`."""
    graph = unrolled_graph(kernel_mask, recurrent_mask, steps)
    return (graph + graph.T).tocsr()


def unrolled_biadjacency(kernel_mask, recurrent_mask, steps: int) -> scipy.sparse.csr_matrix:
    """Biadjacency of the (bipartite) unrolled graph.

    Left nodes: ``h_t`` for odd ``t`` and ``x_t`` for even ``t``; right nodes: the rest, each side
    in time order.  Every edge joins nodes of different colour.
    """
    kernel, recurrent, steps = _check(kernel_mask, recurrent_mask, steps)
    n_in, units = kernel.shape
    adjacency = unrolled_adjacency(kernel, recurrent, steps)
    step = n_in + units
    left, right = [], []
    for t in range(1, steps + 1):
        x_nodes = np.arange((t - 1) * step, (t - 1) * step + n_in)
        h_nodes = np.arange((t - 1) * step + n_in, t * step)
        (left if t % 2 else right).append(h_nodes)
        (right if t % 2 else left).append(x_nodes)
    left_nodes = np.concatenate(left)
    right_nodes = np.concatenate(right)
    return adjacency[left_nodes][:, right_nodes].tocsr()


def analyze_unrolled(kernel_mask, recurrent_mask, steps: int) -> SpectralReport:
    """Bipartite Ramanujan analysis of the layer unrolled over ``steps`` time steps."""
    return analyze(unrolled_biadjacency(kernel_mask, recurrent_mask, steps))
