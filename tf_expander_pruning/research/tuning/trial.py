"""One expander trial: dense training, Ramanujan-constrained pruning, strip, measure.

The functions take the :class:`~tf_expander_pruning.research.tuning.hypermodel.ExpanderHyperModel`
whose settings they read; the hypermodel's ``train``/``measure``/``fit`` methods call them.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow_model_optimization as tfmot

from tf_expander_pruning.analysis.graphs import weight_graphs
from tf_expander_pruning.constraint import RamanujanConstraint
from tf_expander_pruning.core.keras_compat import check_model, keras
from tf_expander_pruning.core.validation import check_int
from tf_expander_pruning.pruning import prune_rnn, strip_pruning
from tf_expander_pruning.pruning.schedules import GeometricSchedule
from tf_expander_pruning.research.classifier import accuracy, compile_classifier
from tf_expander_pruning.research.tuning.checks import ROLE_CHOICES, check_data
from tf_expander_pruning.research.tuning.dense_cache import fingerprint

if TYPE_CHECKING:
    from tf_expander_pruning.research.tuning.hypermodel import ExpanderHyperModel

__all__ = ["TrialOutcome", "train_dense", "run_trial", "measure", "call_train"]


@dataclass
class TrialOutcome:
    """What one trial produced: the stripped model, its metrics and the constraint's record."""

    model: Any
    metrics: dict[str, float]
    constraint: RamanujanConstraint
    hyperparameters: dict[str, Any] = field(default_factory=dict)


def _dense_key(hypermodel: ExpanderHyperModel, cell: str, units: int, x, y) -> tuple:
    """Everything the dense phase depends on."""
    return (cell, int(units), hypermodel.dense_epochs, hypermodel.batch_size,
            hypermodel.learning_rate, hypermodel.seed, tuple(hypermodel.input_shape or ()),
            hypermodel.num_classes, fingerprint(x, y))


