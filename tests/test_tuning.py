"""keras-tuner integration: a real search on digits, objective/constraint bookkeeping, errors."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import keras_tuner as kt  # noqa: E402
import numpy as np
import pytest
from tf_expander_pruning.graphs import weight_graphs
from tf_expander_pruning.keras_compat import keras
from tf_expander_pruning.schedules import GeometricSchedule

from tf_expander_pruning import tuning
from tf_expander_pruning.pruning import PruneRecurrent, prune_rnn, pruned_weights, strip_pruning


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(np.asarray(model(x, training=False)), axis=-1) == y))


@pytest.mark.slow
def test_search_returns_a_model_that_meets_the_constraint(digits_data, tmp_path):
    x, y, x_val, y_val = digits_data
    tolerance = 0.05
    result = tuning.search(
        x, y, x_val, y_val, max_trials=3, tolerance=tolerance, tuner="random",
        directory=tmp_path, seed=0,
        # tiny but real: one hidden size, both cell kinds with gates, the two role sets
        units=(16,), cells=("lstm", "gru"), rates=(0.2, 0.3), updates_per_epoch=(1,),
        roles=("W_xh", "W_xh+W_hh"), dense_epochs=15, prune_epochs=6, per_gate=True,
    )
    rows = result.trials
    assert len(rows) == 3
    assert all(row["status"] == "COMPLETED" for row in rows), result.table()
    baseline = result.baseline_accuracy
    assert 0.5 < baseline <= 1.0  # a trained reference, not a placeholder

    # The per-trial bookkeeping is consistent with its own definition.
    largest = result.tuner.hypermodel.largest_params()
    for row in rows:
        within = bool(row["val_acc"] >= baseline - tolerance - 1e-9)
        assert row["within_tolerance"] is within, result.table()
        assert row["feasible"] is (within and row["all_ramanujan"])
        if row["feasible"]:
            assert row["score"] == row["nonzero_params"]
        else:
            assert row["score"] > largest  # every infeasible trial ranks below feasible ones
        assert 0.0 < row["recurrent_sparsity"] < 1.0  # every trial really pruned
    feasible = [row for row in rows if row["feasible"]]
    assert feasible, result.table()
    assert result.feasible
    assert result.best_trial["score"] == min(row["score"] for row in rows)

    # Independent check of the returned model: reload, analyse, evaluate.
    model = result.best_model
    assert isinstance(model, keras.Model)
    # per gate, as the constraint checked (each LSTM/GRU gate's columns are one graph)
    graphs = weight_graphs(model, per_gate=True)
    assert graphs and all(g.gate for g in graphs)
    pruned = [g for g in graphs if g.sparsity > 0]
    assert pruned, "the best model has no pruned weight graph"
    for graph in pruned:
        report = graph.report()
        assert report.is_ramanujan is True, (graph.name, report)
    roles = tuning.ROLE_CHOICES[result.best_hyperparameters["roles"]]
    assert {g.role for g in pruned} <= set(roles)
    accuracy = _accuracy(model, x_val, y_val)
    assert accuracy == pytest.approx(result.best_trial["val_acc"], abs=1e-6)
    assert accuracy >= baseline - tolerance
    nonzero = sum(int(np.count_nonzero(w)) for w in model.get_weights())
    assert nonzero == result.best_trial["nonzero_params"]
    assert nonzero < model.count_params()

    # The tuner's own API returns the same model.
    again = result.tuner.get_best_models(1)[0]
    for a, b in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert "| trial |" in result.table()
    csv_path = result.to_csv(tmp_path / "trials.csv")
    assert len(open(csv_path).read().strip().splitlines()) == 4


def test_measure_flags_a_graph_that_is_not_ramanujan(digits_data):
    """The constraint side can fail: two disjoint blocks have no spectral gap."""
    x, y, x_val, y_val = digits_data
    hypermodel = tuning.ExpanderHyperModel(units=(8,), cells=("simplernn",), input_shape=(8, 8),
                                           num_classes=10, tolerance=0.5)
    dense = hypermodel.dense_model("simplernn", 8)
    pruned = prune_rnn(dense, GeometricSchedule(frequency=10), roles=("W_hh",))
    (graph,) = [g for g in weight_graphs(pruned) if g.is_pruned]
    blocks = np.zeros((8, 8), np.float32)
    blocks[:4, :4] = blocks[4:, 4:] = 1.0  # disconnected: sigma_2 = sigma_1
    graph.mask_variable.assign(blocks)
    metrics = hypermodel.measure(pruned, x_val[:50], y_val[:50], baseline=0.0)
    assert metrics["all_ramanujan"] == 0.0
    assert metrics["within_tolerance"] == 1.0  # baseline 0: only the graph fails
    assert metrics["feasible"] == 0.0
    assert metrics["score"] >= 2 * hypermodel.largest_params()
    assert metrics["nonzero_recurrent"] == 8 * 8 + 32  # W_xh dense, W_hh half

    graph.mask_variable.assign(np.ones((8, 8), np.float32))  # complete bipartite: Ramanujan
    metrics = hypermodel.measure(pruned, x_val[:50], y_val[:50], baseline=0.0)
    assert metrics["all_ramanujan"] == 1.0
    assert metrics["score"] == metrics["nonzero_params"]


def test_search_space_and_penalty():
    hypermodel = tuning.ExpanderHyperModel(units=(4, 12), cells=("lstm", "gru", "simplernn"),
                                           input_shape=(8, 8), num_classes=10)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    assert {p.name for p in hp.space} == {"cell", "units", "rate", "updates_per_epoch", "roles"}
    assert hp.get("roles") == "W_xh+W_hh"  # the first choice is the default
    counts = []
    for cell in ("lstm", "gru", "simplernn"):
        for units in (4, 12):
            model = hypermodel.dense_model(cell, units)
            assert model.get_layer(cell).units == units
            counts.append(model.count_params())
    assert hypermodel.largest_params() == max(counts)
    with pytest.raises(ValueError, match="set_data_shape"):
        hypermodel.build(hp)  # the schedule counts steps of the training set
    hypermodel.set_data_shape(np.zeros((64, 8, 8), np.float32), np.arange(64) % 10)
    model = hypermodel.build(hp)
    assert isinstance(model, keras.Model) and model.output_shape == (None, 10)
    (wrapper,) = [layer for layer in model.layers if isinstance(layer, PruneRecurrent)]
    assert wrapper.pruning_schedule.frequency == 2  # 64 rows, batches of 32, 1 update per epoch
    assert model.optimizer is not None  # compiled: fit(hp, model) trains it as it is


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tolerance": -0.1}, ValueError, "tolerance"),
        ({"tolerance": 1.5}, ValueError, "tolerance"),
        ({"max_trials": 0}, ValueError, "max_trials"),
        ({"tuner": "annealing"}, ValueError, "Unknown tuner"),
        ({"tuner": int}, TypeError, "Tuner subclass"),
        ({"cells": ("transformer",)}, ValueError, "Unknown cell"),
        ({"units": ()}, ValueError, "units"),
        ({"rates": (1.5,)}, ValueError, "rates"),
        ({"roles": ("W_zz",)}, ValueError, "roles"),
        ({"updates_per_epoch": (0,)}, ValueError, "updates_per_epoch"),
        ({"baseline": "dense"}, ValueError, "baseline"),
        ({"unit": (8,)}, TypeError, "ExpanderHyperModel"),
        ({"hypermodel": object()}, TypeError, "ExpanderHyperModel"),
    ],
)
def test_search_rejects_bad_arguments(digits_data, kwargs, error, match):
    x, y, x_val, y_val = digits_data
    with pytest.raises(error, match=match):
        tuning.search(x, y, x_val, y_val, **kwargs)


def test_search_rejects_bad_data(digits_data):
    x, y, x_val, y_val = digits_data
    with pytest.raises(ValueError, match="samples, time, features"):
        tuning.search(x.reshape(len(x), -1), y, x_val, y_val)
    with pytest.raises(ValueError, match="labels"):
        tuning.search(x, y[:-1], x_val, y_val)
    with pytest.raises(ValueError, match="same size"):
        tuning.search(x, y, x_val[:, :, :4], y_val)
    with pytest.raises(ValueError, match="integer class labels"):
        tuning.search(x, keras.utils.to_categorical(y, 10), x_val, y_val)


def test_tuners_need_the_expander_hypermodel(tmp_path):
    with pytest.raises(TypeError, match="ExpanderHyperModel"):
        tuning.ExpanderRandomSearch(hypermodel=lambda hp: None, directory=tmp_path)
    with pytest.raises(TypeError, match="Tuner subclass"):
        tuning.expander_tuner(dict)
    cls = tuning.expander_tuner(kt.BayesianOptimization)
    assert issubclass(cls, tuning.ExpanderTunerMixin) and issubclass(cls, kt.BayesianOptimization)
    tuner = cls(hypermodel=tuning.ExpanderHyperModel(units=(8,)), max_trials=1,
                directory=tmp_path, project_name="p")
    assert tuner.oracle.objective.name == "score"
    assert tuner.oracle.objective.direction == "min"
    hypermodel = tuning.ExpanderHyperModel(units=(8,))
    with pytest.raises(ValueError, match="validation_data"):
        hypermodel.train(kt.HyperParameters(), np.zeros((4, 8, 8)), np.zeros(4, int), None)


def test_dense_phase_is_trained_once_per_cell_and_units(digits_data, monkeypatch):
    """Trials (and the reference) of one (cell, units) share one trained dense model."""
    # SimpleRNN(4) on 96 sequences, batches of 32: the cheapest real training (one trace per fit)
    x, y = digits_data[0][:96], digits_data[1][:96]
    settings = dict(units=(4,), cells=("simplernn",), input_shape=(8, 8), num_classes=10,
                    dense_epochs=1, batch_size=32)
    hypermodel = tuning.ExpanderHyperModel(**settings)
    first = hypermodel.train_dense("simplernn", 4, x, y)
    assert len(hypermodel.dense_cache) == 1

    # The same training again comes from the cache: fit is not called.
    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("dense model retrained"))
        second = hypermodel.train_dense("simplernn", 4, x, y)
    assert second is not first and len(hypermodel.dense_cache) == 1
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    # What is cached is what training gives: a new hypermodel trains the same weights.
    fresh = tuning.ExpanderHyperModel(**settings).train_dense("simplernn", 4, x, y)
    for a, b in zip(fresh.get_weights(), first.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    # Other data or other dense settings train afresh.
    hypermodel.train_dense("simplernn", 4, x[:64], y[:64])
    hypermodel.dense_epochs = 2
    hypermodel.train_dense("simplernn", 4, x, y)
    assert len(hypermodel.dense_cache) == 3


def test_fit_trains_the_model_build_returned(digits_data):
    """keras-tuner's contract: build(hp) makes the model, fit(hp, model, ...) trains that one."""
    x, y, x_val, y_val = digits_data
    x, y = x[:96], y[:96]
    hypermodel = tuning.ExpanderHyperModel(
        units=(4,), cells=("simplernn",), rates=(0.3,), updates_per_epoch=(2,),
        roles=("W_xh+W_hh",), dense_epochs=1, prune_epochs=2, batch_size=32, baseline=0.1)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    hypermodel.set_data_shape(x, y, y_val)
    model = hypermodel.build(hp)
    (wrapper,) = [layer for layer in model.layers if isinstance(layer, PruneRecurrent)]
    assert int(wrapper.pruning_step.numpy()) == -1
    with pytest.raises(ValueError, match="schedule"):  # other data than build planned for
        hypermodel.fit(hp, model, x[:64], y[:64], validation_data=(x_val, y_val))

    metrics = hypermodel.fit(hp, model, x, y, validation_data=(x_val[:50], y_val[:50]))
    assert int(wrapper.pruning_step.numpy()) == 2 * 3  # 2 epochs of 3 steps, on this object
    assert all(int(w.mask_updates.numpy()) > 0 for w in pruned_weights(model))
    # the dense phase's weights were loaded into it, then pruned: its masks are the trial's
    dense = hypermodel.train_dense("simplernn", 4, x, y)  # from the cache
    assert not np.array_equal(wrapper.layer.get_weights()[0], dense.get_weights()[0])
    stripped = [np.asarray(w) for w in strip_pruning(model).get_weights()]
    assert metrics["nonzero_params"] == sum(int(np.count_nonzero(w)) for w in stripped)
    assert metrics["nonzero_recurrent"] == sum(
        int(np.count_nonzero(w.mask.numpy())) for w in pruned_weights(model))
    assert metrics["val_accuracy"] == pytest.approx(
        _accuracy(strip_pruning(model), x_val[:50], y_val[:50]), abs=1e-9)


