"""Connected components and the weighted variant (issue 15.5), against scipy.sparse.csgraph.

A disconnected graph is not an expander: ``analyze`` reports the number of components (isolated
nodes dropped) and never calls a graph of several components Ramanujan.  A weighted graph gets
its spectral gap and no verdict against the edge-counting bound.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.csgraph
from tf_expander_pruning.spectral import SpectralCache, analyze, solvers


def reference_components(mask) -> int:
    """Components of the full (m+n)-node bipartite adjacency, minus its isolated nodes."""
    b = scipy.sparse.csr_matrix(np.asarray(mask) != 0, dtype=np.int8)
    adjacency = scipy.sparse.bmat([[None, b], [b.T, None]], format="csr")
    count, _ = scipy.sparse.csgraph.connected_components(adjacency, directed=False)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return count - int(np.count_nonzero(degree == 0))


def big_plus_small(m: int, n: int, seed: int = 0) -> np.ndarray:
    """A dense random big component, a separate 3 x 3 complete block, an isolated node each side."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((m, n), dtype=bool)
    mask[: m - 4, : n - 4] = rng.random((m - 4, n - 4)) < 0.5
    mask[m - 4 : m - 1, n - 4 : n - 1] = True  # the small component
    return mask  # row m-1 and column n-1 stay isolated


PATHS = {
    "svd": (20, 30),  # <= 32 x 32 entries after dropping: dense SVD of the core
    "gram": (60, 200),
    "lanczos": (60, 200),
}


@pytest.fixture(params=sorted(PATHS))
def path_and_shape(request, monkeypatch):
    if request.param == "lanczos":
        monkeypatch.setattr(solvers, "DENSE_GRAM_MAX_SIDE", 0)
    return request.param, PATHS[request.param]


def test_big_plus_small_component_is_reported_and_judged(path_and_shape):
    path, shape = path_and_shape
    mask = big_plus_small(*shape)
    assert reference_components(mask) == 2
    for matrix in (mask, mask.astype(np.float32).T, scipy.sparse.csr_matrix(mask)):
        report = analyze(matrix)
        assert report.components == 2, path
        assert report.is_connected is False
        assert (report.dropped_left, report.dropped_right) in ((1, 1),)
        # The spectrum alone would pass: the small block's sigma_1 = 3 hides below the bound.
        assert report.bound is not None and report.delta_r >= 0, path
        assert report.is_ramanujan is False


def test_connected_graph_is_one_component(path_and_shape):
    path, shape = path_and_shape
    mask = big_plus_small(*shape)
    mask[0, shape[1] - 2] = True  # one edge joins the small block to the big component
    assert reference_components(mask) == 1
    report = analyze(mask)
    assert report.components == 1 and report.is_connected is True
    assert report.is_ramanujan is (report.delta_r >= 0)


@pytest.mark.parametrize("seed", range(6))
def test_component_counts_match_csgraph_on_every_path(seed, monkeypatch):
    """Several blocks of random size and density (some of them split further by chance)."""
    rng = np.random.default_rng(seed)
    blocks = [rng.integers(2, 12, size=2) for _ in range(rng.integers(1, 6))]
    blocks.append(np.array([60, 150]))  # large enough for the Gram and Lanczos paths
    pieces = [rng.random(tuple(b)) < rng.uniform(0.05, 0.6) for b in blocks]
    mask = scipy.sparse.block_diag(pieces, format="csr").toarray().astype(bool)
    order_left, order_right = rng.permutation(mask.shape[0]), rng.permutation(mask.shape[1])
    mask = mask[order_left][:, order_right]
    expected = reference_components(mask)
    cache = SpectralCache()
    assert analyze(mask).components == expected
    assert analyze(scipy.sparse.csr_matrix(mask)).components == expected
    assert cache.analyze("m", mask).components == expected
    assert analyze(mask, weighted=True).components == expected
    monkeypatch.setattr(solvers, "DENSE_GRAM_MAX_SIDE", 0)
    assert analyze(mask).components == expected


def test_cache_gram_update_tracks_a_split(monkeypatch):
    """The cache's row-updated Gram matrix sees a graph fall apart and join again."""
    mask = big_plus_small(80, 300, seed=1)
    mask[0, 297] = True
    cache = SpectralCache()
    assert cache.analyze("w", mask).components == 1
    split = mask.copy()
    split[0, 297] = False
    report = cache.analyze("w", split)
    assert cache.stats["warm"] == 1  # the updated Gram matrix, not a fresh one
    assert report.components == 2 == reference_components(split)
    assert report.is_ramanujan is False
    assert cache.analyze("w", mask).components == 1


