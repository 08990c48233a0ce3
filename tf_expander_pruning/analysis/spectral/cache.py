"""Repeated analysis of graphs that change a little between calls: :class:`SpectralCache`."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import scipy.sparse

from tf_expander_pruning.analysis.spectral import solvers
from tf_expander_pruning.analysis.spectral.analyzer import analyze_graph
from tf_expander_pruning.analysis.spectral.dense import DenseGraph, dense_route
from tf_expander_pruning.analysis.spectral.fingerprint import csr_fingerprint, dense_fingerprint
from tf_expander_pruning.analysis.spectral.graph_input import graph_of, validate
from tf_expander_pruning.analysis.spectral.report import SpectralReport
from tf_expander_pruning.analysis.spectral.warm import (
    CacheEntry,
    scatter_vector,
    warm_start,
)
from tf_expander_pruning.core.validation import check_flag

__all__ = ["SpectralCache", "GRAM_CACHE_MAX_ENTRIES"]

# SpectralCache keeps a key's dense matrix and Gram matrix (for row-wise updates) up to this
# many entries (8 MB of float64 for the matrix).
GRAM_CACHE_MAX_ENTRIES = 1 << 20


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
        self._entries: dict[Hashable, CacheEntry] = {}
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
        check_flag(weighted, "weighted")
        matrix = validate(matrix)  # raises before the cache is consulted or changed
        previous = self._entries.get(key)
        identity = fingerprint = graph = nonzero = None
        if scipy.sparse.issparse(matrix):
            graph = graph_of(matrix, weighted)
            fingerprint = csr_fingerprint(graph, weighted)
        elif matrix.size <= solvers.DENSE_GRAM_MAX_ENTRIES:
            # Small enough to keep: compare the graph itself (cheaper than hashing it).
            nonzero = matrix != 0
            identity = np.abs(matrix, dtype=np.float64) if weighted else nonzero
            if previous is not None and _same(previous.identity, identity):
                self.hits += 1
                return previous.report
        else:
            fingerprint = dense_fingerprint(matrix, weighted)
        if fingerprint is not None and previous is not None and (
            previous.fingerprint == fingerprint
        ):
            self.hits += 1
            return previous.report
        dense = dense_route(matrix, weighted, nonzero) if identity is not None else None
        if dense is not None and dense.solver == "gram":
            return self._analyze_gram(key, dense, previous, identity)
        if dense is not None:  # empty, or a tiny core: a dense SVD, nothing to keep
            self.cold += 1
            report = dense.analyze()
            self._entries[key] = CacheEntry(None, report, None, None, identity=identity)
            return report
        return self._analyze_sparse(
            key, graph if graph is not None else graph_of(matrix, weighted), weighted,
            previous, fingerprint, identity,
        )

    def _analyze_sparse(
        self, key: Hashable, graph, weighted: bool, previous: CacheEntry | None,
        fingerprint: bytes | None, identity: np.ndarray | None,
    ) -> SpectralReport:
        """Lanczos path: warm-start from the previous vector when it still means something."""
        v0, ncv = None, None
        if previous is not None and previous.vector is not None:
            v0 = warm_start(previous, graph)
        if v0 is None:
            self.cold += 1
        else:
            self.warm += 1
            ncv = solvers.WARM_NCV
        report, vector, kept = analyze_graph(graph, weighted, v0, ncv)
        self._entries[key] = CacheEntry(
            fingerprint, report, *scatter_vector(vector, kept, graph), identity=identity
        )
        return report

    def _analyze_gram(
        self, key: Hashable, dense: DenseGraph, previous: CacheEntry | None,
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
            gram = solvers.gram(values)
            self.cold += 1
        report = dense.report(
            solvers.gram_top_singular_values(gram, values, 2), dense.components_from_gram(gram)
        )
        keep = values.size <= GRAM_CACHE_MAX_ENTRIES
        self._entries[key] = CacheEntry(
            None, report, None, None, identity=identity, gram=gram if keep else None
        )
        return report

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


def _same(kept: np.ndarray | None, identity: np.ndarray) -> bool:
    """Is the kept graph identical to ``identity`` (same dtype, shape and entries)?"""
    return (
        kept is not None and kept.dtype == identity.dtype and np.array_equal(kept, identity)
    )
