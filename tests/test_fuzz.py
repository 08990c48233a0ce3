"""Hypothesis fuzzing of the spectral core and of the Keras weight-graph extraction.

Invariants: every report agrees with an independent dense eigendecomposition of the bipartite
adjacency; no report carries a number where the quantity is undefined (empty graph, or an
average degree below 3: bound, Delta_r, its normalised form and the verdict are None and a
reason is given); bad numbers (NaN/inf) raise ValueError; SpectralCache equals analyze; and the
graphs of random recurrent models have the shapes, masks and weights of the Keras cells.
"""

from __future__ import annotations

import contextlib
import math
from unittest import mock

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.csgraph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tf_expander_pruning.spectral import (
    MIN_AVERAGE_DEGREE,
    SpectralCache,
    analyze,
    solvers,
)

DTYPES = (bool, np.int8, np.int32, np.float32, np.float64)
FORMATS = ("dense", "csr", "csc", "coo", "lil", "dok", "csr_array")


def to_format(array: np.ndarray, kind: str):
    if kind == "dense":
        return array
    if kind == "csr_array":
        return scipy.sparse.csr_array(array)
    return getattr(scipy.sparse, f"{kind}_matrix")(array)


def dense_reference(weights: np.ndarray, weighted: bool):
    """(lambda_1, mu_hat, d_left, d_right, dropped) from eigvalsh of [[0, B], [B^T, 0]]."""
    mask = weights != 0
    keep_rows, keep_cols = mask.any(axis=1), mask.any(axis=0)
    values = np.abs(weights.astype(np.float64)) if weighted else mask.astype(np.float64)
    core = values[keep_rows][:, keep_cols]
    m, n = core.shape
    edges = int(mask.sum())
    dropped = (int((~keep_rows).sum()), int((~keep_cols).sum()))
    if m + n > 120:
        # Large: a dense LAPACK SVD (gesdd), still independent of analyze's Lanczos path and
        # much cheaper than eigvalsh of the (m+n)-square adjacency.
        sigma = np.linalg.svd(core, compute_uv=False)
        return sigma[0], (sigma[1] if sigma.size > 1 else 0.0), edges / m, edges / n, dropped
    adjacency = np.zeros((m + n, m + n))
    adjacency[:m, m:] = core
    adjacency[m:, :m] = core.T
    eigenvalues = np.sort(np.linalg.eigvalsh(adjacency))[::-1]
    rest = np.abs(eigenvalues[1:-1])  # set the pair +/- lambda_1 aside
    return eigenvalues[0], (rest.max() if rest.size else 0.0), edges / m, edges / n, dropped


def reference_components(weights: np.ndarray) -> int:
    """Components of the full bipartite adjacency (scipy csgraph), isolated nodes not counted."""
    b = scipy.sparse.csr_matrix(weights != 0, dtype=np.int8)
    adjacency = scipy.sparse.bmat([[None, b], [b.T, None]], format="csr")
    count, _ = scipy.sparse.csgraph.connected_components(adjacency, directed=False)
    return count - int(np.count_nonzero(np.diff(adjacency.indptr) == 0))


def assert_no_number_where_undefined(report):
    """Undefined quantities are None with a reason; defined ones are finite numbers."""
    for name, value in report.to_dict().items():
        if isinstance(value, float):
            assert math.isfinite(value), name
    gated = (report.bound, report.delta_r, report.delta_r_normalized, report.is_ramanujan)
    if report.edges == 0:
        assert report.undefined_reason.startswith("empty graph")
        assert report.lambda1 is None and report.mu_hat is None and report.d_left is None
        assert report.delta_s is None and report.spectral_gap is None
        assert all(value is None for value in gated)
        return
    assert report.components >= 1
    if report.weighted:
        # A |w| spectrum gets its gap, never a verdict against the edge-counting bound.
        assert all(value is None for value in gated) and report.delta_s is None
        assert report.undefined_reason.startswith("weighted graph")
        assert report.spectral_gap == pytest.approx(report.lambda1 - report.mu_hat)
        return
    low = min(report.d_left, report.d_right) < MIN_AVERAGE_DEGREE
    if low:
        assert all(value is None for value in gated)
        assert "< 3" in report.undefined_reason
    else:
        assert report.undefined_reason is None
        assert all(value is not None for value in gated)
        # Ramanujan: the bound holds and the graph is connected (docs/constraint.md).
        assert report.is_ramanujan == (report.delta_r >= 0 and report.components == 1)
        assert report.delta_r_normalized == pytest.approx(report.delta_r / report.bound)
    if report.lambda1 < 1.0:  # sqrt(lambda_1 - 1) is not real
        assert report.delta_s is None


