"""SpectralCache: warm/cached results equal a cold analyze; unchanged masks are not re-solved."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse
from tf_expander_pruning.spectral import SpectralCache, analyze, as_sparse_graph, solvers, warm

# Most tests here are about the Lanczos warm start: the autouse fixture below forces that
# path (300 x 700 would take the Gram path); tests named *gram* keep the solver's own choice.
SHAPE = (300, 700)
REL = 1e-9


def assert_same_report(warm, cold):
    """Every field equal; the two spectral values (and what derives from them) to 1e-9 relative."""
    spectral_fields = {"lambda1", "mu_hat", "delta_r", "delta_s", "delta_r_normalized",
                       "spectral_gap"}
    for name, expected in cold.to_dict().items():
        actual = getattr(warm, name)
        if name in spectral_fields and expected is not None:
            # delta_* are differences of O(bound)-sized numbers: scale the tolerance by those.
            scale = max(abs(cold.lambda1), abs(cold.bound or 0.0), 1.0)
            assert actual == pytest.approx(expected, rel=REL, abs=REL * scale), name
        else:
            assert actual == expected, name
    assert warm.is_ramanujan == cold.is_ramanujan


def magnitude_masks(shape, steps, *, seed=0, start=0.5, rate=0.1, drop_rows=False):
    """Masks of a weight matrix pruned further at each step, with a small weight drift."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(shape)
    sparsity = start
    for step in range(steps):
        weights = weights * (1.0 + 0.02 * rng.standard_normal(shape))
        sparsity = min(0.95, sparsity + rate * (1 - sparsity))
        mask = np.abs(weights) > np.quantile(np.abs(weights), sparsity)
        if drop_rows:
            # A different set of isolated input and output nodes at every step.
            mask[rng.choice(shape[0], 10 + step, replace=False)] = False
            mask[:, rng.choice(shape[1], 7 + 2 * step, replace=False)] = False
        yield mask


@pytest.fixture(autouse=True)
def lanczos_path(request, monkeypatch):
    if "gram" not in request.node.name:
        monkeypatch.setattr(solvers, "DENSE_GRAM_MAX_SIDE", 0)


@pytest.fixture
def solver_calls(monkeypatch):
    """Count calls of the singular value solver behind analyze and SpectralCache."""
    calls = []
    original = solvers.solve

    def counting(matrix, k, v0, ncv):
        calls.append({"shape": matrix.shape, "warm": v0 is not None})
        return original(matrix, k, v0, ncv)

    monkeypatch.setattr(solvers, "solve", counting)
    return calls


@pytest.mark.parametrize("shape", [SHAPE, SHAPE[::-1]])
def test_warm_equals_cold_over_a_pruning_sequence(shape, solver_calls):
    cache = SpectralCache()
    for mask in magnitude_masks(shape, 6):
        assert_same_report(cache.analyze("w", mask), analyze(mask))
    assert cache.stats == {"hits": 0, "warm": 5, "cold": 1, "keys": 1}
    # The cache's solves after the first really were warm-started.
    cache_calls = solver_calls[0::2]
    assert [call["warm"] for call in cache_calls] == [False] + [True] * 5


def test_unchanged_mask_is_not_solved_again(solver_calls):
    mask = next(magnitude_masks(SHAPE, 1))
    cache = SpectralCache()
    first = cache.analyze("w", mask)
    assert len(solver_calls) == 1
    # The same graph as other dense arrays: a copy, float and int weights with that pattern.
    weights = np.where(mask, 0.5, 0.0)
    for same in (mask.copy(), weights, np.where(mask, -3, 0).astype(np.int32)):
        assert cache.analyze("w", same) is first
    assert len(solver_calls) == 1 and cache.hits == 3
    # Sparse input hashes its canonical CSR: one solve when switching kind, then CSR == COO.
    as_csr = cache.analyze("w", scipy.sparse.csr_matrix(mask))
    assert len(solver_calls) == 2
    assert_same_report(as_csr, first)
    assert cache.analyze("w", scipy.sparse.coo_matrix(weights)) is as_csr
    assert len(solver_calls) == 2
    # Explicit zeros are not edges: a CSR with three of them is a different graph.
    with_zeros = scipy.sparse.csr_matrix(weights)
    with_zeros.data[:3] = 0.0
    changed = cache.analyze("w", with_zeros)
    assert len(solver_calls) == 3 and changed.edges == first.edges - 3
    # One flipped entry in a dense mask is a change.
    flipped = mask.copy()
    flipped[7, 11] = not flipped[7, 11]
    flipped_report = cache.analyze("w", flipped)
    assert len(solver_calls) == 4 and cache.hits == 4
    # (the cold references are computed last: they call the solver too)
    assert_same_report(changed, analyze(with_zeros))
    assert_same_report(flipped_report, analyze(flipped))


