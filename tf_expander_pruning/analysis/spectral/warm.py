"""What :class:`~tf_expander_pruning.analysis.spectral.SpectralCache` keeps per key, and how a
kept Lanczos vector becomes the start of the next solve."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from tf_expander_pruning.analysis.spectral.graph_input import kept_nodes
from tf_expander_pruning.analysis.spectral.report import SpectralReport

__all__ = ["CacheEntry", "solver_side", "scatter_vector", "warm_start", "WARM_RANDOM_WEIGHT"]

# Weight of the seeded random vector blended into a warm start: keeps every direction (e.g. a
# newly connected component that the previous vector has no weight on) present in the start.
WARM_RANDOM_WEIGHT = 0.05


@dataclass
class CacheEntry:
    """What the cache keeps per key between two checks."""

    fingerprint: bytes | None  # sparse input (or a dense one too large to keep): a hash
    report: SpectralReport
    # Start vector for the next solve, scattered to the full (un-dropped) node set of `side`:
    # entries of dropped nodes are 0.  None when the last solve was dense or the graph empty.
    vector: np.ndarray | None
    side: str | None  # "left" or "right": which side the Gram operator (and vector) lives on
    # Dense input (up to DENSE_GRAM_MAX_ENTRIES): the graph itself, ``matrix != 0`` (bool) or
    # ``|w|`` (weighted), compared directly instead of hashing.  None for sparse input.
    identity: np.ndarray | None = None
    # Gram path: the Gram matrix of the last graph, for a row-wise update (up to
    # GRAM_CACHE_MAX_ENTRIES matrix entries).  None otherwise.
    gram: np.ndarray | None = None


def solver_side(kept: tuple[np.ndarray, np.ndarray]) -> str:
    """The side Lanczos works on: the smaller side of the core (left on a tie)."""
    return "left" if kept[0].size <= kept[1].size else "right"


def scatter_vector(
    vector, kept, graph: scipy.sparse.csr_matrix
) -> tuple[np.ndarray | None, str | None]:
    """The solver's vector (core coordinates) in full node coordinates of its side."""
    if vector is None or kept is None:
        return None, None
    side = solver_side(kept)
    index = kept[0] if side == "left" else kept[1]
    if vector.shape != index.shape:  # defensive: never store a vector we cannot map
        return None, None
    full = np.zeros(graph.shape[0] if side == "left" else graph.shape[1])
    full[index] = vector
    return full, side


def warm_start(previous: CacheEntry, graph: scipy.sparse.csr_matrix) -> np.ndarray | None:
    """Start vector for ``graph`` from the previous one, or ``None`` (solve cold)."""
    if graph.nnz == 0:
        return None
    keep_left, keep_right = kept_nodes(graph)
    side = solver_side((keep_left, keep_right))
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
        start = start / norm + WARM_RANDOM_WEIGHT * noise / noise_norm
    return start