@st.composite
def weight_matrices(draw):
    """(weights, dtype, format, weighted): random shape (often 1 x N / N x 1), sparsity, signs."""
    shape = draw(st.one_of(
        st.tuples(st.integers(1, 30), st.integers(1, 30)),
        st.tuples(st.just(1), st.integers(1, 200)),
        st.tuples(st.integers(1, 200), st.just(1)),
        # Large enough for the Gram or (when forced below) the Lanczos path.
        st.tuples(st.integers(230, 260), st.integers(290, 320)),
    ))
    sparsity = draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(seed)
    keep = rng.random(shape) >= sparsity
    if dtype is bool:
        weights = keep
    elif np.issubdtype(dtype, np.integer):
        # Negative and positive integers; a zero draw is simply one more pruned entry.
        weights = (rng.integers(-3, 4, size=shape) * keep).astype(dtype)
    else:
        weights = (rng.standard_normal(shape) * keep).astype(dtype)
    return weights, draw(st.sampled_from(FORMATS)), draw(st.booleans())


def solver_path(lanczos: bool):
    """Force the Lanczos solver where the Gram path would be taken (or leave the choice)."""
    if not lanczos:
        return contextlib.nullcontext()
    return mock.patch.object(solvers, "DENSE_GRAM_MAX_SIDE", 0)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=weight_matrices(), lanczos=st.booleans())
def test_analyze_agrees_with_dense_eigendecomposition(case, lanczos):
    weights, kind, weighted = case
    weighted = weighted and weights.dtype != bool
    with solver_path(lanczos):
        report = analyze(to_format(weights, kind), weighted=weighted)
    assert (report.n_left, report.n_right) == weights.shape
    assert report.edges == int(np.count_nonzero(weights))
    assert report.weighted == weighted
    assert_no_number_where_undefined(report)
    if report.edges == 0:
        return
    lambda1, mu_hat, d_left, d_right, dropped = dense_reference(weights, weighted)
    scale = max(lambda1, 1.0)
    assert report.lambda1 == pytest.approx(lambda1, rel=1e-7, abs=1e-9 * scale)
    assert report.mu_hat == pytest.approx(mu_hat, rel=1e-7, abs=1e-7 * scale)
    assert report.d_left == pytest.approx(d_left) and report.d_right == pytest.approx(d_right)
    assert (report.dropped_left, report.dropped_right) == dropped
    assert report.components == reference_components(weights)
    defined = (
        d_left >= MIN_AVERAGE_DEGREE and d_right >= MIN_AVERAGE_DEGREE and not weighted
    )
    assert (report.bound is not None) == defined
    if defined:
        bound = math.sqrt(d_left - 1) + math.sqrt(d_right - 1)
        assert report.bound == pytest.approx(bound)
        assert report.delta_r == pytest.approx(bound - mu_hat, abs=1e-7 * scale)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    bad=st.sampled_from([math.nan, math.inf, -math.inf]),
    kind=st.sampled_from(FORMATS),
    dtype=st.sampled_from([np.float32, np.float64]),
    where=st.integers(0, 10**6),
    weighted=st.booleans(),
)
def test_non_finite_input_raises_never_a_number(shape, bad, kind, dtype, where, weighted):
    weights = np.ones(shape, dtype=dtype)
    weights.flat[where % weights.size] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        analyze(to_format(weights, kind), weighted=weighted)
    with pytest.raises(ValueError, match="NaN or infinite"):
        SpectralCache().analyze("k", to_format(weights, kind), weighted=weighted)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from([(12, 20), (260, 300), (300, 260)]),
    seed=st.integers(0, 2**32 - 1),
    steps=st.lists(
        st.tuples(st.sampled_from(["flip", "drop_row", "drop_col", "same", "refill"]),
                  st.integers(1, 40)),
        min_size=1, max_size=5,
    ),
    weighted=st.booleans(),
    lanczos=st.booleans(),
)
def test_cache_sequences_equal_cold_analyze(shape, seed, steps, weighted, lanczos):
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(shape) * (rng.random(shape) < rng.uniform(0.05, 0.6))
    cache = SpectralCache()
    for action, count in [("same", 0), *steps]:
        if action == "flip":
            index = rng.integers(0, weights.size, count)
            weights.flat[index] = np.where(weights.flat[index] == 0, 1.5, 0.0)
        elif action == "drop_row":
            weights[rng.integers(0, shape[0], count)] = 0.0
        elif action == "drop_col":
            weights[:, rng.integers(0, shape[1], count)] = 0.0
        elif action == "refill":
            weights = rng.standard_normal(shape) * (rng.random(shape) < 0.3)
        with solver_path(lanczos):
            cached, cold = cache.analyze("k", weights, weighted=weighted), analyze(
                weights, weighted=weighted
            )
        assert_no_number_where_undefined(cached)
        for name, expected in cold.to_dict().items():
            actual = getattr(cached, name)
            if isinstance(expected, float):
                scale = max(abs(cold.lambda1 or 0.0), abs(cold.bound or 0.0), 1.0)
                assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9 * scale), name
            else:
                assert actual == expected, name