def test_keys_are_independent_and_forget_clear(solver_calls):
    masks = list(magnitude_masks(SHAPE, 2))
    cache = SpectralCache()
    cache.analyze("a", masks[0])
    cache.analyze("b", masks[1])
    assert cache.analyze("a", masks[0]).edges == int(masks[0].sum())
    assert cache.analyze("b", masks[1]).edges == int(masks[1].sum())
    assert len(solver_calls) == 2 and "a" in cache and len(cache) == 2
    cache.forget("a")
    cache.forget("never seen")
    cache.analyze("a", masks[0])
    assert len(solver_calls) == 3 and cache.cold == 3
    cache.clear()
    assert len(cache) == 0 and cache.stats["hits"] == 0


def test_changing_dropped_nodes_maps_the_warm_vector(solver_calls):
    cache = SpectralCache()
    reports = []
    for mask in magnitude_masks(SHAPE, 5, seed=3, drop_rows=True):
        reports.append(cache.analyze("w", mask))
        assert_same_report(reports[-1], analyze(mask))
    # Different dropped sets each step, so the core (and the vector) changed size every time...
    assert len({(r.dropped_left, r.dropped_right) for r in reports}) == 5
    # ...and the solves were still warm (re-sliced), not cold fallbacks.
    assert cache.warm == 4 and cache.cold == 1


def test_vector_remap_keeps_node_identity():
    """The warm vector is re-sliced by node index, not truncated or padded by position."""
    mask = next(magnitude_masks(SHAPE, 1, seed=4))
    cache = SpectralCache()
    cache.analyze("w", mask)
    entry = cache._entries["w"]
    assert entry.side == "left" and entry.vector.shape == (SHAPE[0],)
    fewer = mask.copy()
    fewer[[0, 5, 17]] = False  # three input nodes become isolated
    start = warm.warm_start(entry, as_sparse_graph(fewer))
    keep = np.setdiff1d(np.arange(SHAPE[0]), [0, 5, 17])
    assert start.shape == (SHAPE[0] - 3,)
    # Up to the normalisation and the small random blend, it is the old vector at those nodes.
    expected = entry.vector[keep] / np.linalg.norm(entry.vector[keep])
    cosine = start @ expected / np.linalg.norm(start)
    assert cosine > 0.99


def test_solver_side_switch_and_shape_change_fall_back_to_cold(solver_calls):
    cache = SpectralCache()
    rng = np.random.default_rng(5)
    mask = rng.random((400, 500)) < 0.1  # solver works on the 400 left nodes
    cache.analyze("w", mask)
    switched = mask.copy()
    switched[:150] = False  # 250 left nodes remain, 500 right: still left...
    cache.analyze("w", switched)
    assert cache.warm == 1
    flipped = mask.copy()
    flipped[:, :200] = False  # 300 right nodes remain < 400 left: the solver side flips
    assert_same_report(cache.analyze("w", flipped), analyze(flipped))
    assert cache.cold == 2
    other = rng.random((410, 500)) < 0.1  # a different shape under the same key
    assert_same_report(cache.analyze("w", other), analyze(other))
    assert cache.cold == 3 and cache.warm == 1


def test_dense_path_empty_and_undefined_graphs():
    cache = SpectralCache()
    small = np.eye(10) + np.eye(10, k=1)  # dense SVD path, low degree: undefined
    report = cache.analyze("s", small)
    assert report.delta_r is None and report.is_ramanujan is None and report.undefined_reason
    assert cache.analyze("s", small) is report
    empty = cache.analyze("s", np.zeros((10, 10)))
    assert empty.edges == 0 and empty.undefined_reason.startswith("empty graph")
    # From an empty graph back to a large one: nothing to warm from, so cold, and correct.
    mask = next(magnitude_masks(SHAPE, 1))
    cache.analyze("big", np.zeros(SHAPE))
    assert_same_report(cache.analyze("big", mask), analyze(mask))
    assert cache.warm == 0


def test_weighted_compares_values_and_matches_cold(solver_calls):
    rng = np.random.default_rng(6)
    weights = rng.standard_normal(SHAPE) * (rng.random(SHAPE) < 0.2)
    cache = SpectralCache()
    first = cache.analyze("w", weights, weighted=True)
    assert_same_report(first, analyze(weights, weighted=True))
    # Same structure, other values: a change for weighted, not for the 0/1 graph.
    moved = weights * 1.01
    moved_report = cache.analyze("w", moved, weighted=True)
    assert moved_report is not first and cache.warm == 1
    assert_same_report(moved_report, analyze(moved, weighted=True))
    assert moved_report.lambda1 == pytest.approx(1.01 * first.lambda1, rel=1e-9)
    # Switching weighted off for the key is a change too, never a stale weighted report.
    plain = cache.analyze("w", moved)
    assert plain.weighted is False
    assert_same_report(plain, analyze(moved))