_TUNING = Path(tuning.__file__).parent


def _tuning_imports(module: Path) -> set[str]:
    """The sibling modules of research/tuning that ``module`` imports (TYPE_CHECKING too)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        prefix = "tf_expander_pruning.research.tuning."
        found |= {n[len(prefix):].split(".")[0] for n in names if n.startswith(prefix)}
    return found


def test_tuning_modules_import_without_a_cycle():
    """trial never imports hypermodel; the modules of the package form no import cycle."""
    graph = {p.stem: _tuning_imports(p) for p in _TUNING.glob("*.py") if p.stem != "__init__"}
    assert "hypermodel" not in graph["trial"] and "trial" in graph["hypermodel"]
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name not in done:
            for other in sorted(graph.get(name, ())):
                visit(other, (*path, name))
            done.add(name)

    for name in sorted(graph):
        visit(name, ())


@pytest.mark.parametrize("first", ["trial", "hypermodel"])
def test_hypermodel_and_trial_import_in_either_order(first):
    second = {"trial": "hypermodel", "hypermodel": "trial"}[first]
    code = (f"import tf_expander_pruning.research.tuning.{first}\n"
            f"import tf_expander_pruning.research.tuning.{second}\n"
            "from tf_expander_pruning.research.tuning.hypermodel import ExpanderHyperModel\n"
            "from tf_expander_pruning.research.tuning.trial import TrialSettings\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def _ramanujan_by_hand(mask: np.ndarray) -> bool:
    """Delta_r >= 0 from the definition: drop isolated nodes, average degrees, sigma_2 by SVD."""
    graph = mask[mask.any(axis=1)][:, mask.any(axis=0)].astype(np.float64)
    edges = graph.sum()
    d_left, d_right = edges / graph.shape[0], edges / graph.shape[1]
    if d_left < 3 or d_right < 3:
        return False  # undefined bound: the tuner counts it as not Ramanujan
    sigma = np.linalg.svd(graph, compute_uv=False)
    return bool(np.sqrt(d_left - 1) + np.sqrt(d_right - 1) - sigma[1] >= 0)


@pytest.mark.slow
def test_measure_agrees_with_an_independent_count(pruned_digits, digits_data):
    """measure() on a really trained, constraint-pruned LSTM against counts made by hand."""
    shared = pruned_digits("lstm")
    x_val, y_val = digits_data[2], digits_data[3]
    hypermodel = tuning.ExpanderHyperModel(units=(16,), cells=("lstm",), input_shape=(8, 8),
                                           num_classes=10, tolerance=0.05)
    metrics = hypermodel.measure(shared.pruned, x_val, y_val, baseline=shared.dense_accuracy,
                                 per_gate=True)

    weights = shared.stripped.get_weights()
    assert metrics["nonzero_params"] == sum(int(np.count_nonzero(w)) for w in weights)
    assert metrics["total_params"] == shared.stripped.count_params()
    kernel, recurrent = shared.stripped.get_layer("lstm").get_weights()[:2]
    assert metrics["recurrent_params"] == kernel.size + recurrent.size
    kept = int(np.count_nonzero(kernel) + np.count_nonzero(recurrent))
    assert metrics["nonzero_recurrent"] == kept < kernel.size + recurrent.size  # really pruned
    logits = shared.stripped.predict(x_val, verbose=0)
    assert metrics["val_accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == y_val), abs=1e-9)
    assert metrics["val_accuracy"] == pytest.approx(shared.pruned_accuracy, abs=1e-9)

    # Every gate block (16 columns) of both pruned matrices, checked from the definition.
    verdicts = [_ramanujan_by_hand(matrix[:, g * 16:(g + 1) * 16] != 0)
                for matrix in (kernel, recurrent) for g in range(4)]
    assert metrics["all_ramanujan"] == float(all(verdicts))
    within = metrics["val_accuracy"] >= shared.dense_accuracy - 0.05 - 1e-9
    assert metrics["feasible"] == float(all(verdicts) and within)
