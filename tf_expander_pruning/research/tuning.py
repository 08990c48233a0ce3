"""keras-tuner search for the smallest recurrent model that keeps dense accuracy as an expander.

The search space (:class:`ExpanderHyperModel`): recurrent ``units``, ``cell`` type
(SimpleRNN/LSTM/GRU), the pruning ``rate`` of :class:`~tf_expander_pruning.pruning.schedules.
GeometricSchedule`, its frequency (``updates_per_epoch`` mask updates per epoch) and the
``roles`` to prune (W_xh, W_hh or both).  Every trial

1. trains the dense model (``dense_epochs``),
2. prunes it with :func:`~tf_expander_pruning.pruning.prune_rnn`, TF-MOT's
   ``UpdatePruningStep`` and a :class:`~tf_expander_pruning.constraint.RamanujanConstraint`
   (``prune_epochs``): each weight graph is pruned until it stops being Ramanujan, then frozen,
3. strips the wrappers and reports, as keras-tuner metrics:

   * the **objective** ``score`` (minimised): the nonzero parameters of the stripped model when
     the trial is feasible; an infeasible trial scores ``penalty * (1 + violation) + nonzero``
     where ``penalty`` is the parameter count of the largest dense model in the search space, so
     every infeasible trial ranks below every feasible one, and ``violation`` adds 1 for a
     non-Ramanujan pruned graph plus 1 and the accuracy shortfall for missing the tolerance;
   * the **constraint**: ``all_ramanujan`` (1 when every pruned weight graph of the final model
     has ``Delta_r >= 0``, per gate when the constraint checks gates (``per_gate`` metric); an
     undefined bound counts as not Ramanujan) and ``within_tolerance``
     (1 when ``val_accuracy >= baseline_accuracy - tolerance``); ``feasible`` is their AND;
   * ``val_accuracy``, ``dense_val_accuracy`` (this trial's model before pruning),
     ``baseline_accuracy``, ``nonzero_params``, ``total_params``, ``nonzero_recurrent``,
     ``recurrent_params``, ``recurrent_sparsity``, ``min_delta_r``, ``frozen`` (matrices the
     constraint froze), ``frequency_steps`` and ``prune_epochs``.

Why the tuner classes: keras-tuner imports Keras 3 and its ``Tuner`` rejects the tf_keras models
TF-MOT needs (``FatalTypeError``, keras-tuner issue 1039).  :class:`ExpanderTunerMixin`
overrides ``run_trial`` (train with tf_keras ourselves and return the metrics dict),
``save_model`` and ``load_model`` (a ``.keras`` file of the stripped model per trial);
:func:`expander_tuner` applies it to any keras-tuner ``Tuner`` subclass, and
:class:`ExpanderRandomSearch`, :class:`ExpanderBayesianOptimization`, :class:`ExpanderHyperband`
and :class:`ExpanderGridSearch` are ready-made.  :func:`search` does everything in one call.

Example::

    from tf_expander_pruning.research import datasets, tuning

    x, y = datasets.load("digits", "train")
    xv, yv = datasets.load("digits", "test")
    result = tuning.search(x, y, xv, yv, max_trials=10, tolerance=0.02)
    print(result.table())
    model = result.best_model          # stripped tf_keras model, sparse weights
"""

from __future__ import annotations

import copy
import csv
import inspect
import json
import math
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tf_expander_pruning.core.keras_compat import check_model, keras

# isort: split
# keras-tuner imports Keras 3 (and TensorFlow); keras_compat above has already selected Keras 2
# for everything TF-MOT touches, and keras-tuner only sees the metrics we return.
import keras_tuner as kt
import tensorflow_model_optimization as tfmot

from tf_expander_pruning.analysis.graphs import weight_graphs
from tf_expander_pruning.constraint.callback import UNDEFINED_POLICIES, RamanujanConstraint
from tf_expander_pruning.pruning.schedules import GeometricSchedule
from tf_expander_pruning.pruning.wrapper import prune_rnn, strip_pruning

__all__ = [
    "CELLS",
    "ROLE_CHOICES",
    "OBJECTIVE",
    "TABLE_COLUMNS",
    "ExpanderHyperModel",
    "TrialOutcome",
    "ExpanderTunerMixin",
    "ExpanderRandomSearch",
    "ExpanderBayesianOptimization",
    "ExpanderHyperband",
    "ExpanderGridSearch",
    "TUNERS",
    "expander_tuner",
    "SearchResult",
    "search",
    "trial_table",
    "format_table",
]

#: Cell type choices -> tf_keras layer class name.
CELLS = {"lstm": "LSTM", "gru": "GRU", "simplernn": "SimpleRNN"}

#: ``roles`` choice -> weight roles pruned (and checked by the constraint).
ROLE_CHOICES = {"W_xh+W_hh": ("W_xh", "W_hh"), "W_xh": ("W_xh",), "W_hh": ("W_hh",)}

#: The objective every expander tuner minimises (see the module docstring).
OBJECTIVE = kt.Objective("score", direction="min")

#: Columns of :func:`trial_table` rows, in display order.
TABLE_COLUMNS = (
    "trial", "status", "cell", "units", "rate", "updates_per_epoch", "roles", "dense_acc",
    "val_acc", "nonzero_params", "recurrent_sparsity", "min_delta_r", "all_ramanujan",
    "within_tolerance", "score",
)

_GATES = {"lstm": 4, "gru": 3, "simplernn": 1}
_BASELINES = ("reference", "trial")
_MODEL_FILE = "model.keras"
_BASELINE_FILE = "baseline.json"


# ------------------------------------------------------------------------------ validation


