"""One expander trial on plain values: dense training, constrained pruning, strip, measure.

The functions take a :class:`TrialSettings` (the hypermodel's fixed settings as a frozen
dataclass), a :class:`TrialPlan` (one trial's hyperparameters turned into a schedule) and
arrays; none of them knows the hypermodel.  :mod:`.hypermodel` imports this module, never the
other way round.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow_model_optimization as tfmot

from tf_expander_pruning.analysis.graphs import weight_graphs
from tf_expander_pruning.constraint import RamanujanConstraint
from tf_expander_pruning.core.keras_compat import check_model, keras
from tf_expander_pruning.pruning import PruneRecurrent, prune_rnn, strip_pruning
from tf_expander_pruning.pruning.schedules import GeometricSchedule
from tf_expander_pruning.research.classifier import accuracy, compile_classifier
from tf_expander_pruning.research.tuning.checks import ROLE_CHOICES, check_data
from tf_expander_pruning.research.tuning.dense_cache import DenseCache, fingerprint

__all__ = [
    "TrialSettings", "TrialPlan", "TrialOutcome", "FitArguments", "fit_arguments",
    "check_trial_data", "plan_trial", "train_dense", "prune_dense", "check_schedule",
    "load_dense_weights", "pruning_callbacks", "baseline_value", "fit_pruned", "measure",
]


@dataclass(frozen=True)
class TrialSettings:
    """The fixed settings a trial reads (see :class:`ExpanderHyperModel` for their meaning).

    ``penalty`` is the parameter count of the largest dense model of the search space.
    """

    tolerance: float
    baseline: str | float
    dense_epochs: int
    prune_epochs: int
    batch_size: int
    learning_rate: float
    finetune_learning_rate: float
    max_sparsity: float
    recovery_fraction: float
    margin: float
    undefined: str
    per_gate: bool | None
    input_shape: tuple[int, int] | None
    num_classes: int | None
    seed: int
    penalty: int


@dataclass(frozen=True)
class TrialPlan:
    """One trial's hyperparameter values and what follows from them for a training set."""

    values: dict[str, Any]
    roles: tuple[str, ...]
    schedule: GeometricSchedule
    frequency: int
    epochs: int

    @property
    def cell(self) -> str:
        return self.values["cell"]

    @property
    def units(self) -> int:
        return int(self.values["units"])


@dataclass
class TrialOutcome:
    """What one trial produced: the stripped model, its metrics and the constraint's record."""

    model: Any
    metrics: dict[str, float]
    constraint: RamanujanConstraint
    hyperparameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FitArguments:
    """``tuner.search(...)``/``HyperModel.fit(...)`` arguments a trial understands."""

    x: Any
    y: Any
    validation_data: Any
    callbacks: list
    verbose: int
    epochs: int | None


def fit_arguments(args: Sequence[Any], kwargs: dict[str, Any]) -> FitArguments:
    """Map ``search(x, y, validation_data=..., callbacks=..., verbose=..., epochs=...)``."""
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
    callbacks = list(kwargs.pop("callbacks", None) or [])
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
    return FitArguments(x, y, validation_data, callbacks, 2 if verbose == 2 else 0, epochs)


def check_trial_data(x, y, validation_data) -> tuple[np.ndarray, ...]:
    """Checked ``x, y, x_val, y_val``; ``validation_data`` is required."""
    x, y = check_data(x, y, "train")
    if validation_data is None or len(validation_data) != 2:
        raise ValueError(
            "`validation_data=(x_val, y_val)` is required: the constraint compares "
            "validation accuracy with the baseline."
        )
    x_val, y_val = check_data(*validation_data, "val")
    return x, y, x_val, y_val


