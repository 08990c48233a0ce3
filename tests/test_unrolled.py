"""The unrolled-in-time graph: block structure and spectrum."""

import numpy as np
import pytest
from tf_expander_pruning.spectral import analyze
from tf_expander_pruning.unrolled import (
    analyze_unrolled,
    unrolled_adjacency,
    unrolled_biadjacency,
    unrolled_graph,
)


@pytest.fixture
def masks():
    rng = np.random.default_rng(0)
    return rng.random((3, 4)) < 0.6, rng.random((4, 4)) < 0.6


def test_block_lower_bidiagonal_toeplitz(masks):
    kernel, recurrent = masks
    steps, n_in, units = 5, 3, 4
    graph = unrolled_graph(kernel, recurrent, steps).toarray()
    block = n_in + units
    assert graph.shape == (steps * block, steps * block)
    expected_diagonal = np.zeros((block, block))
    expected_diagonal[n_in:, :n_in] = kernel.T  # x_t -> h_t (row = target)
    expected_below = np.zeros((block, block))
    expected_below[n_in:, n_in:] = recurrent.T  # h_{t-1} -> h_t
    for row in range(steps):
        for col in range(steps):
            tile = graph[row * block:(row + 1) * block, col * block:(col + 1) * block]
            if row == col:
                np.testing.assert_array_equal(tile, expected_diagonal)
            elif row == col + 1:
                np.testing.assert_array_equal(tile, expected_below)
            else:
                assert not tile.any()
    assert graph.sum() == steps * kernel.sum() + (steps - 1) * recurrent.sum()


def test_biadjacency_spectrum_equals_full_adjacency(masks):
    kernel, recurrent = masks
    adjacency = unrolled_adjacency(kernel, recurrent, 4).toarray()
    np.testing.assert_array_equal(adjacency, adjacency.T)
    eigenvalues = np.sort(np.linalg.eigvalsh(adjacency))[::-1]
    biadjacency = unrolled_biadjacency(kernel, recurrent, 4)
    assert biadjacency.nnz * 2 == adjacency.sum()  # bipartite: every edge crosses the colouring
    singular = np.linalg.svd(biadjacency.toarray(), compute_uv=False)
    assert singular[0] == pytest.approx(eigenvalues[0])
    assert singular[1] == pytest.approx(eigenvalues[1])


def test_analyze_unrolled_dense_masks():
    kernel, recurrent = np.ones((6, 8)), np.ones((8, 8))
    report = analyze_unrolled(kernel, recurrent, 6)
    assert report.edges == 6 * 48 + 5 * 64
    assert report.is_ramanujan is not None
    assert report == analyze(unrolled_biadjacency(kernel, recurrent, 6))


def test_bad_shapes():
    with pytest.raises(ValueError, match="square"):
        unrolled_graph(np.ones((3, 4)), np.ones((3, 3)), 2)
    with pytest.raises(ValueError, match="steps"):
        unrolled_graph(np.ones((3, 4)), np.ones((4, 4)), 0)
