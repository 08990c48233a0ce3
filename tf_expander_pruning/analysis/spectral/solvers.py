"""The two largest singular values of a graph's matrix: dense SVD, Gram path or Lanczos.

The tuning constants are module attributes read at call time (tests and benchmarks patch
``DENSE_GRAM_MAX_SIDE`` to force the Lanczos path).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

__all__ = [
    "top_singular_values",
    "solve",
    "choose_solver",
    "dense_gram_fits",
    "nonzeros",
    "gram",
    "gram_top_singular_values",
    "gram_lanczos",
]

# Up to this many matrix entries a dense SVD (exact, also for sigma ~ 0) is cheap enough.
DENSE_SVD_MAX_ENTRIES = 32 * 32
# The Gram path (top eigenvalues of the explicit Gram matrix: one BLAS product and LAPACK's
# MRRR on the selected pair) costs ~s^2 L + s^3 for s x L (s the smaller side) whatever the
# density; Lanczos costs a constant plus ~100 sparse products, i.e. grows with the edges.
# Measured single-threaded here (ms): 256 x 1024 Gram 3.5 vs Lanczos 7.8 (10 % dense) and
# 23.7 (50 %); 512 x 2048 18.9 vs 21.4 / 77; 1024 x 4096 143 vs 120 / 1123.  Up to 256 nodes
# the Gram path always wins; up to 1024 it is taken when the cost model below says it wins.
DENSE_GRAM_ALWAYS_SIDE = 256
DENSE_GRAM_MAX_SIDE = 1024
DENSE_GRAM_MAX_ENTRIES = 1 << 22
GRAM_MS_PER_PRODUCT_TERM = 2.0e-8  # per s^2 L
GRAM_MS_PER_EIGEN_TERM = 6.3e-8  # per s^3
LANCZOS_MS = 4.0
LANCZOS_MS_PER_EDGE = 1.5e-4
# Squaring into the Gram matrix costs sigma_k about eps * (sigma_1 / sigma_k)^2 of relative
# accuracy; below this ratio the answer is recomputed by a dense SVD.
GRAM_MIN_RELATIVE_SIGMA = 1e-3
# Krylov space of a cold Lanczos run: wide, so the bulk edge (where sigma_2 sits) needs few
# restarts from a random start.
COLD_NCV = 96
# Krylov space of a warm run: a start close to the top singular vectors converges in far fewer
# steps, and ARPACK always builds the full space before its first convergence test, so a
# smaller space is what lets a warm start finish early.
WARM_NCV = 16


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
    sigma, vector = solve(matrix, k, v0, None)
    return (sigma, vector) if return_vector else sigma


def solve(matrix, k: int, v0, ncv: int | None):
    """:func:`top_singular_values` with the Lanczos space size exposed (``None``: cold size);
    returns ``(sigma, vector)``."""
    vector = None
    solver = choose_solver(*matrix.shape, nonzeros(matrix), k)
    if solver == "lanczos":
        sigma, vector = gram_lanczos(matrix, k, v0, ncv=ncv)
    else:
        dense = matrix.toarray() if scipy.sparse.issparse(matrix) else np.asarray(matrix)
        dense = dense.astype(np.float64, copy=False)
        if solver == "svd":
            sigma = scipy.linalg.svdvals(dense)
        else:
            sigma = gram_top_singular_values(gram(dense), dense, k)
    sigma = np.sort(np.asarray(sigma, dtype=np.float64))[::-1][:k]
    if sigma.shape[0] < k:
        sigma = np.concatenate([sigma, np.zeros(k - sigma.shape[0])])
    sigma = np.maximum(sigma, 0.0)
    return sigma, vector


def choose_solver(m: int, n: int, edges: int, k: int = 2) -> str:
    """How the top ``k`` singular values of an ``(m, n)`` matrix with ``edges`` nonzeros are
    computed: ``"svd"`` (tiny, or rank at most ``k + 1``), ``"gram"`` or ``"lanczos"``."""
    if m * n <= DENSE_SVD_MAX_ENTRIES or min(m, n) <= k + 1:
        return "svd"
    return "gram" if dense_gram_fits(m, n, edges) else "lanczos"


def dense_gram_fits(m: int, n: int, edges: int) -> bool:
    """Does an ``(m, n)`` matrix with ``edges`` nonzeros (large enough not to take the dense
    SVD) use the Gram path rather than Lanczos?  A cost model fitted on this machine."""
    small, large = min(m, n), max(m, n)
    if small > DENSE_GRAM_MAX_SIDE or m * n > DENSE_GRAM_MAX_ENTRIES:
        return False
    if small <= DENSE_GRAM_ALWAYS_SIDE:
        return True
    gram_ms = (
        GRAM_MS_PER_PRODUCT_TERM * small * small * large + GRAM_MS_PER_EIGEN_TERM * small**3
    )
    return gram_ms <= LANCZOS_MS + LANCZOS_MS_PER_EDGE * edges


def nonzeros(matrix) -> int:
    """Number of nonzero entries of a dense or sparse matrix."""
    return int(matrix.nnz) if scipy.sparse.issparse(matrix) else int(np.count_nonzero(matrix))


def gram(dense: np.ndarray) -> np.ndarray:
    """The smaller Gram matrix, ``B B^T`` (m <= n) or ``B^T B``; exact for 0/1 entries."""
    return dense @ dense.T if dense.shape[0] <= dense.shape[1] else dense.T @ dense


def gram_top_singular_values(gram_matrix: np.ndarray, dense: np.ndarray, k: int) -> np.ndarray:
    """Top ``k`` singular values of ``dense`` (descending) from its Gram matrix.

    LAPACK's MRRR (``?syevr``) computes only the selected top ``k`` eigenvalues.  When
    ``sigma_k`` is tiny against ``sigma_1`` the squared spectrum has lost its digits and the
    values come from a dense SVD of ``dense`` instead.
    """
    size = gram_matrix.shape[0]
    values = scipy.linalg.eigh(
        gram_matrix, eigvals_only=True, subset_by_index=[size - k, size - 1], driver="evr",
        check_finite=False,
    )
    sigma = np.sqrt(np.maximum(values[::-1], 0.0))
    if sigma[-1] <= GRAM_MIN_RELATIVE_SIGMA * sigma[0]:
        sigma = scipy.linalg.svdvals(dense)[:k]
    return sigma


def gram_lanczos(matrix, k: int, v0, *, ncv: int | None = None):
    """Top ``k`` singular values from Lanczos (ARPACK) on the smaller Gram operator.

    ``B B^T`` (or ``B^T B``) squares the spectrum, which widens the relative gap below
    ``sigma_2`` and roughly halves the iterations compared with the ``(m+n)``-square adjacency;
    the Gram matrix itself is never formed (two sparse products per step).

    Returns:
        ``(sigma, vector)``: ``vector`` (the sum of the found eigenvectors) starts the next
        solve of a similar matrix; ``None`` after the dense fallback.
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
    ncv = min(size, max(2 * k + 1, COLD_NCV if ncv is None else ncv))
    try:
        values, vectors = scipy.sparse.linalg.eigsh(
            operator, k=k, which="LA", ncv=ncv, tol=1e-10, v0=v0
        )
    except scipy.sparse.linalg.ArpackNoConvergence:
        return scipy.linalg.svdvals(sparse.toarray()), None
    order = np.argsort(values)[::-1]
    return np.sqrt(np.maximum(values, 0.0)), vectors[:, order].sum(axis=1)
