"""A dense input analysed without building its CSR (the hot path of small and mid-size masks)."""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse

from tf_expander_pruning.analysis.spectral import solvers
from tf_expander_pruning.analysis.spectral.connectivity import (
    dense_components,
    gram_components,
)
from tf_expander_pruning.analysis.spectral.report import (
    SpectralReport,
    build_report,
    empty_report,
)

__all__ = ["DenseGraph", "dense_route"]


class DenseGraph:
    """A dense 2-D input read as a graph: the edge values (1.0 or ``|w|``, float64) and the
    degree counts.  Used wherever the core takes a dense method."""

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
        solver = solvers.choose_solver(*self.core_shape, self.edges)
        return None if solver == "lanczos" else solver

    def analyze(self) -> SpectralReport:
        """The report, computed without a CSR (for a :attr:`solver` other than ``None``)."""
        if self.solver == "empty":
            return empty_report(*self.shape, self.weighted)
        if self.solver == "svd":
            core = self.values[self.left_degree > 0][:, self.right_degree > 0]
            sigma, _ = solvers.solve(core, 2, None, None)
            return self.report(sigma, dense_components(self._nonzero))
        # Isolated nodes only add zero rows and columns to the Gram matrix: no need to drop
        # them for the spectrum.
        gram = solvers.gram(self.values)
        sigma = solvers.gram_top_singular_values(gram, self.values, 2)
        return self.report(sigma, self.components_from_gram(gram))

    def components_from_gram(self, gram: np.ndarray) -> int:
        """Connected components, from the Gram matrix of :attr:`values` (0/1 graphs: exact
        integer counts) or, weighted, from the edge pattern (a product of tiny ``|w|`` could
        underflow to 0)."""
        if self.weighted:
            return dense_components(self._nonzero)
        return gram_components(gram)

    def report(self, sigma: np.ndarray, components: int) -> SpectralReport:
        m, n = self.shape
        return build_report(
            m, n, *self.core_shape, self.edges, sigma, self.weighted, components
        )


def dense_route(matrix, weighted: bool, nonzero: np.ndarray | None = None) -> DenseGraph | None:
    """The :class:`DenseGraph` of a validated dense input that needs no CSR (its core takes a
    dense method, or the graph is empty), else ``None`` (sparse input, or Lanczos).
    ``nonzero``: ``matrix != 0`` if the caller has it already."""
    if scipy.sparse.issparse(matrix) or matrix.size > solvers.DENSE_GRAM_MAX_ENTRIES:
        return None
    dense = DenseGraph(matrix, weighted, nonzero)
    return dense if dense.solver is not None else None
