"""spectral.analyze against an independent dense eigendecomposition of the full adjacency."""

import math

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from tf_expander_pruning.spectral import (
    analyze,
    iterative_mean_delta_r,
    ramanujan_bound,
    solvers,
    top_singular_values,
)


def dense_reference(mask):
    """lambda_1, mu_hat, degrees from numpy.linalg.eigvalsh of [[0, B], [B^T, 0]]."""
    mask = np.asarray(mask) != 0
    mask = mask[mask.any(axis=1)][:, mask.any(axis=0)]
    m, n = mask.shape
    adjacency = np.zeros((m + n, m + n))
    adjacency[:m, m:] = mask
    adjacency[m:, :m] = mask.T
    eigenvalues = np.sort(np.linalg.eigvalsh(adjacency))[::-1]
    # mu_hat: the largest |eigenvalue| once the pair +/- lambda_1 is set aside (0 if none is left).
    rest = np.abs(eigenvalues[1:-1])
    edges = mask.sum()
    return eigenvalues[0], (rest.max() if rest.size else 0.0), edges / m, edges / n


def assert_close(actual, expected, rel=1e-6, abs_=1e-9):
    assert actual == pytest.approx(expected, rel=rel, abs=abs_)


masks = arrays(
    dtype=np.int8,
    shape=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    elements=st.sampled_from([0, 1]),
)


@settings(max_examples=150, deadline=None)
@given(masks)
def test_matches_dense_adjacency_eigendecomposition(mask):
    report = analyze(mask)
    if mask.sum() == 0:
        assert report.is_ramanujan is None and report.lambda1 is None
        assert report.undefined_reason
        return
    lambda1, mu_hat, d_left, d_right = dense_reference(mask)
    assert_close(report.lambda1, lambda1)
    assert_close(report.mu_hat, mu_hat)
    assert_close(report.d_left, d_left)
    assert_close(report.d_right, d_right)
    assert report.dropped_left == int((~mask.any(axis=1)).sum())
    assert report.dropped_right == int((~mask.any(axis=0)).sum())
    assert report.edges == int(mask.sum())
    if d_left >= 3 and d_right >= 3:
        bound = math.sqrt(d_left - 1) + math.sqrt(d_right - 1)
        assert_close(report.bound, bound)
        assert_close(report.delta_r, bound - mu_hat, abs_=1e-7)
        assert report.is_ramanujan == (report.delta_r >= 0)
    else:
        # Undefined is None with a reason, never a number.
        assert report.bound is None and report.delta_r is None
        assert report.is_ramanujan is None and report.delta_r_normalized is None
        assert "< 3" in report.undefined_reason


@pytest.mark.parametrize("shape", [(300, 700), (700, 300)])
def test_sparse_solver_agrees_with_dense_on_large_masks(shape, monkeypatch):
    monkeypatch.setattr(solvers, "DENSE_GRAM_MAX_SIDE", 0)  # Lanczos, not the Gram path
    rng = np.random.default_rng(1)
    mask = rng.random(shape) < 0.08
    mask[:5] = False  # zero-degree rows are dropped
    mask[:, :7] = False
    report = analyze(scipy.sparse.csr_matrix(mask))
    lambda1, mu_hat, d_left, d_right = dense_reference(mask)
    assert_close(report.lambda1, lambda1)
    assert_close(report.mu_hat, mu_hat)
    assert report.dropped_left >= 5 and report.dropped_right >= 7


def test_complete_bipartite_is_ramanujan():
    report = analyze(np.ones((6, 9)))
    assert report.mu_hat == pytest.approx(0.0, abs=1e-9)
    assert report.lambda1 == pytest.approx(math.sqrt(6 * 9))
    assert report.is_ramanujan is True
    assert report.bound == pytest.approx(math.sqrt(8) + math.sqrt(5))


def random_regular_bipartite(n, d, rng):
    """Union of d random perfect matchings, each redrawn until it adds no repeated edge."""
    mask = np.zeros((n, n), dtype=bool)
    rows = np.arange(n)
    for _ in range(d):
        while True:
            columns = rng.permutation(n)
            if not mask[rows, columns].any():
                break
        mask[rows, columns] = True
    return mask


@pytest.mark.parametrize("d", [3, 4, 6])
def test_random_regular_bipartite_is_ramanujan(d):
    rng = np.random.default_rng(d)
    mask = random_regular_bipartite(200, d, rng)
    report = analyze(mask)
    assert report.d_left == pytest.approx(d) and report.d_right == pytest.approx(d)
    assert report.lambda1 == pytest.approx(d)
    assert report.is_ramanujan is True


def test_two_disjoint_blocks_are_not_ramanujan():
    block = np.ones((5, 5))
    mask = np.block([[block, np.zeros((5, 5))], [np.zeros((5, 5)), block]])
    report = analyze(mask)
    assert report.mu_hat == pytest.approx(report.lambda1)  # no spectral gap
    assert report.is_ramanujan is False
    assert report.delta_r < 0


