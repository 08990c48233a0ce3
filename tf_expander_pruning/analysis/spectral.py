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
* ``delta_r = bound - mu_hat``; the graph is Ramanujan iff ``delta_r >= 0``;
* ``delta_s = 2 sqrt(lambda_1 - 1) - mu_hat`` (spectral gap against the degree bound);
* ``delta_r_normalized = delta_r / bound``.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Hashable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

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

#: The Ramanujan bound is only meaningful when both average degrees are at least this.
MIN_AVERAGE_DEGREE = 3.0

# Up to this many matrix entries a dense SVD (exact, also for sigma ~ 0) is cheap enough.
_DENSE_SVD_MAX_ENTRIES = 32 * 32
# The Gram path (top eigenvalues of the explicit Gram matrix: one BLAS product and LAPACK's
# MRRR on the selected pair) costs ~s^2 L + s^3 for s x L (s the smaller side) whatever the
# density; Lanczos costs a constant plus ~100 sparse products, i.e. grows with the edges.
# Measured single-threaded here (ms): 256 x 1024 Gram 3.5 vs Lanczos 7.8 (10 % dense) and
# 23.7 (50 %); 512 x 2048 18.9 vs 21.4 / 77; 1024 x 4096 143 vs 120 / 1123.  Up to 256 nodes
# the Gram path always wins; up to 1024 it is taken when the cost model below says it wins.
_DENSE_GRAM_ALWAYS_SIDE = 256
_DENSE_GRAM_MAX_SIDE = 1024
_DENSE_GRAM_MAX_ENTRIES = 1 << 22
_GRAM_MS_PER_PRODUCT_TERM = 2.0e-8  # per s^2 L
_GRAM_MS_PER_EIGEN_TERM = 6.3e-8  # per s^3
_LANCZOS_MS = 4.0
_LANCZOS_MS_PER_EDGE = 1.5e-4
# Squaring into the Gram matrix costs sigma_k about eps * (sigma_1 / sigma_k)^2 of relative
# accuracy; below this ratio the answer is recomputed by a dense SVD.
_GRAM_MIN_RELATIVE_SIGMA = 1e-3
# SpectralCache keeps a key's dense matrix and Gram matrix (for row-wise updates) up to this
# many entries (8 MB of float64 for the matrix).
_GRAM_CACHE_MAX_ENTRIES = 1 << 20

# Krylov space of a cold Lanczos run: wide, so the bulk edge (where sigma_2 sits) needs few
# restarts from a random start.
_COLD_NCV = 96
# Krylov space of a warm run: a start close to the top singular vectors converges in far fewer
# steps, and ARPACK always builds the full space before its first convergence test, so a
# smaller space is what lets a warm start finish early.
_WARM_NCV = 16
# Weight of the seeded random vector blended into a warm start: keeps every direction (e.g. a
# newly connected component that the previous vector has no weight on) present in the start.
_WARM_RANDOM_WEIGHT = 0.05