def plan_trial(settings: TrialSettings, values: dict[str, Any], samples: int,
               epochs: int) -> TrialPlan:
    """The geometric schedule of ``values`` for ``samples`` training rows and ``epochs``."""
    steps_per_epoch = int(math.ceil(samples / settings.batch_size))
    frequency = max(1, steps_per_epoch // values["updates_per_epoch"])
    end_step = -1
    if settings.recovery_fraction > 0:  # the last stretch only fine-tunes
        end_step = int(steps_per_epoch * epochs * (1.0 - settings.recovery_fraction))
    schedule = GeometricSchedule(rate=values["rate"], frequency=frequency, end_step=end_step,
                                 max_sparsity=settings.max_sparsity)
    return TrialPlan(values=dict(values), roles=ROLE_CHOICES[values["roles"]],
                     schedule=schedule, frequency=frequency, epochs=int(epochs))


def _dense_key(settings: TrialSettings, name: tuple, x, y) -> tuple:
    """Everything the dense phase depends on."""
    return (*name, settings.dense_epochs, settings.batch_size, settings.learning_rate,
            settings.seed, tuple(settings.input_shape or ()), settings.num_classes,
            fingerprint(x, y))


def train_dense(settings: TrialSettings, build: Callable[[], Any], x, y, *, name: tuple = (),
                cache: DenseCache | None = None, verbose: int = 0):
    """``build()`` (the dense model, made after seeding) trained for ``dense_epochs``.

    Every trial of one architecture (``name``, e.g. ``(cell, units)``) starts from the same
    weights, so trials differ by their hyperparameters only; the trained weights are kept in
    ``cache`` and reused.  The random state is reset afterwards, so what follows does not depend
    on whether the weights came from the cache.
    """
    keras.utils.set_random_seed(settings.seed)
    model = compile_classifier(build(), settings.learning_rate)
    key = _dense_key(settings, name, x, y)
    weights = None if cache is None else cache.get(key)
    if weights is None:
        model.fit(x, y, epochs=settings.dense_epochs, batch_size=settings.batch_size,
                  verbose=verbose, shuffle=True)
        if cache is not None:
            cache.put(key, model.get_weights())
    else:
        if not model.built:  # no input_shape: build from the data
            model.build((None, *np.shape(x)[1:]))
        model.set_weights(weights)
    keras.utils.set_random_seed(settings.seed + 1)
    return model


def prune_dense(dense, plan: TrialPlan, learning_rate: float):
    """``dense`` wrapped by ``prune_rnn`` with the plan's schedule and roles, compiled."""
    return compile_classifier(prune_rnn(dense, plan.schedule, roles=plan.roles), learning_rate)


def check_schedule(model, schedule: GeometricSchedule) -> None:
    """Raise unless every pruning wrapper of ``model`` runs ``schedule``."""
    check_model(model)
    wrappers = [layer for layer in model.layers if isinstance(layer, PruneRecurrent)]
    if not wrappers:
        raise ValueError("`model` has no pruned recurrent layer: pass the model that "
                         "ExpanderHyperModel.build(hp) returned.")
    expected = schedule.get_config()
    found = [w.pruning_schedule.get_config() for w in wrappers]
    if any(config != expected for config in found):
        raise ValueError(
            f"The model was built with the schedule {found[0]['config']} but this training "
            f"needs {expected['config']}: the training-set size or the prune epochs differ from "
            "those build(hp) planned for. Call set_data_shape(x, y) before build(hp) and fit "
            "with the same epochs."
        )


def load_dense_weights(pruned, dense) -> None:
    """Give ``pruned`` (``prune_rnn`` of a model like ``dense``) the weights of ``dense``."""
    if not pruned.built and dense.built:
        pruned.build(dense.input_shape)
    if len(pruned.layers) != len(dense.layers):
        raise ValueError(f"The pruned model has {len(pruned.layers)} layers, the dense model "
                         f"{len(dense.layers)}: not the same architecture.")
    for layer, source in zip(pruned.layers, dense.layers, strict=True):
        target = layer.layer if isinstance(layer, PruneRecurrent) else layer
        target.set_weights(source.get_weights())


def pruning_callbacks(settings: TrialSettings, callbacks: Sequence[Any],
                      roles: tuple[str, ...]) -> tuple[RamanujanConstraint, list]:
    """The user's callbacks plus a constraint and ``UpdatePruningStep`` unless present."""
    callbacks = list(callbacks)
    given = [c for c in callbacks if isinstance(c, RamanujanConstraint)]
    if given:
        constraint = given[0]
    else:
        options = {} if settings.per_gate is None else {"per_gate": settings.per_gate}
        # guard=None: the search judges accuracy itself (its tolerance against its baseline on
        # the validation split), so the trial keeps the paper's spectral rule alone.
        constraint = RamanujanConstraint(roles=roles, margin=settings.margin,
                                         undefined=settings.undefined, verbose=0, guard=None,
                                         **options)
        callbacks.append(constraint)
    if not any(isinstance(c, tfmot.sparsity.keras.UpdatePruningStep) for c in callbacks):
        callbacks.insert(0, tfmot.sparsity.keras.UpdatePruningStep())
    return constraint, callbacks


def baseline_value(settings: TrialSettings, baseline_accuracy: float | None,
                   dense_accuracy: float) -> float:
    """The accuracy a trial is compared with (``"trial"``: its own dense model)."""
    if settings.baseline == "trial":
        return dense_accuracy
    if baseline_accuracy is None:
        raise ValueError(
            "ExpanderHyperModel.baseline_accuracy is not set: call fit_baseline(...) first "
            "(the expander tuners do it on the first trial) or pass baseline=<accuracy>."
        )
    return baseline_accuracy


def fit_pruned(settings: TrialSettings, model, dense, train: tuple, validation: tuple, *,
               plan: TrialPlan, baseline_accuracy: float | None,
               callbacks: Sequence[Any] = (), verbose: int = 0) -> TrialOutcome:
    """Load the trained ``dense`` weights into ``model``, prune it under the constraint, measure.

    ``model`` is trained in place (it is the model of :func:`prune_dense`); the outcome holds
    its stripped copy.
    """
    (x, y), (x_val, y_val) = train, validation
    load_dense_weights(model, dense)
    dense_accuracy = accuracy(dense, x_val, y_val)
    baseline = baseline_value(settings, baseline_accuracy, dense_accuracy)
    constraint, callbacks = pruning_callbacks(settings, callbacks, plan.roles)
    model.fit(x, y, epochs=plan.epochs, batch_size=settings.batch_size, verbose=verbose,
              callbacks=callbacks, shuffle=True)
    metrics = measure(model, x_val, y_val, baseline, tolerance=settings.tolerance,
                      penalty=settings.penalty, per_gate=constraint.per_gate)
    metrics.update({
        "dense_val_accuracy": dense_accuracy,
        "frozen": float(sum(len(r) for r in constraint.frozen_layers.values())),
        "frequency_steps": float(plan.frequency),
        "prune_epochs": float(plan.epochs),
    })
    return TrialOutcome(model=strip_pruning(model), metrics=metrics, constraint=constraint,
                        hyperparameters=dict(plan.values))


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


def measure(pruned_model, x_val, y_val, baseline: float, *, tolerance: float, penalty: float,
            per_gate: bool | None = None) -> dict[str, float]:
    """Objective and constraint metrics of a trained pruned model (see the package doc).

    ``penalty`` is the parameter count an infeasible trial's score is built on.
    """
    check_model(pruned_model)
    if per_gate is None:
        per_gate = _constraint_default("per_gate")
    all_ramanujan, deltas = _ramanujan(pruned_model, per_gate)
    stripped = strip_pruning(pruned_model)
    counts = _counts(pruned_model, stripped)
    value = accuracy(stripped, x_val, y_val)
    shortfall = max(0.0, (baseline - tolerance) - value)
    # Compare with a small epsilon: accuracies are ratios of integers, the tolerance a float
    within = value >= baseline - tolerance - 1e-9
    feasible = all_ramanujan and within
    if feasible:
        score = counts["nonzero_params"]
    else:
        violation = (0.0 if all_ramanujan else 1.0) + (0.0 if within else 1.0 + shortfall)
        score = float(penalty * (1.0 + violation) + counts["nonzero_params"])
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