def test_empty_and_low_degree_graphs():
    assert analyze(np.zeros((4, 5))).components == 0
    assert analyze(np.zeros((4, 5))).is_connected is None
    two_edges = np.zeros((6, 6))
    two_edges[0, 0] = two_edges[3, 4] = 1
    report = analyze(two_edges)
    assert report.components == 2 and report.is_ramanujan is None  # degrees < 3: undefined


def test_weighted_gives_the_gap_and_no_verdict(path_and_shape):
    path, shape = path_and_shape
    rng = np.random.default_rng(5)
    mask = rng.random(shape) < 0.6
    weights = 0.05 * rng.standard_normal(shape) * mask  # well below 1: the old bug said "Ramanujan"
    sigma = np.linalg.svd(np.abs(weights), compute_uv=False)
    for matrix in (weights, scipy.sparse.csr_matrix(weights)):
        for report in (analyze(matrix, weighted=True),
                       SpectralCache().analyze("w", matrix, weighted=True)):
            assert report.weighted is True
            assert report.is_ramanujan is None
            assert report.bound is None and report.delta_r is None
            assert report.delta_r_normalized is None and report.delta_s is None
            assert "weighted" in report.undefined_reason
            assert report.spectral_gap == pytest.approx(sigma[0] - sigma[1], rel=1e-9), path
            assert report.components == reference_components(mask)
    # The unweighted report of the same pattern still has its verdict.
    assert analyze(weights).is_ramanujan is not None


def test_weighted_flag_is_checked():
    with pytest.raises(TypeError, match="weighted"):
        analyze(np.ones((4, 4)), weighted="yes")


def test_the_docs_example_numbers():
    """The table in docs/constraint.md, "How a disconnected graph is judged"."""
    rng = np.random.default_rng(0)
    mask = np.zeros((64, 256), dtype=bool)
    mask[:60, :252] = rng.random((60, 252)) < 0.5
    mask[60:63, 252:255] = True
    split = analyze(mask)
    mask[0, 254] = True
    joined = analyze(mask)
    for report, components, verdict in ((split, 2, False), (joined, 1, True)):
        assert report.components == components and report.is_ramanujan is verdict
        assert (round(report.mu_hat, 2), round(report.bound, 2)) == (11.33, 16.25)
        assert round(report.delta_r, 2) == 4.92


def test_ramanujan_criterion_fails_a_disconnected_graph_that_delta_r_passes():
    """The callback's "ramanujan" criterion agrees with is_ramanujan on a split graph."""
    from tf_expander_pruning.constraint.criterion import Criterion

    rng = np.random.default_rng(3)
    mask = np.zeros((64, 256), dtype=bool)
    mask[:60, :252] = rng.random((60, 252)) < 0.5
    mask[61:64, 253:256] = True  # a separate complete 3 x 3 block
    split = analyze(mask)
    joined_mask = mask.copy()
    joined_mask[0, 253] = True  # one edge joins the blocks
    joined = analyze(joined_mask)
    assert split.components == 2 and joined.components == 1
    assert split.delta_r > 0  # the spectrum alone would pass it
    criterion = Criterion("ramanujan", margin=0.0, undefined="fail")
    assert criterion.verdict(split) is False
    assert criterion.verdict(joined) is True
    assert Criterion("spectral_gap", 0.0, "fail").verdict(split) == (split.delta_s >= 0)


@pytest.mark.parametrize("shape", [(8, 32), (32, 32), (48, 12), (1, 5), (64, 256)])
def test_dense_components_equal_csgraph_on_the_block_graph(shape):
    """The dense-pattern count against an independent one: csgraph on the full (m+n) block
    adjacency, isolated nodes subtracted."""
    from tf_expander_pruning.analysis.spectral.connectivity import dense_components

    rng = np.random.default_rng(sum(shape))
    m, n = shape
    for density in (0.0, 0.02, 0.05, 0.1, 0.3, 0.9):
        pattern = rng.random(shape) < density
        block = np.zeros((m + n, m + n), bool)
        block[:m, m:], block[m:, :m] = pattern, pattern.T
        count, _ = scipy.sparse.csgraph.connected_components(block, directed=False)
        isolated = int((~block.any(axis=1)).sum())
        assert dense_components(pattern) == count - isolated, (shape, density)