def train_dense(hypermodel: ExpanderHyperModel, cell: str, units: int, x, y, *,
                verbose: int = 0):
    """The dense model of (cell, units) trained for ``dense_epochs`` from the search's seed.

    Every trial of a (cell, units) starts from the same weights, so trials differ by their
    hyperparameters only; the trained weights are kept in ``hypermodel.dense_cache`` and reused
    (the reference model is the dense model of its own pair).  The random state is reset
    afterwards, so what follows does not depend on whether the weights came from the cache.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(hypermodel.seed)
    model = compile_classifier(hypermodel.dense_model(cell, units), hypermodel.learning_rate)
    key = _dense_key(hypermodel, cell, units, x, y)
    weights = hypermodel.dense_cache.get(key)
    if weights is None:
        model.fit(x, y, epochs=hypermodel.dense_epochs, batch_size=hypermodel.batch_size,
                  verbose=verbose, shuffle=True)
        hypermodel.dense_cache.put(key, model.get_weights())
    else:
        if not model.built:  # no input_shape on the hypermodel: build from the data
            model.build((None, *np.shape(x)[1:]))
        model.set_weights(weights)
    keras.utils.set_random_seed(hypermodel.seed + 1)
    return model


def _schedule(hypermodel: ExpanderHyperModel, values: dict[str, Any], samples: int,
              epochs: int) -> tuple[GeometricSchedule, int]:
    """The trial's geometric schedule and its mask-update frequency in steps."""
    steps_per_epoch = int(math.ceil(samples / hypermodel.batch_size))
    frequency = max(1, steps_per_epoch // values["updates_per_epoch"])
    end_step = -1
    if hypermodel.recovery_fraction > 0:  # the last stretch only fine-tunes
        end_step = int(steps_per_epoch * epochs * (1.0 - hypermodel.recovery_fraction))
    schedule = GeometricSchedule(rate=values["rate"], frequency=frequency, end_step=end_step,
                                 max_sparsity=hypermodel.max_sparsity)
    return schedule, frequency


def _callbacks(hypermodel: ExpanderHyperModel, callbacks: Sequence[Any],
               roles: tuple[str, ...]) -> tuple[RamanujanConstraint, list]:
    """The user's callbacks plus a constraint and ``UpdatePruningStep`` unless present."""
    callbacks = list(callbacks)
    given = [c for c in callbacks if isinstance(c, RamanujanConstraint)]
    if given:
        constraint = given[0]
    else:
        options = {} if hypermodel.per_gate is None else {"per_gate": hypermodel.per_gate}
        # guard=None: the search judges accuracy itself (its tolerance against its baseline on
        # the validation split), so the trial keeps the paper's spectral rule alone.
        constraint = RamanujanConstraint(roles=roles, margin=hypermodel.margin,
                                         undefined=hypermodel.undefined, verbose=0, guard=None,
                                         **options)
        callbacks.append(constraint)
    if not any(isinstance(c, tfmot.sparsity.keras.UpdatePruningStep) for c in callbacks):
        callbacks.insert(0, tfmot.sparsity.keras.UpdatePruningStep())
    return constraint, callbacks


def _baseline(hypermodel: ExpanderHyperModel, dense_accuracy: float) -> float:
    if hypermodel.baseline == "trial":
        return dense_accuracy
    if hypermodel.baseline_accuracy is None:
        raise ValueError(
            "ExpanderHyperModel.baseline_accuracy is not set: call fit_baseline(...) first "
            "(the expander tuners do it on the first trial) or pass baseline=<accuracy>."
        )
    return hypermodel.baseline_accuracy


def run_trial(hypermodel: ExpanderHyperModel, hp, x, y, validation_data, *,
              callbacks: Sequence[Any] = (), verbose: int = 0,
              prune_epochs: int | None = None) -> TrialOutcome:
    """The whole trial of ``hp`` (see :meth:`ExpanderHyperModel.train`)."""
    x, y = check_data(x, y, "train")
    if validation_data is None or len(validation_data) != 2:
        raise ValueError(
            "`validation_data=(x_val, y_val)` is required: the constraint compares "
            "validation accuracy with the baseline."
        )
    x_val, y_val = check_data(*validation_data, "val")
    hypermodel.set_data_shape(x, y, y_val)
    values = hypermodel.hp_values(hp)
    roles = ROLE_CHOICES[values["roles"]]
    epochs = hypermodel.prune_epochs if prune_epochs is None else check_int(
        prune_epochs, "prune_epochs", minimum=1)

    model = train_dense(hypermodel, values["cell"], values["units"], x, y, verbose=verbose)
    dense_accuracy = accuracy(model, x_val, y_val)
    baseline = _baseline(hypermodel, dense_accuracy)
    schedule, frequency = _schedule(hypermodel, values, len(x), epochs)
    pruned = compile_classifier(prune_rnn(model, schedule, roles=roles),
                                hypermodel.finetune_learning_rate)
    constraint, callbacks = _callbacks(hypermodel, callbacks, roles)
    pruned.fit(x, y, epochs=epochs, batch_size=hypermodel.batch_size, verbose=verbose,
               callbacks=callbacks, shuffle=True)

    metrics = measure(hypermodel, pruned, x_val, y_val, baseline, per_gate=constraint.per_gate)
    metrics.update({
        "dense_val_accuracy": dense_accuracy,
        "frozen": float(sum(len(r) for r in constraint.frozen_layers.values())),
        "frequency_steps": float(frequency),
        "prune_epochs": float(epochs),
    })
    return TrialOutcome(model=strip_pruning(pruned), metrics=metrics, constraint=constraint,
                        hyperparameters=dict(values))


def _constraint_default(name: str) -> Any:
    """A default argument of :class:`RamanujanConstraint` (it may change between versions)."""
    return inspect.signature(RamanujanConstraint).parameters[name].default


def _ramanujan(pruned_model, per_gate: bool) -> tuple[bool, list[float]]:
    """Whether every pruned graph is Ramanujan (undefined counts as not), and the Delta_r's."""
    graphs = [g for g in weight_graphs(pruned_model, per_gate=per_gate) if g.is_pruned]
    reports = [g.report() for g in graphs]
    all_ramanujan = bool(reports) and all(r.is_ramanujan is True for r in reports)
    return all_ramanujan, [r.delta_r for r in reports if r.delta_r is not None]


def _counts(pruned_model, stripped) -> dict[str, float]:
    recurrent = weight_graphs(pruned_model)
    recurrent_total = sum(g.mask.size for g in recurrent)
    recurrent_kept = sum(int(np.count_nonzero(g.mask)) for g in recurrent)
    values = [np.asarray(w) for w in stripped.get_weights()]
    return {
        "nonzero_params": float(sum(np.count_nonzero(v) for v in values)),
        "total_params": float(sum(v.size for v in values)),
        "nonzero_recurrent": float(recurrent_kept),
        "recurrent_params": float(recurrent_total),
        "recurrent_sparsity": 1.0 - recurrent_kept / recurrent_total if recurrent_total else 0.0,
    }


def measure(hypermodel: ExpanderHyperModel, pruned_model, x_val, y_val, baseline: float, *,
            per_gate: bool | None = None) -> dict[str, float]:
    """Objective and constraint metrics of a trained pruned model (see the package doc)."""
    check_model(pruned_model)
    if per_gate is None:
        per_gate = _constraint_default("per_gate")
    all_ramanujan, deltas = _ramanujan(pruned_model, per_gate)
    stripped = strip_pruning(pruned_model)
    counts = _counts(pruned_model, stripped)
    value = accuracy(stripped, x_val, y_val)
    shortfall = max(0.0, (baseline - hypermodel.tolerance) - value)
    # Compare with a small epsilon: accuracies are ratios of integers, the tolerance a float
    within = value >= baseline - hypermodel.tolerance - 1e-9
    feasible = all_ramanujan and within
    if feasible:
        score = counts["nonzero_params"]
    else:
        violation = (0.0 if all_ramanujan else 1.0) + (0.0 if within else 1.0 + shortfall)
        score = float(hypermodel.largest_params() * (1.0 + violation) + counts["nonzero_params"])
    metrics = {
        "score": score, "val_accuracy": value, "baseline_accuracy": float(baseline),
        "accuracy_drop": float(baseline - value), "within_tolerance": float(within),
        "all_ramanujan": float(all_ramanujan), "feasible": float(feasible), **counts,
        "per_gate": float(bool(per_gate)),
    }
    if deltas:
        # keras-tuner stores metrics as JSON floats: leave undefined values out
        metrics["min_delta_r"] = float(min(deltas))
    return metrics


def call_train(hypermodel: ExpanderHyperModel, hp, args: Sequence[Any],
               kwargs: dict[str, Any]) -> TrialOutcome:
    """Map ``tuner.search(...)``-style arguments onto :func:`run_trial`."""
    kwargs = dict(kwargs)
    if len(args) > 2:
        raise TypeError(
            "search() takes x and y positionally and validation_data=(x_val, y_val) by "
            f"keyword; got {len(args)} positional arguments."
        )
    x = args[0] if len(args) > 0 else kwargs.pop("x", None)
    y = args[1] if len(args) > 1 else kwargs.pop("y", None)
    if x is None or y is None:
        raise TypeError("search() needs the training data: tuner.search(x, y, "
                        "validation_data=(x_val, y_val)).")
    validation_data = kwargs.pop("validation_data", None)
    callbacks = kwargs.pop("callbacks", None) or []
    verbose = kwargs.pop("verbose", 0)
    epochs = kwargs.pop("epochs", None)
    kwargs.pop("initial_epoch", None)  # Hyperband: we retrain from scratch (see ExpanderHyperband)
    if kwargs:
        raise TypeError(
            f"Unsupported search()/fit arguments {sorted(kwargs)}: the expander trial takes x, y, "
            "validation_data, callbacks, verbose and epochs (the prune phase); set batch size "
            "and epochs of the dense phase on ExpanderHyperModel."
        )
    # verbose=1 is keras-tuner's per-trial report; only 2 also shows Keras's epoch lines
    return run_trial(hypermodel, hp, x, y, validation_data, callbacks=callbacks,
                     verbose=2 if verbose == 2 else 0, prune_epochs=epochs)