@dataclass(frozen=True)
class SpectralReport:
    """Result of :func:`analyze`. Degrees are edges per node; spectra are unitless.

    Fields that cannot be defined for the graph (see ``undefined_reason``) are ``None``.
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

    @property
    def sparsity(self) -> float:
        """Fraction of the ``n_left * n_right`` possible edges that are absent."""
        return 1.0 - self.density

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


def _validate(matrix, argument: str = "matrix"):
    """Return ``matrix`` as a 2-D NumPy array or a SciPy sparse matrix, or raise ValueError."""
    if scipy.sparse.issparse(matrix):
        if matrix.ndim != 2:
            raise ValueError(f"`{argument}` must be 2-D, got shape {matrix.shape}.")
        data = matrix.tocsr().data
    else:
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
    return _graph_of(_validate(matrix), weighted)


def _graph_of(matrix, weighted: bool) -> scipy.sparse.csr_matrix:
    """:func:`as_sparse_graph` of a matrix that :func:`_validate` has already accepted."""
    csr = scipy.sparse.csr_matrix(matrix)  # no copy when already CSR
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    if np.any(csr.data == 0):  # explicit zeros are not edges
        csr = csr.copy()
        csr.eliminate_zeros()
    data = np.abs(csr.data, dtype=np.float64) if weighted else np.ones(csr.nnz)
    return scipy.sparse.csr_matrix((data, csr.indices, csr.indptr), shape=csr.shape)


def top_singular_values(
    matrix,
    k: int = 2,
    *,
    v0: np.ndarray | None = None,
    return_vector: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
    """The ``k`` largest singular values of a 2-D matrix, in descending order.

    Missing values (``k > min(shape)``) are 0, which is what the bipartite adjacency has there.
    Tiny matrices use a dense SVD; those with at most 256 nodes on the smaller side (up to 1024
    when they are dense enough) the top eigenvalues of the explicit Gram matrix; others Lanczos
    (ARPACK) on the smaller Gram operator of the sparse matrix, optionally warm-started with
    ``v0`` (a vector of length ``min(shape)`` from a previous call).

    Returns:
        ``sigma`` (shape ``(k,)``), or ``(sigma, v)`` with ``v`` a start vector for the next call
        (``None`` when a dense method was used) when ``return_vector`` is true.
    """
    sigma, vector = _top_singular_values(matrix, k, v0, None)
    return (sigma, vector) if return_vector else sigma


def _top_singular_values(matrix, k: int, v0, ncv: int | None):
    """:func:`top_singular_values` with the Lanczos space size exposed (``None``: cold size)."""
    vector = None
    solver = _solver(*matrix.shape, _nonzeros(matrix), k)
    if solver == "lanczos":
        sigma, vector = _gram_lanczos(matrix, k, v0, ncv=ncv)
    else:
        dense = matrix.toarray() if scipy.sparse.issparse(matrix) else np.asarray(matrix)
        dense = dense.astype(np.float64, copy=False)
        if solver == "svd":
            sigma = scipy.linalg.svdvals(dense)
        else:
            sigma = _gram_top_singular_values(_gram(dense), dense, k)
    sigma = np.sort(np.asarray(sigma, dtype=np.float64))[::-1][:k]
    if sigma.shape[0] < k:
        sigma = np.concatenate([sigma, np.zeros(k - sigma.shape[0])])
    sigma = np.maximum(sigma, 0.0)
    return sigma, vector


def _solver(m: int, n: int, edges: int, k: int = 2) -> str:
    """How the top ``k`` singular values of an ``(m, n)`` matrix with ``edges`` nonzeros are
    computed: ``"svd"`` (tiny, or rank at most ``k + 1``), ``"gram"`` or ``"lanczos"``."""
    if m * n <= _DENSE_SVD_MAX_ENTRIES or min(m, n) <= k + 1:
        return "svd"
    return "gram" if _dense_gram_fits(m, n, edges) else "lanczos"


def _dense_gram_fits(m: int, n: int, edges: int) -> bool:
    """Does an ``(m, n)`` matrix with ``edges`` nonzeros (large enough not to take the dense
    SVD) use the Gram path rather than Lanczos?  A cost model fitted on this machine."""
    small, large = min(m, n), max(m, n)
    if small > _DENSE_GRAM_MAX_SIDE or m * n > _DENSE_GRAM_MAX_ENTRIES:
        return False
    if small <= _DENSE_GRAM_ALWAYS_SIDE:
        return True
    gram_ms = (
        _GRAM_MS_PER_PRODUCT_TERM * small * small * large
        + _GRAM_MS_PER_EIGEN_TERM * small**3
    )
    return gram_ms <= _LANCZOS_MS + _LANCZOS_MS_PER_EDGE * edges


def _nonzeros(matrix) -> int:
    return int(matrix.nnz) if scipy.sparse.issparse(matrix) else int(np.count_nonzero(matrix))


def _gram(dense: np.ndarray) -> np.ndarray:
    """The smaller Gram matrix, ``B B^T`` (m <= n) or ``B^T B``; exact for 0/1 entries."""
    return dense @ dense.T if dense.shape[0] <= dense.shape[1] else dense.T @ dense


def _gram_top_singular_values(gram: np.ndarray, dense: np.ndarray, k: int) -> np.ndarray:
    """Top ``k`` singular values of ``dense`` (descending) from its Gram matrix ``gram``.

    LAPACK's MRRR (``?syevr``) computes only the selected top ``k`` eigenvalues.  When
    ``sigma_k`` is tiny against ``sigma_1`` the squared spectrum has lost its digits and the
    values come from a dense SVD of ``dense`` instead.
    """
    size = gram.shape[0]
    values = scipy.linalg.eigh(
        gram, eigvals_only=True, subset_by_index=[size - k, size - 1], driver="evr",
        check_finite=False,
    )
    sigma = np.sqrt(np.maximum(values[::-1], 0.0))
    if sigma[-1] <= _GRAM_MIN_RELATIVE_SIGMA * sigma[0]:
        sigma = scipy.linalg.svdvals(dense)[:k]
    return sigma


def _gram_lanczos(matrix, k: int, v0, *, ncv: int | None = None):
    """Top ``k`` singular values from Lanczos (ARPACK) on the smaller Gram operator.

    ``B B^T`` (or ``B^T B``) squares the spectrum, which widens the relative gap below
    ``sigma_2`` and roughly halves the iterations compared with the ``(m+n)``-square adjacency;
    the Gram matrix itself is never formed (two sparse products per step).
    """
    sparse = scipy.sparse.csr_matrix(matrix, dtype=np.float64)
    transposed = sparse.T.tocsr()
    m, n = sparse.shape
    if m <= n:
        size, matvec = m, (lambda v: sparse @ (transposed @ v))
    else:
        size, matvec = n, (lambda v: transposed @ (sparse @ v))
    operator = scipy.sparse.linalg.LinearOperator((size, size), matvec=matvec, dtype=np.float64)
    if v0 is None or np.shape(v0) != (size,):
        # Seeded, so results repeat; random, so no eigenvector is missed by symmetry (an
        # all-ones start is orthogonal to sigma_2's vector of two identical disjoint blocks).
        v0 = np.random.default_rng(0).standard_normal(size)
    # Cold: a wide Krylov space (fewer restarts near the bulk edge, where sigma_2 sits);
    # a warm start passes a smaller one.
    ncv = min(size, max(2 * k + 1, _COLD_NCV if ncv is None else ncv))
    try:
        values, vectors = scipy.sparse.linalg.eigsh(
            operator, k=k, which="LA", ncv=ncv, tol=1e-10, v0=v0
        )
    except scipy.sparse.linalg.ArpackNoConvergence:
        return scipy.linalg.svdvals(sparse.toarray()), None
    order = np.argsort(values)[::-1]
    # A start vector for the next, similar matrix: the sum of the found eigenvectors.
    return np.sqrt(np.maximum(values, 0.0)), vectors[:, order].sum(axis=1)


def _kept_nodes(graph: scipy.sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """``(keep_left, keep_right)``: indices of the nodes with an edge (as :func:`analyze`)."""
    keep_left = np.flatnonzero(np.diff(graph.indptr))
    keep_right = np.flatnonzero(np.bincount(graph.indices, minlength=graph.shape[1]))
    return keep_left, keep_right


def _drop_isolated(graph: scipy.sparse.csr_matrix):
    keep_left, keep_right = _kept_nodes(graph)
    if keep_left.size == graph.shape[0] and keep_right.size == graph.shape[1]:
        return graph, keep_left, keep_right  # nothing isolated: skip the (slow) slicing
    return graph[keep_left][:, keep_right], keep_left, keep_right


def _dense_route(matrix, weighted: bool, nonzero: np.ndarray | None = None) -> _DenseGraph | None:
    """The :class:`_DenseGraph` of a validated dense input that needs no CSR (its core takes a
    dense method, or the graph is empty), else ``None`` (sparse input, or Lanczos).
    ``nonzero``: ``matrix != 0`` if the caller has it already."""
    if scipy.sparse.issparse(matrix) or matrix.size > _DENSE_GRAM_MAX_ENTRIES:
        return None
    dense = _DenseGraph(matrix, weighted, nonzero)
    return dense if dense.solver is not None else None


def analyze(matrix, *, weighted: bool = False, v0: np.ndarray | None = None) -> SpectralReport:
    """Ramanujan analysis of the bipartite graph of a weight matrix or mask.

    Args:
        matrix: 2-D array or SciPy sparse matrix of shape ``(m, n)`` = (inputs, outputs).
            A nonzero entry is an edge.
        weighted: use ``|w|`` of the edges instead of 1 for the spectrum (degrees and the bound
            still count edges).
        v0: optional warm-start vector for the singular value solver.

    Returns:
        A :class:`SpectralReport`.  When an average degree is below 3 or the graph is empty the
        bound, ``delta_r`` and ``is_ramanujan`` are ``None`` and ``undefined_reason`` says why.

    Raises:
        ValueError: NaN/inf entries, a rank other than 2, or an empty shape.

    Method (after dropping isolated nodes): a dense SVD for tiny graphs; the top eigenvalues of
    the explicit Gram matrix ``B B^T`` (or ``B^T B``) with at most 256 nodes on the smaller side
    (up to 1024 when dense enough); Lanczos on the Gram operator otherwise.  All agree to about
    1e-12 relative; ``v0`` is used by Lanczos only.
    """
    matrix = _validate(matrix)
    dense = _dense_route(matrix, weighted)
    if dense is not None:
        return dense.analyze()
    report, _, _ = _analyze_graph(_graph_of(matrix, weighted), weighted, v0, None)
    return report


def _analyze_graph(
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
        return _empty_report(m, n, weighted), None, None
    core, keep_left, keep_right = _drop_isolated(graph)
    sigma, vector = _top_singular_values(core, 2, v0, ncv)
    report = _report(m, n, core.shape[0], core.shape[1], int(graph.nnz), sigma, weighted)
    return report, vector, (keep_left, keep_right)


def _empty_report(m: int, n: int, weighted: bool) -> SpectralReport:
    return SpectralReport(
        n_left=m, n_right=n, dropped_left=m, dropped_right=n, edges=0, density=0.0,
        d_left=None, d_right=None, lambda1=None, mu_hat=None, bound=None, delta_r=None,
        delta_s=None, delta_r_normalized=None, is_ramanujan=None,
        undefined_reason="empty graph (every weight is pruned)", weighted=weighted,
        spectral_gap=None,
    )


def _report(
    m: int, n: int, m_core: int, n_core: int, edges: int, sigma: np.ndarray, weighted: bool
) -> SpectralReport:
    """The report of a graph with ``edges`` edges, ``m_core x n_core`` non-isolated nodes and
    top singular values ``sigma`` (descending, at least two)."""
    density = edges / float(m * n)
    d_left = edges / m_core
    d_right = edges / n_core
    lambda1, mu_hat = float(sigma[0]), float(sigma[1])
    bound = ramanujan_bound(d_left, d_right)
    if bound is None:
        low = [
            f"{side} average degree {d:.2f} < 3"
            for side, d in (("left", d_left), ("right", d_right))
            if d < MIN_AVERAGE_DEGREE
        ]
        reason = " and ".join(low) + " (the Ramanujan bound needs both >= 3)"
        delta_r = normalized = is_ramanujan = None
    else:
        reason = None
        delta_r = bound - mu_hat
        normalized = delta_r / bound
        is_ramanujan = bool(delta_r >= 0.0)
    delta_s = 2.0 * math.sqrt(lambda1 - 1.0) - mu_hat if lambda1 >= 1.0 else None
    return SpectralReport(
        n_left=m, n_right=n, dropped_left=m - m_core, dropped_right=n - n_core, edges=edges,
        density=density, d_left=d_left, d_right=d_right, lambda1=lambda1, mu_hat=mu_hat,
        bound=bound, delta_r=delta_r, delta_s=delta_s, delta_r_normalized=normalized,
        is_ramanujan=is_ramanujan, undefined_reason=reason, weighted=weighted,
        spectral_gap=lambda1 - mu_hat,
    )


class _DenseGraph:
    """A dense 2-D input read as a graph without building its CSR: the edge values (1.0 or
    ``|w|``, float64) and the degree counts.  Used wherever the core takes a dense method."""

    def __init__(
        self, array: np.ndarray, weighted: bool, nonzero: np.ndarray | None = None
    ) -> None:
        nonzero = array != 0 if nonzero is None else nonzero
        self.weighted = weighted
        self._array, self._nonzero = array, nonzero
        self.shape = array.shape
        self.left_degree = np.count_nonzero(nonzero, axis=1)
        self.right_degree = np.count_nonzero(nonzero, axis=0)
        self.edges = int(self.left_degree.sum())
        self.core_shape = (
            int(np.count_nonzero(self.left_degree)), int(np.count_nonzero(self.right_degree))
        )

    @functools.cached_property
    def values(self) -> np.ndarray:
        """Edge values, float64 (1.0 or ``|w|``); built only when a dense method needs them."""
        if self.weighted:
            return np.abs(self._array, dtype=np.float64)
        return self._nonzero.astype(np.float64)

    @property
    def solver(self) -> str | None:
        """What :func:`analyze` does with the core: ``"empty"``, ``"svd"`` (a dense SVD of the
        core), ``"gram"`` (the Gram path), or ``None`` (Lanczos, which needs the CSR)."""
        if self.edges == 0:
            return "empty"
        solver = _solver(*self.core_shape, self.edges)
        return None if solver == "lanczos" else solver

    def analyze(self) -> SpectralReport:
        """The report, computed without a CSR (for a :attr:`solver` other than ``None``)."""
        if self.solver == "empty":
            return _empty_report(*self.shape, self.weighted)
        if self.solver == "svd":
            core = self.values[self.left_degree > 0][:, self.right_degree > 0]
            sigma, _ = _top_singular_values(core, 2, None, None)
        else:
            # Isolated nodes only add zero rows and columns to the Gram matrix: no need to
            # drop them for the spectrum.
            sigma = _gram_top_singular_values(_gram(self.values), self.values, 2)
        return self.report(sigma)

    def report(self, sigma: np.ndarray) -> SpectralReport:
        m, n = self.shape
        return _report(m, n, *self.core_shape, self.edges, sigma, self.weighted)


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


@dataclass
class _CacheEntry:
    """What :class:`SpectralCache` keeps per key between two checks."""

    fingerprint: bytes | None  # sparse input (or a dense one too large to keep): a hash
    report: SpectralReport
    # Start vector for the next solve, scattered to the full (un-dropped) node set of `side`:
    # entries of dropped nodes are 0.  None when the last solve was dense or the graph empty.
    vector: np.ndarray | None
    side: str | None  # "left" or "right": which side the Gram operator (and vector) lives on
    # Dense input (up to _DENSE_GRAM_MAX_ENTRIES): the graph itself, ``matrix != 0`` (bool) or
    # ``|w|`` (weighted), compared directly instead of hashing.  None for sparse input.
    identity: np.ndarray | None = None
    # Gram path: the Gram matrix of the last graph, for a row-wise update (up to
    # _GRAM_CACHE_MAX_ENTRIES matrix entries).  None otherwise.
    gram: np.ndarray | None = None


def _fingerprint(graph: scipy.sparse.csr_matrix, weighted: bool) -> bytes:
    """Exact identity of a canonical CSR graph: shape, structure and (if weighted) values."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(b"csr" + np.asarray(graph.shape, dtype=np.int64).tobytes())
    digest.update(b"w" if weighted else b"u")
    # indptr/indices dtypes differ (int32/int64) with size: hash the values, not the dtype.
    digest.update(np.ascontiguousarray(graph.indptr, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(graph.indices, dtype=np.int64).tobytes())
    if weighted:
        digest.update(np.ascontiguousarray(graph.data, dtype=np.float64).tobytes())
    return digest.digest()


def _dense_fingerprint(array: np.ndarray, weighted: bool) -> bytes:
    """Exact identity of the graph of a validated dense array, without building its CSR.

    The 0/1 graph is the bit pattern of ``array != 0`` (packed 8 entries a byte); a weighted
    graph also needs ``|w|``.  A cache hit on a dense mask then costs a packbits and a hash
    instead of a dense-to-sparse conversion.  Dense and sparse inputs hash differently (a
    change of input kind costs one solve, never a wrong hit).
    """
    digest = hashlib.blake2b(digest_size=20)
    digest.update(b"dense" + np.asarray(array.shape, dtype=np.int64).tobytes())
    digest.update(b"w" if weighted else b"u")
    digest.update(np.packbits(array != 0).tobytes())
    if weighted:
        digest.update(np.abs(np.asarray(array, dtype=np.float64)).tobytes())
    return digest.digest()


class SpectralCache:
    """Repeated :func:`analyze` of graphs that change a little between calls (stateful).

    A pruning callback checks the same weight matrices again after every mask update, and
    between two updates only a few connections change (often none).  ``SpectralCache`` keeps,
    per caller-chosen ``key`` (e.g. ``("lstm", "W_hh", None)``), the last graph's exact
    fingerprint, its report and the solver's final vector, and on the next call:

    * returns the cached :class:`SpectralReport` (the same object) when the graph is unchanged:
      a dense input (up to 2^22 entries) is compared exactly with the kept ``matrix != 0``
      (or ``|w|`` for ``weighted=True``); a sparse or larger input by a 160-bit BLAKE2b hash of
      the shape and the exact structure (CSR ``indptr``/``indices`` after dropping explicit
      zeros, or the bits of ``matrix != 0``) and, weighted, the ``|w|`` values.  Dense and
      sparse inputs never match each other, so switching input kind for a key costs one
      (warm) solve, never a wrong hit;
    * otherwise, for a dense input on the Gram path (at most 256 nodes on the smaller side,
      see :func:`analyze`), recomputes only the rows and columns of the Gram matrix
      that belong to nodes whose edges changed (a full product when more than half did), then
      solves exactly as :func:`analyze` does;
    * on the Lanczos path (larger matrices) warm-starts the solver from the previous vector.
      The vector is kept in full node coordinates, so when the set of dropped (isolated) nodes
      changes it is re-sliced to the new kept nodes; when that is impossible (the shape
      changed, or the solver now works on the other side because the smaller side of the core
      switched) or the last solve was a dense method, the solve is cold, exactly as
      :func:`analyze`;
    * a warm start is blended with a little of the seeded random start so that no direction
      (e.g. a newly connected component) is missing from it, and uses a smaller Krylov space.

    Results equal a cold :func:`analyze` of the same matrix to the solver's tolerance
    (``lambda1``/``mu_hat`` agree to about 1e-10 relative; degrees, counts and the reason are
    identical; an updated Gram matrix of a 0/1 graph is bit-identical to a fresh one).  Not
    thread-safe; one instance per callback.  Memory per key: one report; for a dense input of
    up to 2^22 entries its bool pattern (1 byte an entry; 8 bytes weighted); one float64
    vector of length ``min(m, n)`` (Lanczos path) or the Gram matrix (Gram path, up to 2^20
    entries).

    Speed (``benchmarks/repeated_checks.py``, LSTM(256), W_hh 256 x 1024): a hit costs ~0.06
    ms; a changed mask costs about what a cold solve costs (2-3 ms on the Gram path, of which
    the eigenvalue step that no previous result shortens is half; a warm Lanczos solve is only
    ~1.3-1.6x faster than a cold one, because resolving ``mu_hat`` at the edge of the
    spectral bulk takes a few dozen Lanczos steps from any start).

    Example::

        cache = SpectralCache()
        report = cache.analyze(("lstm", "W_hh"), mask)   # cold
        report = cache.analyze(("lstm", "W_hh"), mask)   # unchanged: cached, no solve
        cache.stats  # {'hits': 1, 'warm': 0, 'cold': 1, 'keys': 1}

    Attributes:
        hits: calls answered from the cache (no solve).
        warm: solves that reused the previous state: a Lanczos start vector, or a Gram
            matrix of which only the changed rows were recomputed.
        cold: solves without one: the first call of a key, a fallback (shape or solver side
            changed, previous graph empty, more than half of the Gram rows changed), or a
            solve after a tiny matrix, which :func:`top_singular_values` answers exactly by a
            dense SVD (nothing to keep).
    """

    def __init__(self) -> None:
        self._entries: dict[Hashable, _CacheEntry] = {}
        self.hits = 0
        self.warm = 0
        self.cold = 0

    def analyze(self, key: Hashable, matrix, *, weighted: bool = False) -> SpectralReport:
        """:func:`analyze` ``matrix`` (shape ``(m, n)``), reusing what is known about ``key``.

        Args:
            key: any hashable naming the weight graph; one key per matrix (or gate) tracked.
            matrix: 2-D array or SciPy sparse matrix, as for :func:`analyze`.
            weighted: as for :func:`analyze`; part of the fingerprint, so switching it for a
                key is a change (and the solve is then cold or warm, never a stale hit).

        Returns:
            The :class:`SpectralReport` (``None`` fields with a reason where undefined).

        Raises:
            ValueError: as :func:`analyze` (NaN/inf, not 2-D, empty shape); the key's cached
                state is left as it was.
        """
        matrix = _validate(matrix)  # raises before the cache is consulted or changed
        previous = self._entries.get(key)
        identity = fingerprint = graph = None
        if scipy.sparse.issparse(matrix):
            graph = _graph_of(matrix, weighted)
            fingerprint = _fingerprint(graph, weighted)
        elif matrix.size <= _DENSE_GRAM_MAX_ENTRIES:
            # Small enough to keep: compare the graph itself (cheaper than hashing it).
            nonzero = matrix != 0
            identity = np.abs(matrix, dtype=np.float64) if weighted else nonzero
            if (
                previous is not None and previous.identity is not None
                and previous.identity.dtype == identity.dtype
                and np.array_equal(previous.identity, identity)
            ):
                self.hits += 1
                return previous.report
        else:
            fingerprint = _dense_fingerprint(matrix, weighted)
        if fingerprint is not None and previous is not None and (
            previous.fingerprint == fingerprint
        ):
            self.hits += 1
            return previous.report
        dense = _dense_route(matrix, weighted, nonzero) if identity is not None else None
        if dense is not None and dense.solver == "gram":
            return self._analyze_gram(key, dense, previous, identity)
        if dense is not None:  # empty, or a tiny core: a dense SVD, nothing to keep
            self.cold += 1
            report = dense.analyze()
            self._entries[key] = _CacheEntry(None, report, None, None, identity=identity)
            return report
        if graph is None:
            graph = _graph_of(matrix, weighted)
        v0, ncv = None, None
        if previous is not None and previous.vector is not None:
            v0 = self._warm_start(previous, graph)
        if v0 is None:
            self.cold += 1
        else:
            self.warm += 1
            ncv = _WARM_NCV
        report, vector, kept = _analyze_graph(graph, weighted, v0, ncv)
        self._entries[key] = _CacheEntry(
            fingerprint, report, *self._scatter(vector, kept, graph), identity=identity
        )
        return report

    def _analyze_gram(
        self, key: Hashable, dense: _DenseGraph, previous: _CacheEntry | None,
        identity: np.ndarray,
    ) -> SpectralReport:
        """Gram path: recompute only the Gram rows (and columns) of nodes whose edges changed."""
        values = dense.values
        transposed = values.shape[0] > values.shape[1]
        rows = values.T if transposed else values
        gram = None
        if (
            previous is not None and previous.gram is not None
            and previous.identity is not None
            and previous.identity.shape == identity.shape
            and previous.identity.dtype == identity.dtype
        ):
            # Rows (on the Gram side) whose edges differ: a bool comparison, or |w| weighted.
            difference = identity != previous.identity
            changed = np.flatnonzero(difference.any(axis=0 if transposed else 1))
            if 2 * changed.size <= rows.shape[0]:  # beyond that a full product is as cheap
                gram = previous.gram  # owned by the entry being replaced: update in place
                if changed.size:
                    block = rows[changed] @ rows.T
                    gram[changed, :] = block
                    gram[:, changed] = block.T
                self.warm += 1
        if gram is None:
            gram = _gram(values)
            self.cold += 1
        report = dense.report(_gram_top_singular_values(gram, values, 2))
        keep = values.size <= _GRAM_CACHE_MAX_ENTRIES
        self._entries[key] = _CacheEntry(
            None, report, None, None, identity=identity, gram=gram if keep else None
        )
        return report

    @staticmethod
    def _side(kept: tuple[np.ndarray, np.ndarray]) -> str:
        # _gram_lanczos works on the smaller side of the core (left on a tie).
        return "left" if kept[0].size <= kept[1].size else "right"

    def _scatter(self, vector, kept, graph) -> tuple[np.ndarray | None, str | None]:
        """The solver's vector (core coordinates) in full node coordinates of its side."""
        if vector is None or kept is None:
            return None, None
        side = self._side(kept)
        index = kept[0] if side == "left" else kept[1]
        if vector.shape != index.shape:  # defensive: never store a vector we cannot map
            return None, None
        full = np.zeros(graph.shape[0] if side == "left" else graph.shape[1])
        full[index] = vector
        return full, side

    def _warm_start(self, previous: _CacheEntry, graph) -> np.ndarray | None:
        """Start vector for ``graph`` from the previous one, or ``None`` (solve cold)."""
        if graph.nnz == 0:
            return None
        keep_left, keep_right = _kept_nodes(graph)
        side = self._side((keep_left, keep_right))
        index = keep_left if side == "left" else keep_right
        full_size = graph.shape[0] if side == "left" else graph.shape[1]
        if side != previous.side or previous.vector.shape != (full_size,):
            return None  # shape or solver side changed: the old vector means nothing here
        start = previous.vector[index]
        norm = float(np.linalg.norm(start))
        if not math.isfinite(norm) or norm == 0.0:
            return None  # every node the vector lived on is gone
        # Same seeded random vector a cold solve of this core would start from.
        noise = np.random.default_rng(0).standard_normal(index.size)
        noise_norm = float(np.linalg.norm(noise))
        if noise_norm > 0.0:
            start = start / norm + _WARM_RANDOM_WEIGHT * noise / noise_norm
        return start

    def forget(self, key: Hashable) -> None:
        """Drop what is cached for ``key`` (the next call of it is cold); unknown keys are fine."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop every key and reset the counters."""
        self._entries.clear()
        self.hits = self.warm = self.cold = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def stats(self) -> dict[str, int]:
        """``{"hits", "warm", "cold", "keys"}`` counts since creation (or :meth:`clear`)."""
        return {"hits": self.hits, "warm": self.warm, "cold": self.cold, "keys": len(self)}