def _choices(name: str, values, check) -> tuple:
    """A non-empty tuple of distinct, valid choices (a single value is accepted)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        values = (values,)
    values = tuple(values)
    if not values:
        raise ValueError(f"`{name}` is empty: give at least one choice.")
    if len(set(values)) != len(values):
        raise ValueError(f"`{name}` has repeated choices: {list(values)}.")
    for value in values:
        check(value)
    return values


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _positive_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"`{name}` must be a positive finite number, got {value!r}.")
    return float(value)


def _check_units(value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`units` choices must be positive integers, got {value!r}.")


def _check_cell(value) -> None:
    if value not in CELLS:
        raise ValueError(f"Unknown cell {value!r} in `cells`; choose from {tuple(CELLS)}.")


def _check_rate(value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(
            f"`rates` choices are the fraction of remaining weights removed per mask update, "
            f"in (0, 1); got {value!r}."
        )


def _check_updates(value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"`updates_per_epoch` choices must be integers >= 1 (mask updates per epoch), "
            f"got {value!r}."
        )


def _check_role_choice(value) -> None:
    if value not in ROLE_CHOICES:
        raise ValueError(
            f"Unknown `roles` choice {value!r}; choose from {tuple(ROLE_CHOICES)} "
            "(W_xh = kernel, input -> hidden; W_hh = recurrent_kernel, hidden -> hidden)."
        )


def _check_tolerance(tolerance) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not (
        0 <= tolerance < 1
    ):
        raise ValueError(
            "`tolerance` is the accuracy drop allowed below the dense baseline, a number in "
            f"[0, 1) (0.02 = two points); got {tolerance!r}."
        )
    return float(tolerance)


def _check_data(x, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Float32 ``(samples, time, features)`` and integer labels, or a clear ``ValueError``."""
    try:
        x = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(
            f"`x_{what}` must be an array of shape (samples, time, features), got "
            f"{type(x).__name__}."
        ) from None
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(
            f"`x_{what}` must have shape (samples, time, features) with samples > 0; got "
            f"shape {x.shape}."
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        raise ValueError(
            f"`y_{what}` must be integer class labels of shape (samples,), got shape {y.shape} "
            f"and dtype {y.dtype} (one-hot labels: pass y.argmax(-1))."
        )
    if len(y) != len(x):
        raise ValueError(f"`x_{what}` has {len(x)} samples but `y_{what}` has {len(y)} labels.")
    if y.min() < 0:
        raise ValueError(f"`y_{what}` has negative labels; use classes 0..n-1.")
    return x, y.astype(np.int64)


# ------------------------------------------------------------------------------ hypermodel


@dataclass
class TrialOutcome:
    """What one trial produced: the stripped model, its metrics and the constraint's record."""

    model: Any
    metrics: dict[str, float]
    constraint: RamanujanConstraint
    hyperparameters: dict[str, Any] = field(default_factory=dict)


class ExpanderHyperModel(kt.HyperModel):
    """Search space and training of one Ramanujan-constrained pruning trial.

    ``build(hp)`` returns the dense tf_keras model (``Input -> <cell>(units) -> Dense(classes)``,
    logits); ``train(hp, x, y, (x_val, y_val))`` runs the whole trial and returns a
    :class:`TrialOutcome`; ``fit(hp, model, ...)`` (keras-tuner's hook) returns just its
    metrics.  Use it with a tuner from :func:`expander_tuner` (plain keras-tuner tuners reject
    tf_keras models).

    Args:
        units, cells, rates, updates_per_epoch, roles: the choices of each hyperparameter
            (``hp.Choice``; a single value fixes it).  ``roles`` entries are keys of
            :data:`ROLE_CHOICES`.
        tolerance: allowed accuracy drop below the baseline, in [0, 1).
        baseline: ``"reference"`` (default): the validation accuracy of one dense reference
            model (the largest ``units`` with the first of ``cells``, trained like the trials,
            once per search and kept in the tuner directory); ``"trial"``: each trial's own
            dense model; or a number (an accuracy you already know).
        dense_epochs, prune_epochs: epochs of the two phases (Hyperband's ``tuner/epochs``
            overrides ``prune_epochs``).
        batch_size, learning_rate, finetune_learning_rate: Adam training settings.
        max_sparsity: cap of the geometric schedule.
        recovery_fraction: the last fraction of the prune phase makes no mask updates (the
            schedule's ``end_step``), so the network recovers from the last pruning step before
            it is measured.  0 prunes until the end.
        margin, undefined, per_gate: passed to the :class:`RamanujanConstraint` the trial adds
            when the callbacks hold none (``per_gate=None``: the callback's default).
        input_shape, num_classes: fixed by the training data on the first trial when omitted.
        seed: weights are initialised from this seed in every trial, so two trials differ only
            by their hyperparameters.
    """

    def __init__(
        self,
        *,
        units: Sequence[int] | int = (16, 32, 64),
        cells: Sequence[str] | str = ("lstm", "gru", "simplernn"),
        rates: Sequence[float] | float = (0.1, 0.2, 0.3),
        updates_per_epoch: Sequence[int] | int = (1, 2),
        roles: Sequence[str] | str = tuple(ROLE_CHOICES),
        tolerance: float = 0.02,
        baseline: str | float = "reference",
        dense_epochs: int = 20,
        prune_epochs: int = 20,
        batch_size: int = 32,
        learning_rate: float = 3e-3,
        finetune_learning_rate: float = 1e-3,
        max_sparsity: float = 0.98,
        recovery_fraction: float = 1 / 3,
        margin: float = 0.0,
        undefined: str = "fail",
        per_gate: bool | None = None,
        input_shape: tuple[int, int] | None = None,
        num_classes: int | None = None,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, tunable=True)
        self.units = tuple(int(u) for u in _choices("units", units, _check_units))
        self.cells = _choices("cells", cells, _check_cell)
        self.rates = tuple(float(r) for r in _choices("rates", rates, _check_rate))
        self.updates_per_epoch = tuple(
            int(u) for u in _choices("updates_per_epoch", updates_per_epoch, _check_updates)
        )
        self.roles = _choices("roles", roles, _check_role_choice)
        self.tolerance = _check_tolerance(tolerance)
        if isinstance(baseline, str):
            if baseline not in _BASELINES:
                raise ValueError(
                    f"`baseline` must be 'reference', 'trial' or an accuracy in (0, 1]; got "
                    f"{baseline!r}."
                )
        elif isinstance(baseline, bool) or not isinstance(baseline, (int, float)) or not (
            0 < baseline <= 1
        ):
            raise ValueError(
                f"`baseline` must be 'reference', 'trial' or an accuracy in (0, 1]; got "
                f"{baseline!r}."
            )
        self.baseline = baseline
        self.dense_epochs = _positive_int("dense_epochs", dense_epochs)
        self.prune_epochs = _positive_int("prune_epochs", prune_epochs)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.learning_rate = _positive_float("learning_rate", learning_rate)
        self.finetune_learning_rate = _positive_float(
            "finetune_learning_rate", finetune_learning_rate
        )
        if not (isinstance(max_sparsity, (int, float)) and 0 < max_sparsity < 1):
            raise ValueError(f"`max_sparsity` must be in (0, 1), got {max_sparsity!r}.")
        self.max_sparsity = float(max_sparsity)
        if isinstance(recovery_fraction, bool) or not isinstance(recovery_fraction, (int, float)) \
                or not 0 <= recovery_fraction < 1:
            raise ValueError(
                f"`recovery_fraction` must be in [0, 1), got {recovery_fraction!r}."
            )
        self.recovery_fraction = float(recovery_fraction)
        if undefined not in UNDEFINED_POLICIES:
            raise ValueError(f"`undefined` must be one of {UNDEFINED_POLICIES}, got {undefined!r}.")
        self.margin = float(margin)
        self.undefined = undefined
        self.per_gate = None if per_gate is None else bool(per_gate)
        if input_shape is not None:
            input_shape = tuple(_positive_int("input_shape", int(d)) for d in input_shape)
            if len(input_shape) != 2:
                raise ValueError(f"`input_shape` must be (time, features), got {input_shape}.")
        self.input_shape = input_shape
        self.num_classes = None if num_classes is None else _positive_int(
            "num_classes", num_classes, minimum=2
        )
        self.seed = int(seed)
        #: the accuracy trials are compared with (set by the tuner for ``"reference"``)
        self.baseline_accuracy: float | None = (
            None if isinstance(baseline, str) else float(baseline)
        )

    # ---------------------------------------------------------------- search space
    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        """Declare the five hyperparameters (keras-tuner calls this before the first trial)."""
        self._hp_values(hp)

    def _hp_values(self, hp: kt.HyperParameters) -> dict[str, Any]:
        return {
            "cell": hp.Choice("cell", list(self.cells)),
            "units": hp.Choice("units", list(self.units)),
            "rate": hp.Choice("rate", list(self.rates)),
            "updates_per_epoch": hp.Choice("updates_per_epoch", list(self.updates_per_epoch)),
            "roles": hp.Choice("roles", list(self.roles)),
        }

    def dense_model(self, cell: str, units: int):
        """The dense classifier for one (cell, units): logits, uncompiled."""
        _check_cell(cell)
        _check_units(units)
        layer = getattr(keras.layers, CELLS[cell])
        stack = [keras.Input(self.input_shape)] if self.input_shape is not None else []
        stack += [
            layer(int(units), name=cell),
            keras.layers.Dense(self.num_classes or 10, name="output"),
        ]
        return keras.Sequential(stack, name=f"{cell}_{units}")

    def build(self, hp: kt.HyperParameters):
        """The dense tf_keras model of ``hp`` (Input, one recurrent layer, Dense logits)."""
        values = self._hp_values(hp)
        return self.dense_model(values["cell"], values["units"])

    def largest_params(self) -> int:
        """Parameter count of the largest dense model in the space (the infeasibility penalty)."""
        features = self.input_shape[1] if self.input_shape else 1
        classes = self.num_classes or 10
        best = 0
        for cell in self.cells:
            gates = _GATES[cell]
            for units in self.units:
                # GRU in Keras 2 defaults to reset_after=True: two bias rows
                bias = gates * units * (2 if cell == "gru" else 1)
                rnn = gates * units * (features + units) + bias
                best = max(best, rnn + units * classes + classes)
        return best

    # ---------------------------------------------------------------- training
    def _compile(self, model, learning_rate: float):
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    def set_data_shape(self, x: np.ndarray, y: np.ndarray, y_val: np.ndarray | None = None):
        """Fix ``input_shape`` and ``num_classes`` from the data (or check them against it)."""
        shape = tuple(int(d) for d in x.shape[1:])
        classes = int(max(y.max(), -1 if y_val is None else y_val.max())) + 1
        if self.input_shape is None:
            self.input_shape = shape
        elif tuple(self.input_shape) != shape:
            raise ValueError(
                f"The hypermodel was made for inputs (time, features) = {self.input_shape} but "
                f"the data has {shape}."
            )
        if self.num_classes is None:
            self.num_classes = max(classes, 2)
        elif classes > self.num_classes:
            raise ValueError(
                f"Labels go up to {classes - 1} but the hypermodel has num_classes="
                f"{self.num_classes}."
            )

    def _fit_dense(self, model, x, y, *, callbacks=(), verbose=0) -> None:
        self._compile(model, self.learning_rate)
        model.fit(x, y, epochs=self.dense_epochs, batch_size=self.batch_size, verbose=verbose,
                  callbacks=list(callbacks), shuffle=True)

    @staticmethod
    def _accuracy(model, x, y) -> float:
        # Direct calls, not model.predict: predict builds a new tf.function per model, and a
        # search evaluates many models (TensorFlow then warns about retracing).
        hits = 0
        for start in range(0, len(x), 1024):
            logits = np.asarray(model(x[start:start + 1024], training=False))
            hits += int(np.sum(np.argmax(logits, axis=-1) == y[start:start + 1024]))
        return hits / len(x)

    def fit_baseline(self, x, y, x_val, y_val, *, verbose: int = 0) -> float:
        """Train the dense reference model (largest ``units``, first cell); store its accuracy.

        Returns:
            The reference validation accuracy, also kept in :attr:`baseline_accuracy`.
        """
        x, y = _check_data(x, y, "train")
        x_val, y_val = _check_data(x_val, y_val, "val")
        self.set_data_shape(x, y, y_val)
        keras.backend.clear_session()
        keras.utils.set_random_seed(self.seed)
        model = self.dense_model(self.cells[0], max(self.units))
        self._fit_dense(model, x, y, verbose=verbose)
        self.baseline_accuracy = self._accuracy(model, x_val, y_val)
        return self.baseline_accuracy

    def train(
        self,
        hp: kt.HyperParameters,
        x,
        y,
        validation_data,
        *,
        callbacks: Sequence[Any] = (),
        verbose: int = 0,
        prune_epochs: int | None = None,
    ) -> TrialOutcome:
        """Run one trial: dense training, constrained pruning, strip, measure.

        ``callbacks`` are tf_keras callbacks for the pruning phase; a
        :class:`RamanujanConstraint` among them is used instead of the default one, and
        ``UpdatePruningStep`` is added unless present.
        """
        x, y = _check_data(x, y, "train")
        if validation_data is None or len(validation_data) != 2:
            raise ValueError(
                "`validation_data=(x_val, y_val)` is required: the constraint compares "
                "validation accuracy with the baseline."
            )
        x_val, y_val = _check_data(*validation_data, "val")
        self.set_data_shape(x, y, y_val)
        values = self._hp_values(hp)
        roles = ROLE_CHOICES[values["roles"]]
        epochs = self.prune_epochs if prune_epochs is None else _positive_int(
            "prune_epochs", prune_epochs
        )

        # Same initial weights for every trial of a cell/units: trials differ by hp only.
        keras.backend.clear_session()
        keras.utils.set_random_seed(self.seed)
        model = self.dense_model(values["cell"], values["units"])
        self._fit_dense(model, x, y, verbose=verbose)
        dense_accuracy = self._accuracy(model, x_val, y_val)
        if self.baseline == "trial":
            baseline = dense_accuracy
        elif self.baseline_accuracy is None:
            raise ValueError(
                "ExpanderHyperModel.baseline_accuracy is not set: call fit_baseline(...) first "
                "(the expander tuners do it on the first trial) or pass baseline=<accuracy>."
            )
        else:
            baseline = self.baseline_accuracy

        steps_per_epoch = int(math.ceil(len(x) / self.batch_size))
        frequency = max(1, steps_per_epoch // values["updates_per_epoch"])
        end_step = -1
        if self.recovery_fraction > 0:
            end_step = int(steps_per_epoch * epochs * (1.0 - self.recovery_fraction))
        schedule = GeometricSchedule(
            rate=values["rate"], frequency=frequency, end_step=end_step,
            max_sparsity=self.max_sparsity,
        )
        pruned = self._compile(prune_rnn(model, schedule, roles=roles),
                               self.finetune_learning_rate)
        callbacks = list(callbacks)
        constraints = [c for c in callbacks if isinstance(c, RamanujanConstraint)]
        if constraints:
            constraint = constraints[0]
        else:
            options = {} if self.per_gate is None else {"per_gate": self.per_gate}
            constraint = RamanujanConstraint(
                roles=roles, margin=self.margin, undefined=self.undefined, verbose=0, **options
            )
            callbacks.append(constraint)
        if not any(isinstance(c, tfmot.sparsity.keras.UpdatePruningStep) for c in callbacks):
            callbacks.insert(0, tfmot.sparsity.keras.UpdatePruningStep())
        pruned.fit(x, y, epochs=epochs, batch_size=self.batch_size, verbose=verbose,
                   callbacks=callbacks, shuffle=True)

        metrics = self.measure(pruned, x_val, y_val, baseline, per_gate=constraint.per_gate)
        stripped = strip_pruning(pruned)
        metrics.update({
            "dense_val_accuracy": dense_accuracy,
            "frozen": float(sum(len(r) for r in constraint.frozen_layers.values())),
            "frequency_steps": float(frequency),
            "prune_epochs": float(epochs),
        })
        return TrialOutcome(model=stripped, metrics=metrics, constraint=constraint,
                            hyperparameters=dict(values))

    def measure(
        self, pruned_model, x_val, y_val, baseline: float, *, per_gate: bool | None = None
    ) -> dict[str, float]:
        """Objective and constraint metrics of a trained pruned model (see the module doc).

        The Ramanujan check is independent of the callback: it re-analyses every pruned weight
        graph of ``pruned_model`` with :func:`~tf_expander_pruning.graphs.weight_graphs`, at the
        granularity the constraint used: each gate's column block with ``per_gate`` (a matrix
        whose gates are all Ramanujan can still fail as a whole, measured: GRU ``W_hh``), else
        the whole matrix.  ``None``: the :class:`RamanujanConstraint` default.
        """
        check_model(pruned_model)
        if per_gate is None:
            per_gate = _constraint_default("per_gate")
        graphs = [g for g in weight_graphs(pruned_model, per_gate=per_gate) if g.is_pruned]
        reports = [g.report() for g in graphs]
        all_ramanujan = bool(reports) and all(r.is_ramanujan is True for r in reports)
        deltas = [r.delta_r for r in reports if r.delta_r is not None]
        recurrent = weight_graphs(pruned_model)
        recurrent_total = sum(g.mask.size for g in recurrent)
        recurrent_kept = sum(int(np.count_nonzero(g.mask)) for g in recurrent)
        stripped = strip_pruning(pruned_model)
        values = [np.asarray(w) for w in stripped.get_weights()]
        total = int(sum(v.size for v in values))
        nonzero = int(sum(np.count_nonzero(v) for v in values))
        accuracy = self._accuracy(stripped, x_val, y_val)
        shortfall = max(0.0, (baseline - self.tolerance) - accuracy)
        # Compare with a small epsilon: accuracies are ratios of integers, the tolerance a float
        within = accuracy >= baseline - self.tolerance - 1e-9
        feasible = all_ramanujan and within
        if feasible:
            score = float(nonzero)
        else:
            violation = (0.0 if all_ramanujan else 1.0) + (0.0 if within else 1.0 + shortfall)
            score = float(self.largest_params() * (1.0 + violation) + nonzero)
        metrics = {
            "score": score,
            "val_accuracy": accuracy,
            "baseline_accuracy": float(baseline),
            "accuracy_drop": float(baseline - accuracy),
            "within_tolerance": float(within),
            "all_ramanujan": float(all_ramanujan),
            "feasible": float(feasible),
            "nonzero_params": float(nonzero),
            "total_params": float(total),
            "nonzero_recurrent": float(recurrent_kept),
            "recurrent_params": float(recurrent_total),
            "per_gate": float(bool(per_gate)),
            "recurrent_sparsity": (
                1.0 - recurrent_kept / recurrent_total if recurrent_total else 0.0
            ),
        }
        if deltas:
            # keras-tuner stores metrics as JSON floats: leave undefined values out
            metrics["min_delta_r"] = float(min(deltas))
        return metrics

    def fit(self, hp, model, *args, **kwargs) -> dict[str, float]:
        """keras-tuner's hook: ``fit(hp, model, x, y, validation_data=..., callbacks=...)``.

        ``model`` (from :meth:`build`) is ignored: :meth:`train` builds the model itself so
        that it controls the seed.  Returns the trial's metrics.
        """
        del model
        return _call_train(self, hp, args, kwargs).metrics


def _constraint_default(name: str) -> Any:
    """A default argument of :class:`RamanujanConstraint` (it may change between versions)."""
    return inspect.signature(RamanujanConstraint).parameters[name].default


def _call_train(hypermodel: ExpanderHyperModel, hp, args, kwargs) -> TrialOutcome:
    """Map ``tuner.search(...)``-style arguments onto :meth:`ExpanderHyperModel.train`."""
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
    return hypermodel.train(hp, x, y, validation_data, callbacks=callbacks,
                            verbose=2 if verbose == 2 else 0, prune_epochs=epochs)


# ------------------------------------------------------------------------------ tuners


def _trial_callbacks(callbacks: Sequence[Any], trial_id: str) -> list:
    """Fresh copies of ``callbacks`` for one trial, each ``log_dir`` moved to a trial subdir.

    keras-tuner semantics: callbacks are reused across trials, so each trial gets deep copies.
    TF-MOT's ``PruningSummaries`` opens its file writer in ``__init__`` (it cannot be copied, and
    changing ``log_dir`` afterwards would not move its scalars), so it is re-created instead.
    keras-tuner moves only Keras 3's TensorBoard to per-trial dirs; this covers tf_keras's
    TensorBoard, ``PruningSummaries`` and ``RamanujanConstraint``.  When one log dir contains
    all others (``logs`` and ``logs/ramanujan``), the trial goes right below it
    (``logs/trial_<id>/ramanujan``) so one trial's runs sit together in TensorBoard; otherwise
    each becomes ``<log_dir>/trial_<id>``.
    """
    dirs = [
        os.path.normpath(str(c.log_dir)) for c in callbacks
        if isinstance(getattr(c, "log_dir", None), (str, os.PathLike))
    ]
    root = os.path.commonpath(dirs) if dirs else None
    if root not in dirs:
        root = None

    def moved(log_dir) -> str | None:
        if not isinstance(log_dir, (str, os.PathLike)):
            return None
        log_dir = os.path.normpath(str(log_dir))
        if root is None:
            return os.path.join(log_dir, f"trial_{trial_id}")
        rest = os.path.relpath(log_dir, root)
        return os.path.normpath(os.path.join(root, f"trial_{trial_id}", rest))

    copies = []
    for callback in callbacks:
        trial_dir = moved(getattr(callback, "log_dir", None))
        if isinstance(callback, tfmot.sparsity.keras.PruningSummaries):
            copies.append(type(callback)(log_dir=trial_dir, update_freq=callback.update_freq))
            continue
        try:
            clone = copy.deepcopy(callback)
        except Exception as error:  # TensorFlow objects raise various types here
            raise ValueError(
                f"Callback {type(callback).__name__} cannot be deep-copied ({error}); every "
                "trial needs its own copy. Create it lazily (in set_model/on_train_begin) or "
                "give it a __deepcopy__."
            ) from None
        if trial_dir is not None:
            clone.log_dir = trial_dir
        copies.append(clone)
    return copies


class ExpanderTunerMixin:
    """Turns a keras-tuner ``Tuner`` subclass into one that runs tf_keras expander trials.

    Put it first in the bases (``class T(ExpanderTunerMixin, kt.RandomSearch)``) or use
    :func:`expander_tuner`.  ``hypermodel`` must be an :class:`ExpanderHyperModel`; the
    objective defaults to :data:`OBJECTIVE` (minimise ``score``).  ``search(x, y,
    validation_data=(x_val, y_val), callbacks=[...], verbose=...)`` as usual; callbacks are
    deep-copied per trial and their ``log_dir`` is made per trial.
    """

    def __init__(self, hypermodel: ExpanderHyperModel | None = None, objective=None, **kwargs):
        if not isinstance(hypermodel, ExpanderHyperModel):
            raise TypeError(
                f"{type(self).__name__} needs hypermodel=ExpanderHyperModel(...), got "
                f"{type(hypermodel).__name__}. Plain build functions return tf_keras models, "
                "which keras-tuner's own training loop rejects."
            )
        if kwargs.get("distribution_strategy") is not None:
            raise ValueError(
                "distribution_strategy is not supported by the expander tuners: keras-tuner "
                "would apply a Keras 3 strategy scope to tf_keras training."
            )
        super().__init__(hypermodel=hypermodel, objective=objective or OBJECTIVE, **kwargs)

    # keras-tuner calls these; they must not build Keras 3 models.
    def run_trial(self, trial, *args, **kwargs) -> dict[str, float]:
        """Train one trial with tf_keras and return its metrics (objective + constraint)."""
        hp = trial.hyperparameters
        hypermodel: ExpanderHyperModel = self.hypermodel
        kwargs = dict(kwargs)
        if "tuner/epochs" in hp.values:
            # Hyperband's budget. Warm starts from an earlier bracket are not used: a stripped
            # model cannot resume constrained pruning, so each trial restarts from the seed.
            kwargs["epochs"] = hp.values["tuner/epochs"]
        kwargs["callbacks"] = _trial_callbacks(kwargs.pop("callbacks", None) or [],
                                               trial.trial_id)
        if hypermodel.baseline == "reference" and hypermodel.baseline_accuracy is None:
            self._ensure_baseline(args, kwargs)
        outcome = _call_train(hypermodel, hp, args, kwargs)
        self.save_model(trial.trial_id, outcome.model)
        return outcome.metrics

    def _ensure_baseline(self, args, kwargs) -> None:
        path = os.path.join(self.project_dir, _BASELINE_FILE)
        hypermodel: ExpanderHyperModel = self.hypermodel
        if os.path.exists(path):  # a resumed search keeps its reference
            with open(path) as handle:
                hypermodel.baseline_accuracy = float(json.load(handle)["baseline_accuracy"])
            return
        x = args[0] if args else kwargs.get("x")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        validation = kwargs.get("validation_data")
        if x is None or y is None or validation is None or len(validation) != 2:
            raise ValueError(
                "search(x, y, validation_data=(x_val, y_val)) is required: the reference dense "
                "model is trained on x, y and evaluated on the validation data."
            )
        accuracy = hypermodel.fit_baseline(x, y, *validation)
        with open(path, "w") as handle:
            json.dump({
                "baseline_accuracy": accuracy, "cell": hypermodel.cells[0],
                "units": max(hypermodel.units), "dense_epochs": hypermodel.dense_epochs,
            }, handle)

    def _model_path(self, trial_id: str) -> str:
        return os.path.join(self.get_trial_dir(trial_id), _MODEL_FILE)

    def save_model(self, trial_id, model, step=0) -> None:
        """Save the trial's stripped tf_keras model as ``<trial dir>/model.keras``."""
        os.makedirs(self.get_trial_dir(trial_id), exist_ok=True)
        model.save(self._model_path(trial_id))

    def load_model(self, trial):
        """Load a trial's stripped tf_keras model (what ``get_best_models`` returns)."""
        path = self._model_path(trial.trial_id)
        if not os.path.exists(path):
            raise FileNotFoundError(f"Trial {trial.trial_id} saved no model ({path}).")
        return keras.models.load_model(path)

    def trial_table(self) -> list[dict[str, Any]]:
        """One row per trial (see :func:`trial_table`)."""
        return trial_table(self)


def expander_tuner(tuner_class: type) -> type:
    """Return ``tuner_class`` (any ``keras_tuner.Tuner`` subclass) with the expander trial.

    Example: ``expander_tuner(kt.BayesianOptimization)(hypermodel, max_trials=20, ...)``.
    """
    if not (isinstance(tuner_class, type) and issubclass(tuner_class, kt.Tuner)):
        raise TypeError(
            f"expander_tuner needs a keras_tuner.Tuner subclass (e.g. kt.RandomSearch), got "
            f"{tuner_class!r}."
        )
    if issubclass(tuner_class, ExpanderTunerMixin):
        return tuner_class
    return type(f"Expander{tuner_class.__name__}", (ExpanderTunerMixin, tuner_class), {
        "__doc__": f"{tuner_class.__name__} running Ramanujan-constrained pruning trials.",
        "__module__": __name__,
    })


class ExpanderRandomSearch(ExpanderTunerMixin, kt.RandomSearch):
    """``keras_tuner.RandomSearch`` running :class:`ExpanderHyperModel` trials."""


class ExpanderBayesianOptimization(ExpanderTunerMixin, kt.BayesianOptimization):
    """``keras_tuner.BayesianOptimization`` running :class:`ExpanderHyperModel` trials."""


class ExpanderHyperband(ExpanderTunerMixin, kt.Hyperband):
    """``keras_tuner.Hyperband``: ``tuner/epochs`` is the prune-phase budget.

    Trials promoted to a later round retrain from scratch with the larger budget (a stripped
    model cannot resume constrained pruning), so Hyperband saves less time here than usual.
    """


class ExpanderGridSearch(ExpanderTunerMixin, kt.GridSearch):
    """``keras_tuner.GridSearch`` over every combination of the choices."""


#: ``search(tuner=...)`` names.
TUNERS = {
    "random": ExpanderRandomSearch,
    "bayesian": ExpanderBayesianOptimization,
    "hyperband": ExpanderHyperband,
    "grid": ExpanderGridSearch,
}


# ------------------------------------------------------------------------------ results


def _value(trial, name: str):
    if trial.metrics.exists(name):
        return trial.metrics.get_last_value(name)
    return None


def trial_table(tuner) -> list[dict[str, Any]]:
    """One row per trial of an expander tuner, in trial order, keys :data:`TABLE_COLUMNS`.

    Hyperparameters, ``dense_acc``/``val_acc`` (validation accuracy before/after pruning),
    ``nonzero_params``, ``recurrent_sparsity``, ``min_delta_r``, the constraint flags
    (``all_ramanujan``, ``within_tolerance`` as bools, ``None`` for failed trials) and ``score``.
    """
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        values = trial.hyperparameters.values
        flag = {
            key: (None if _value(trial, key) is None else bool(_value(trial, key)))
            for key in ("all_ramanujan", "within_tolerance", "feasible")
        }
        rows.append({
            "trial": trial_id,
            "status": str(getattr(trial.status, "value", trial.status)),
            "cell": values.get("cell"),
            "units": values.get("units"),
            "rate": values.get("rate"),
            "updates_per_epoch": values.get("updates_per_epoch"),
            "roles": values.get("roles"),
            "dense_acc": _value(trial, "dense_val_accuracy"),
            "val_acc": _value(trial, "val_accuracy"),
            "nonzero_params": _value(trial, "nonzero_params"),
            "total_params": _value(trial, "total_params"),
            "recurrent_sparsity": _value(trial, "recurrent_sparsity"),
            "min_delta_r": _value(trial, "min_delta_r"),
            "baseline_accuracy": _value(trial, "baseline_accuracy"),
            "frozen": _value(trial, "frozen"),
            "all_ramanujan": flag["all_ramanujan"],
            "within_tolerance": flag["within_tolerance"],
            "feasible": flag["feasible"],
            "score": _value(trial, "score"),
        })
    return rows


def _cell_text(key: str, value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if key in ("nonzero_params", "score", "total_params", "frozen"):
        return f"{value:.0f}"
    if key in ("dense_acc", "val_acc"):
        return f"{value:.4f}"
    if key == "recurrent_sparsity":
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.3g}" if key == "rate" else f"{value:.3f}"
    return str(value)


def format_table(rows: list[dict[str, Any]], columns: Sequence[str] = TABLE_COLUMNS) -> str:
    """A Markdown table of :func:`trial_table` rows."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell_text(c, row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


@dataclass
class SearchResult:
    """What :func:`search` returns.

    Attributes:
        best_model: the best trial's stripped tf_keras model (sparse weights), loaded from disk.
        best_hyperparameters: its hyperparameter values.
        best_trial: its :func:`trial_table` row.
        trials: every trial's row.
        baseline_accuracy: the dense accuracy the tolerance is measured from.
        tolerance: the allowed accuracy drop.
        tuner: the keras-tuner tuner (for ``results_summary()``, ``oracle`` ...).
        directory: where the tuner stored its trials.
    """

    best_model: Any
    best_hyperparameters: dict[str, Any]
    best_trial: dict[str, Any]
    trials: list[dict[str, Any]]
    baseline_accuracy: float | None
    tolerance: float
    tuner: Any
    directory: str

    @property
    def feasible(self) -> bool:
        """True when the best trial met the constraint (Ramanujan and within tolerance)."""
        return bool(self.best_trial.get("feasible"))

    def table(self, columns: Sequence[str] = TABLE_COLUMNS) -> str:
        """The per-trial Markdown table."""
        return format_table(self.trials, columns)

    def to_csv(self, path) -> str:
        """Write the per-trial rows to ``path``; returns the path."""
        path = str(path)
        keys = list(self.trials[0]) if self.trials else list(TABLE_COLUMNS)
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            for row in self.trials:
                writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})
        return path


def search(
    x_train,
    y_train,
    x_val,
    y_val,
    *,
    max_trials: int = 10,
    tolerance: float | None = None,
    tuner: str | type = "random",
    directory: str | os.PathLike | None = None,
    project_name: str = "expander_search",
    overwrite: bool = True,
    seed: int = 0,
    hypermodel: ExpanderHyperModel | None = None,
    callbacks: Sequence[Any] = (),
    verbose: int = 0,
    tuner_kwargs: dict[str, Any] | None = None,
    **space: Any,
) -> SearchResult:
    """Search for the smallest Ramanujan-pruned model within ``tolerance`` of dense accuracy.

    Args:
        x_train, y_train, x_val, y_val: ``(samples, time, features)`` floats and integer labels.
        max_trials: trials to run (Hyperband: its ``max_epochs`` comes from ``prune_epochs``
            and it stops on its own schedule; ``max_trials`` is not used by it).
        tolerance: allowed accuracy drop below the dense baseline, in [0, 1); default 0.02, or
            the tolerance of the given ``hypermodel``.
        tuner: ``"random"``, ``"bayesian"``, ``"hyperband"``, ``"grid"`` or a keras-tuner
            ``Tuner`` subclass (wrapped with :func:`expander_tuner`).
        directory: where trials are stored (a new temporary directory when omitted).
        project_name, overwrite: as in keras-tuner (``overwrite=False`` resumes).
        seed: an integer >= 0 seeding the tuner's sampling (keras-tuner gets ``seed + 1``,
            as it treats 0 as "random") and every trial's initial weights.
        hypermodel: an :class:`ExpanderHyperModel`; when omitted one is built from ``space``.
        callbacks: extra tf_keras callbacks for the pruning phase (deep-copied per trial;
            ``log_dir`` attributes get a per-trial subdirectory).
        verbose: 0 quiet, 1 keras-tuner's per-trial report, 2 also Keras progress.
        tuner_kwargs: extra keyword arguments for the tuner constructor.
        **space: :class:`ExpanderHyperModel` arguments (``units``, ``cells``, ``rates``,
            ``updates_per_epoch``, ``roles``, ``dense_epochs``, ``prune_epochs``, ``baseline``,
            ``batch_size`` ...).

    Returns:
        A :class:`SearchResult`; check ``result.feasible`` (a warning is issued when no trial
        met the constraint: the best of the infeasible ones is returned).

    Raises:
        ValueError / TypeError: bad data shapes, an unknown tuner name, ``max_trials < 1``, a
            tolerance outside [0, 1), unknown search-space arguments.
    """
    x_train, y_train = _check_data(x_train, y_train, "train")
    x_val, y_val = _check_data(x_val, y_val, "val")
    if x_train.shape[1:] != x_val.shape[1:]:
        raise ValueError(
            f"`x_train` samples are {x_train.shape[1:]} but `x_val` samples are "
            f"{x_val.shape[1:]}: both must be (time, features) of the same size."
        )
    max_trials = _positive_int("max_trials", max_trials)
    seed = _positive_int("seed", seed, minimum=0)
    if tolerance is not None:
        tolerance = _check_tolerance(tolerance)
    if isinstance(tuner, str):
        if tuner not in TUNERS:
            raise ValueError(f"Unknown tuner {tuner!r}; choose from {tuple(TUNERS)} or pass a "
                             "keras_tuner.Tuner subclass.")
        tuner_class = TUNERS[tuner]
    else:
        tuner_class = expander_tuner(tuner)
    if hypermodel is None:
        try:
            hypermodel = ExpanderHyperModel(
                tolerance=0.02 if tolerance is None else tolerance, seed=seed, **space
            )
        except TypeError as error:
            raise TypeError(f"search(): {error}. Search-space arguments are those of "
                            "ExpanderHyperModel.") from None
    elif space:
        raise TypeError(
            f"Pass search-space arguments {sorted(space)} to ExpanderHyperModel, not to search(), "
            "when giving `hypermodel`."
        )
    elif not isinstance(hypermodel, ExpanderHyperModel):
        raise TypeError(f"`hypermodel` must be an ExpanderHyperModel, got "
                        f"{type(hypermodel).__name__}.")
    elif tolerance is not None:
        hypermodel.tolerance = tolerance
    tolerance = hypermodel.tolerance
    hypermodel.set_data_shape(x_train, y_train, y_val)
    if directory is None:
        directory = tempfile.mkdtemp(prefix="expander_search_")
    kwargs = dict(tuner_kwargs or {})
    kwargs.setdefault("directory", str(directory))
    kwargs.setdefault("project_name", project_name)
    kwargs.setdefault("overwrite", overwrite)
    # keras-tuner replaces a seed of 0 by a random one (`seed or random.randint(...)`)
    kwargs.setdefault("seed", seed + 1)
    if issubclass(tuner_class, kt.Hyperband):
        kwargs.setdefault("max_epochs", hypermodel.prune_epochs)
    else:
        kwargs.setdefault("max_trials", max_trials)
    instance = tuner_class(hypermodel=hypermodel, **kwargs)
    with warnings.catch_warnings():
        # keras-tuner's oracle warns about metrics it has no direction for; the names are ours
        warnings.simplefilter("ignore", UserWarning)
        instance.search(x_train, y_train, validation_data=(x_val, y_val),
                        callbacks=list(callbacks), verbose=verbose)
    rows = trial_table(instance)
    completed = [r for r in rows if r["score"] is not None]
    if not completed:
        messages = [t.message for t in instance.oracle.trials.values() if t.message]
        raise RuntimeError(
            "No trial completed; the first failure was:\n" + (messages[0] if messages else "?")
        )
    best = instance.oracle.get_best_trials(1)[0]
    best_row = next(r for r in rows if r["trial"] == best.trial_id)
    if not best_row["feasible"]:
        warnings.warn(
            "No trial met the constraint (every pruned graph Ramanujan and accuracy within "
            f"{tolerance:.3f} of {hypermodel.baseline_accuracy}); returning the least "
            "infeasible. Raise dense_epochs/prune_epochs, the tolerance or the units.",
            stacklevel=2,
        )
    return SearchResult(
        best_model=instance.load_model(best),
        best_hyperparameters=dict(best.hyperparameters.values),
        best_trial=best_row,
        trials=rows,
        baseline_accuracy=hypermodel.baseline_accuracy,
        tolerance=tolerance,
        tuner=instance,
        directory=str(directory),
    )
