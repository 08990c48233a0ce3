"""Turning a weight matrix or mask into the graph the analysis reads (NumPy/SciPy only)."""

from __future__ import annotations

import numpy as np
import scipy.sparse

__all__ = ["validate", "as_sparse_graph", "graph_of", "kept_nodes", "drop_isolated"]


def _validate_dense(matrix, argument: str):
    if hasattr(matrix, "numpy") and callable(matrix.numpy):  # tf.Tensor / tf.Variable
        matrix = matrix.numpy()
    try:
        matrix = np.asarray(matrix)
    except Exception as error:  # ragged lists etc.
        raise ValueError(f"`{argument}` must be a 2-D numeric array: {error}") from None
    if matrix.dtype == object or not (
        np.issubdtype(matrix.dtype, np.number) or matrix.dtype == bool
    ):
        raise ValueError(
            f"`{argument}` must be a numeric or boolean array, got dtype {matrix.dtype}."
        )
    if matrix.ndim != 2:
        raise ValueError(
            f"`{argument}` must be a 2-D weight matrix (inputs x outputs), got shape "
            f"{matrix.shape}. Reshape or slice it first."
        )
    return matrix


def validate(matrix, argument: str = "matrix"):
    """Return ``matrix`` as a 2-D NumPy array or a SciPy sparse matrix, or raise ValueError."""
    if scipy.sparse.issparse(matrix):
        if matrix.ndim != 2:
            raise ValueError(f"`{argument}` must be 2-D, got shape {matrix.shape}.")
        data = matrix.tocsr().data
    else:
        matrix = _validate_dense(matrix, argument)
        data = matrix
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"`{argument}` has an empty shape {matrix.shape}; nothing to analyse.")
    if np.issubdtype(np.asarray(data).dtype, np.inexact) and not np.all(np.isfinite(data)):
        raise ValueError(
            f"`{argument}` contains NaN or infinite values; the graph is not defined. "
            "Check the weights for a diverged training run."
        )
    return matrix


def as_sparse_graph(matrix, *, weighted: bool = False) -> scipy.sparse.csr_matrix:
    """CSR float64 matrix of the graph: 1.0 per edge, or ``|w|`` per edge when ``weighted``."""
    return graph_of(validate(matrix), weighted)


def graph_of(matrix, weighted: bool) -> scipy.sparse.csr_matrix:
    """:func:`as_sparse_graph` of a matrix that :func:`validate` has already accepted."""
    csr = scipy.sparse.csr_matrix(matrix)  # no copy when already CSR
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    if np.any(csr.data == 0):  # explicit zeros are not edges
        csr = csr.copy()
        csr.eliminate_zeros()
    data = np.abs(csr.data, dtype=np.float64) if weighted else np.ones(csr.nnz)
    return scipy.sparse.csr_matrix((data, csr.indices, csr.indptr), shape=csr.shape)


def kept_nodes(graph: scipy.sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """``(keep_left, keep_right)``: indices of the nodes that have an edge."""
    keep_left = np.flatnonzero(np.diff(graph.indptr))
    keep_right = np.flatnonzero(np.bincount(graph.indices, minlength=graph.shape[1]))
    return keep_left, keep_right


def drop_isolated(graph: scipy.sparse.csr_matrix):
    """``(core, keep_left, keep_right)``: the graph without its nodes of degree zero."""
    keep_left, keep_right = kept_nodes(graph)
    if keep_left.size == graph.shape[0] and keep_right.size == graph.shape[1]:
        return graph, keep_left, keep_right  # nothing isolated: skip the (slow) slicing
    return graph[keep_left][:, keep_right], keep_left, keep_right