def test_bad_input_raises_and_keeps_state():
    mask = next(magnitude_masks(SHAPE, 1))
    cache = SpectralCache()
    first = cache.analyze("w", mask)
    bad = mask.astype(float)
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        cache.analyze("w", bad)
    assert cache.analyze("w", mask) is first


def test_new_component_is_found_from_a_warm_start():
    """A block with no weight in the previous vector must still be seen (random blend)."""
    rng = np.random.default_rng(7)
    block = rng.random((200, 400)) < 0.1  # 80,000 entries: the Lanczos path, not dense
    before = np.zeros((400, 800), dtype=bool)
    before[:200, :400] = block
    after = before.copy()
    after[200:, 400:] = block  # an identical second component: sigma_2 == sigma_1
    cache = SpectralCache()
    cache.analyze("w", before)
    warm = cache.analyze("w", after)
    cold = analyze(after)
    assert cache.warm == 1
    assert_same_report(warm, cold)
    assert warm.mu_hat == pytest.approx(warm.lambda1, rel=1e-9)  # no spectral gap


# --- Gram path (at most 256 nodes on the smaller side): row-wise updates of the Gram matrix ---


def test_gram_path_updates_only_changed_rows_and_equals_cold(solver_calls):
    rng = np.random.default_rng(8)
    mask = rng.random((256, 1024)) < 0.2
    cache = SpectralCache()
    masks = [mask]
    for flips in (5, 40, 0, 300):  # a few flipped entries, more, none at all, many
        nxt = masks[-1].copy()
        if flips:
            rows = rng.integers(0, 256, flips)
            cols = rng.integers(0, 1024, flips)
            nxt[rows, cols] = ~nxt[rows, cols]
        masks.append(nxt)
    for mask in masks:
        assert_same_report(cache.analyze("w", mask), analyze(mask))
    # 5 and 40 flips touch at most 128 rows: updated; the unchanged mask is a hit; 300 random
    # flips touch more than half the rows: a full product (counted cold).
    assert cache.stats == {"hits": 1, "warm": 2, "cold": 2, "keys": 1}
    assert solver_calls == []  # the dense input never needed a CSR or the Lanczos solver
    # The updated Gram matrix is the exact Gram matrix (0/1 entries: integer arithmetic).
    entry = cache._entries["w"]
    last = masks[-1].astype(np.float64)
    np.testing.assert_array_equal(entry.gram, last @ last.T)


def test_gram_path_tall_and_weighted_updates():
    rng = np.random.default_rng(9)
    weights = rng.standard_normal((900, 200)) * (rng.random((900, 200)) < 0.3)  # B^T B side
    cache = SpectralCache()
    for step in range(4):
        if step:
            weights[rng.integers(0, 900, 20), rng.integers(0, 200, 20)] = 0.0
        for weighted in (True, False):
            assert_same_report(
                cache.analyze(("w", weighted), weights, weighted=weighted),
                analyze(weights, weighted=weighted),
            )
    assert cache.warm == 6 and cache.cold == 2
    entry = cache._entries[("w", True)]
    np.testing.assert_allclose(entry.gram, np.abs(weights).T @ np.abs(weights), rtol=1e-12)


def test_gram_path_hits_compare_the_graph_itself():
    rng = np.random.default_rng(10)
    weights = rng.standard_normal((128, 512)) * (rng.random((128, 512)) < 0.2)
    cache = SpectralCache()
    first = cache.analyze("w", weights)
    # Other values, same pattern: the 0/1 graph is unchanged (a hit, the same object).
    assert cache.analyze("w", np.where(weights != 0, 2.0, 0.0).astype(np.float32)) is first
    assert cache.stats == {"hits": 1, "warm": 0, "cold": 1, "keys": 1}
    # Weighted: values matter; the same values again are a hit.
    weighted = cache.analyze("w", weights, weighted=True)
    assert weighted is not first and weighted.weighted
    assert cache.analyze("w", weights.copy(), weighted=True) is weighted
    assert cache.analyze("w", weights * 1.5, weighted=True) is not weighted
    # A sparse input of the same graph is never a hit on a dense entry (and vice versa).
    as_csr = cache.analyze("w", scipy.sparse.csr_matrix(weights))
    assert as_csr is not first
    assert_same_report(as_csr, first)
    assert cache.analyze("w", weights) is not as_csr
    assert cache.hits == 2