# --- Keras: graph extraction from random recurrent models ------------------------------------

T = 3
GATE_COUNT = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


@st.composite
def layer_configs(draw):
    depth = draw(st.integers(1, 2))
    layers = []
    for _ in range(depth):
        kind = draw(st.sampled_from(["SimpleRNN", "LSTM", "GRU"]))
        layers.append({
            "kind": kind,
            "units": draw(st.integers(1, 12)),
            "reset_after": draw(st.booleans()) if kind == "GRU" else None,
            "bidirectional": draw(st.booleans()),
        })
    return {
        "features": draw(st.integers(1, 10)),
        "layers": layers,
        "zero_fraction": draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def build(config):
    from tf_expander_pruning.keras_compat import keras

    layers = [keras.Input((T, config["features"]))]
    for index, spec in enumerate(config["layers"]):
        options = {"return_sequences": index + 1 < len(config["layers"])}
        if spec["kind"] == "GRU":
            options["reset_after"] = spec["reset_after"]
        layer = getattr(keras.layers, spec["kind"])(spec["units"], **options)
        if spec["bidirectional"]:
            layer = keras.layers.Bidirectional(layer)
        layers.append(layer)
    layers.append(keras.layers.Dense(2))
    model = keras.Sequential(layers)
    rng = np.random.default_rng(config["seed"])
    for weight in model.weights:
        if "kernel" in weight.name and "dense" not in weight.name:
            value = weight.numpy()
            value[rng.random(value.shape) < config["zero_fraction"]] = 0.0
            weight.assign(value)
    return model


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_configs())
def test_weight_graphs_of_random_models(config):
    from tf_expander_pruning import graphs

    model = build(config)
    whole = graphs.weight_graphs(model)
    per_gate = graphs.weight_graphs(model, per_gate=True)
    expected = []
    inputs = config["features"]
    for spec in config["layers"]:
        directions = 2 if spec["bidirectional"] else 1
        gates = GATE_COUNT[spec["kind"]]
        for _ in range(directions):
            expected.append(("W_xh", (inputs, gates * spec["units"]), gates))
            expected.append(("W_hh", (spec["units"], gates * spec["units"]), gates))
        inputs = spec["units"] * directions
    assert [(g.role, g.shape) for g in whole] == [(role, shape) for role, shape, _ in expected]
    assert len(per_gate) == sum(gates for *_, gates in expected)
    for graph in whole:
        variable = getattr(graph.cell, graphs.ROLES[graph.role]).numpy()
        np.testing.assert_array_equal(graph.weights, variable)
        np.testing.assert_array_equal(graph.mask, variable != 0)
        report = graph.report()
        assert report.edges == int(np.count_nonzero(variable))
        assert_no_number_where_undefined(report)
        if report.edges:
            lambda1, mu_hat, *_ = dense_reference(variable, weighted=False)
            assert report.lambda1 == pytest.approx(lambda1, rel=1e-7)
            assert report.mu_hat == pytest.approx(mu_hat, rel=1e-7, abs=1e-7 * lambda1)
        weighted = graph.report(weighted=True)
        assert_no_number_where_undefined(weighted)
        assert weighted.edges == report.edges
    # The per-gate graphs are column blocks that tile each whole matrix.
    for graph in whole:
        blocks = [g for g in per_gate if g.layer == graph.layer and g.role == graph.role]
        np.testing.assert_array_equal(np.concatenate([g.mask for g in blocks], axis=1), graph.mask)
        for block in blocks:
            np.testing.assert_array_equal(block.weights, graph.weights[:, block.columns])
            assert_no_number_where_undefined(block.report())