def test_low_degree_is_undefined_not_a_number():
    mask = np.eye(10) + np.eye(10, k=1)  # average degrees ~1.9
    report = analyze(mask)
    assert report.is_ramanujan is None
    assert report.bound is None and report.delta_r is None
    assert "average degree" in report.undefined_reason


def test_empty_graph_is_undefined():
    report = analyze(np.zeros((4, 5)))
    assert report.edges == 0 and report.is_ramanujan is None
    assert report.undefined_reason.startswith("empty graph")
    assert report.to_dict()["delta_r"] is None


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[1.0, np.nan], [1.0, 1.0]]), "NaN"),
        (np.array([[1.0, np.inf], [1.0, 1.0]]), "NaN or infinite"),
        (np.ones(5), "2-D"),
        (np.ones((2, 2, 2)), "2-D"),
        (np.ones((0, 4)), "empty shape"),
        (np.array([["a", "b"]]), "numeric"),
    ],
)
def test_bad_input_raises_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        analyze(bad)


def test_weighted_uses_absolute_weights():
    rng = np.random.default_rng(3)
    weights = rng.normal(size=(20, 30)) * (rng.random((20, 30)) < 0.5)
    report = analyze(weights, weighted=True)
    singular = np.linalg.svd(np.abs(weights), compute_uv=False)
    assert report.lambda1 == pytest.approx(singular[0])
    assert report.mu_hat == pytest.approx(singular[1])
    assert report.spectral_gap == pytest.approx(singular[0] - singular[1])
    # Degrees still count edges.
    assert report.edges == np.count_nonzero(weights)


def test_ramanujan_bound():
    assert ramanujan_bound(5, 10) == pytest.approx(2 + 3)
    assert ramanujan_bound(2.9, 10) is None
    with pytest.raises(ValueError, match="d_left"):
        ramanujan_bound(float("nan"), 4)


def test_iterative_mean_delta_r_by_hand():
    rng = np.random.default_rng(5)
    mask = np.zeros((60, 40), dtype=bool)
    for row in range(30):
        mask[row, rng.choice(40, 8, replace=False)] = True
    for row in range(30, 60):
        mask[row, rng.choice(40, 20, replace=False)] = True
    mask[59, :] = False
    mask[59, :2] = True  # a lone degree-2 row: a group of one, left out
    expected = np.mean([analyze(mask[:30]).delta_r, analyze(mask[30:59]).delta_r])
    assert iterative_mean_delta_r(mask) == pytest.approx(expected)
    assert iterative_mean_delta_r(np.eye(4)) is None  # every group has degree 1 -> undefined


def test_top_singular_values_pads_with_zero():
    assert top_singular_values(np.ones((1, 5)), 2).tolist() == pytest.approx([math.sqrt(5), 0.0])


# --- Gram path: up to 256 nodes on the smaller side, top eigenvalues of B B^T (or B^T B) ---

gram_masks = st.tuples(
    st.integers(33, 90), st.integers(33, 300), st.floats(0.02, 1.0), st.integers(0, 2**31 - 1)
)


@settings(max_examples=40, deadline=None)
@given(gram_masks)
def test_gram_path_matches_dense_adjacency_eigendecomposition(case):
    m, n, density, seed = case
    rng = np.random.default_rng(seed)
    mask = rng.random((m, n)) < density
    if not mask.any():
        return
    lambda1, mu_hat, d_left, d_right = dense_reference(mask)
    # Dense input (no CSR built) and sparse input (CSR, isolated nodes dropped) both.
    for matrix in (mask, scipy.sparse.csr_matrix(mask)):
        report = analyze(matrix)
        assert_close(report.lambda1, lambda1, rel=1e-9)
        assert_close(report.mu_hat, mu_hat, rel=1e-9, abs_=1e-9 * lambda1)
        assert_close(report.d_left, d_left, rel=1e-12)
        assert report.edges == int(mask.sum())
        assert report.dropped_left == int((~mask.any(axis=1)).sum())


def test_gram_path_keeps_a_vanishing_sigma_2_exact():
    """Complete bipartite: sigma_2 = 0 exactly; squaring alone would leave ~1e-6 of sigma_1."""
    report = analyze(np.ones((200, 700)))
    assert report.lambda1 == pytest.approx(math.sqrt(200 * 700), rel=1e-12)
    assert report.mu_hat == pytest.approx(0.0, abs=1e-9)
    assert report.is_ramanujan is True


def test_gram_path_weighted_matches_svd():
    rng = np.random.default_rng(2)
    weights = rng.standard_normal((256, 600)) * (rng.random((256, 600)) < 0.1)
    sigma = np.linalg.svd(np.abs(weights), compute_uv=False)
    for matrix in (weights, weights.T, scipy.sparse.csr_matrix(weights)):
        report = analyze(matrix, weighted=True)
        assert report.lambda1 == pytest.approx(sigma[0], rel=1e-12)
        assert report.mu_hat == pytest.approx(sigma[1], rel=1e-11)
