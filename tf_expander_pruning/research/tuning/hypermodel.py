"""The search space and the trial settings: :class:`ExpanderHyperModel`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import keras_tuner as kt

from tf_expander_pruning.constraint import UNDEFINED_POLICIES
from tf_expander_pruning.core.cells import kind_by_key
from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.core.validation import check_choice, check_flag, check_int, check_real
from tf_expander_pruning.research.classifier import accuracy, recurrent_classifier
from tf_expander_pruning.research.tuning.checks import (
    ROLE_CHOICES,
    check_baseline,
    check_cell,
    check_choices,
    check_data,
    check_rate,
    check_role_choice,
    check_tolerance,
    check_units,
    check_updates,
)
from tf_expander_pruning.research.tuning.dense_cache import DenseCache
from tf_expander_pruning.research.tuning.trial import (
    TrialOutcome,
    TrialPlan,
    TrialSettings,
    check_schedule,
    check_trial_data,
    fit_arguments,
    fit_pruned,
    measure,
    plan_trial,
    prune_dense,
    train_dense,
)

__all__ = ["ExpanderHyperModel"]

#: Attributes of the hypermodel copied into :class:`TrialSettings` (all but ``penalty``).
_SETTINGS = tuple(f.name for f in fields(TrialSettings) if f.name != "penalty")


def _positive(value: Any, name: str) -> float:
    return check_real(value, name, minimum=0, maximum=float("inf"), open_interval=True)


class ExpanderHyperModel(kt.HyperModel):
    """Search space and training of one Ramanujan-constrained pruning trial.

    keras-tuner's contract: ``build(hp)`` returns the pruned, compiled tf_keras model of ``hp``
    (``Input -> <cell>(units) -> Dense(classes)``, logits, the recurrent layer wrapped by
    ``prune_rnn``) and ``fit(hp, model, x, y, validation_data=...)`` trains that model (the
    dense phase first, its weights loaded into ``model``, then constrained pruning) and
    returns the trial's metrics; :meth:`fit_trial` returns the whole
    :class:`~tf_expander_pruning.research.tuning.trial.TrialOutcome` and ``train(hp, x, y,
    (x_val, y_val))`` does both steps.  Use it with a tuner from
    :func:`~tf_expander_pruning.research.tuning.tuners.expander_tuner` (plain keras-tuner tuners
    reject tf_keras models).

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
            by their hyperparameters.  Trials of one (cell, units), and the reference, would
            train the same dense model: it is trained once and kept in :attr:`dense_cache`.
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
        self.units = check_choices("units", units, check_units)
        self.cells = check_choices("cells", cells, check_cell)
        self.rates = check_choices("rates", rates, check_rate)
        self.updates_per_epoch = check_choices("updates_per_epoch", updates_per_epoch,
                                               check_updates)
        self.roles = check_choices("roles", roles, check_role_choice)
        self.tolerance = check_tolerance(tolerance)
        self.baseline = check_baseline(baseline)
        self.dense_epochs = check_int(dense_epochs, "dense_epochs", minimum=1)
        self.prune_epochs = check_int(prune_epochs, "prune_epochs", minimum=1)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.learning_rate = _positive(learning_rate, "learning_rate")
        self.finetune_learning_rate = _positive(finetune_learning_rate, "finetune_learning_rate")
        self.max_sparsity = check_real(max_sparsity, "max_sparsity", minimum=0, maximum=1,
                                       open_interval=True)
        self.recovery_fraction = check_real(recovery_fraction, "recovery_fraction", minimum=0)
        if self.recovery_fraction >= 1:
            raise ValueError(f"`recovery_fraction` must be in [0, 1), got {recovery_fraction!r}.")
        self.margin = check_real(margin, "margin")
        self.undefined = check_choice(undefined, "undefined", UNDEFINED_POLICIES)
        self.per_gate = None if per_gate is None else check_flag(per_gate, "per_gate")
        self.input_shape = None if input_shape is None else self._shape(input_shape)
        self.num_classes = check_int(num_classes, "num_classes", minimum=2, allow_none=True)
        self.seed = check_int(seed, "seed", minimum=0)
        #: training rows :meth:`build` plans the schedule for (set by :meth:`set_data_shape`)
        self.train_samples: int | None = None
        #: trained dense weights shared by trials of the same (cell, units) and the reference
        self.dense_cache = DenseCache()
        #: the accuracy trials are compared with (set by the tuner for ``"reference"``)
        self.baseline_accuracy: float | None = (
            None if isinstance(self.baseline, str) else self.baseline
        )

    @staticmethod
    def _shape(input_shape: Sequence[int]) -> tuple[int, int]:
        shape = tuple(check_int(int(d), "input_shape", minimum=1) for d in input_shape)
        if len(shape) != 2:
            raise ValueError(f"`input_shape` must be (time, features), got {shape}.")
        return shape

    # ---------------------------------------------------------------- search space
    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        """Declare the five hyperparameters (keras-tuner calls this before the first trial)."""
        self.hp_values(hp)

    def hp_values(self, hp: kt.HyperParameters) -> dict[str, Any]:
        """The trial's value of each hyperparameter (declaring it in ``hp`` on first use)."""
        return {
            "cell": hp.Choice("cell", list(self.cells)),
            "units": hp.Choice("units", list(self.units)),
            "rate": hp.Choice("rate", list(self.rates)),
            "updates_per_epoch": hp.Choice("updates_per_epoch", list(self.updates_per_epoch)),
            "roles": hp.Choice("roles", list(self.roles)),
        }

    def dense_model(self, cell: str, units: int):
        """The dense classifier for one (cell, units): logits, uncompiled."""
        return recurrent_classifier(check_cell(cell), check_units(units),
                                    input_shape=self.input_shape,
                                    classes=self.num_classes or 10)

    @property
    def settings(self) -> TrialSettings:
        """The current settings as plain values (what the trial functions read)."""
        values = {name: getattr(self, name) for name in _SETTINGS}
        return TrialSettings(**values, penalty=self.largest_params())

    def plan(self, hp: kt.HyperParameters, samples: int,
             epochs: int | None = None) -> TrialPlan:
        """``hp``'s schedule for ``samples`` training rows and ``epochs`` prune epochs.

        ``epochs`` defaults to Hyperband's ``tuner/epochs`` when ``hp`` has it, else
        ``prune_epochs``.
        """
        if epochs is None:
            epochs = hp.values.get("tuner/epochs", self.prune_epochs)
        epochs = check_int(epochs, "prune_epochs", minimum=1)
        return plan_trial(self.settings, self.hp_values(hp), samples, epochs)

    def build(self, hp: kt.HyperParameters):
        """The pruned, compiled model the trial of ``hp`` trains (keras-tuner's hook).

        See :meth:`pruned_model`; :meth:`fit` trains this very model.
        """
        return self.pruned_model(hp)

    def pruned_model(self, hp: kt.HyperParameters, *, epochs: int | None = None):
        """The dense model of ``hp`` (weights from ``seed``) wrapped by ``prune_rnn``, compiled.

        Its :class:`GeometricSchedule` counts steps of the training set last given to
        :meth:`set_data_shape` (``search``, :meth:`train` and the expander tuners call it) and
        ``epochs`` prune epochs (see :meth:`plan`).  :meth:`fit` loads the trained dense
        weights into it before pruning.
        """
        if self.train_samples is None:
            raise ValueError(
                "ExpanderHyperModel.build(hp) plans the pruning schedule in steps of the "
                "training set: call set_data_shape(x, y) first (search(), train() and the "
                "expander tuners do)."
            )
        plan = self.plan(hp, self.train_samples, epochs)
        keras.backend.clear_session()
        keras.utils.set_random_seed(self.seed)
        return prune_dense(self.dense_model(plan.cell, plan.units), plan,
                           self.finetune_learning_rate)

    def largest_params(self) -> int:
        """Parameter count of the largest dense model in the space (the infeasibility penalty)."""
        features = self.input_shape[1] if self.input_shape else 1
        classes = self.num_classes or 10
        best = 0
        for cell in self.cells:
            gates = kind_by_key(cell).n_gates
            for units in self.units:
                # GRU in Keras 2 defaults to reset_after=True: two bias rows
                bias = gates * units * (2 if cell == "gru" else 1)
                rnn = gates * units * (features + units) + bias
                best = max(best, rnn + units * classes + classes)
        return best

    # ---------------------------------------------------------------- training
    def set_data_shape(self, x, y, y_val=None) -> None:
        """Fix ``input_shape`` and ``num_classes`` from the data (or check them against it).

        Also records ``train_samples``, the training-set size :meth:`build` plans for.
        """
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
        self.train_samples = int(len(x))

    def train_dense(self, cell: str, units: int, x, y, *, verbose: int = 0):
        """The dense model of (cell, units) trained for ``dense_epochs`` from ``seed``.

        The weights are kept in :attr:`dense_cache` and reused by every later trial (and the
        reference) of the same pair, data and dense settings.
        """
        return train_dense(self.settings, lambda: self.dense_model(cell, units), x, y,
                           name=(cell, int(units)), cache=self.dense_cache, verbose=verbose)

    def fit_baseline(self, x, y, x_val, y_val, *, verbose: int = 0) -> float:
        """Train the dense reference model (largest ``units``, first cell); store its accuracy.

        Returns:
            The reference validation accuracy, also kept in :attr:`baseline_accuracy`.
        """
        x, y = check_data(x, y, "train")
        x_val, y_val = check_data(x_val, y_val, "val")
        self.set_data_shape(x, y, y_val)
        keras.backend.clear_session()
        model = self.train_dense(self.cells[0], max(self.units), x, y, verbose=verbose)
        self.baseline_accuracy = accuracy(model, x_val, y_val)
        return self.baseline_accuracy

    def fit_trial(self, hp: kt.HyperParameters, model, x, y, validation_data, *,
                  callbacks: Sequence[Any] = (), verbose: int = 0,
                  epochs: int | None = None) -> TrialOutcome:
        """Train ``model`` (from :meth:`build`) as the trial of ``hp``; return the outcome.

        The dense phase trains (or takes from :attr:`dense_cache`) the dense model of ``hp``;
        its weights are loaded into ``model``, which is then pruned under the constraint for
        ``epochs`` (see :meth:`plan`), stripped and measured.  ``callbacks`` are tf_keras
        callbacks for the pruning phase; a :class:`RamanujanConstraint` among them is used
        instead of the default one, and ``UpdatePruningStep`` is added unless present.
        """
        x, y, x_val, y_val = check_trial_data(x, y, validation_data)
        self.set_data_shape(x, y, y_val)
        plan = self.plan(hp, len(x), epochs)
        check_schedule(model, plan.schedule)
        dense = self.train_dense(plan.cell, plan.units, x, y, verbose=verbose)
        return fit_pruned(self.settings, model, dense, (x, y), (x_val, y_val), plan=plan,
                          baseline_accuracy=self.baseline_accuracy, callbacks=callbacks,
                          verbose=verbose)

    def fit(self, hp: kt.HyperParameters, model, *args, **kwargs) -> dict[str, float]:
        """keras-tuner's hook: ``fit(hp, model, x, y, validation_data=..., callbacks=...)``.

        Trains ``model`` (from :meth:`build`) with :meth:`fit_trial`; returns its metrics.
        """
        arguments = fit_arguments(args, kwargs)
        return self.fit_trial(hp, model, arguments.x, arguments.y, arguments.validation_data,
                              callbacks=arguments.callbacks, verbose=arguments.verbose,
                              epochs=arguments.epochs).metrics

    def train(self, hp: kt.HyperParameters, x, y, validation_data, *,
              callbacks: Sequence[Any] = (), verbose: int = 0,
              prune_epochs: int | None = None) -> TrialOutcome:
        """Run one whole trial: :meth:`pruned_model`, then :meth:`fit_trial` on it."""
        x, y, x_val, y_val = check_trial_data(x, y, validation_data)
        self.set_data_shape(x, y, y_val)
        model = self.pruned_model(hp, epochs=prune_epochs)
        return self.fit_trial(hp, model, x, y, (x_val, y_val), callbacks=callbacks,
                              verbose=verbose, epochs=prune_epochs)

    def measure(self, pruned_model, x_val, y_val, baseline: float, *,
                per_gate: bool | None = None) -> dict[str, float]:
        """Objective and constraint metrics of a trained pruned model (see the package doc).

        The Ramanujan check is independent of the callback: it re-analyses every pruned weight
        graph of ``pruned_model`` with :func:`~tf_expander_pruning.graphs.weight_graphs`, at the
        granularity the constraint used: each gate's column block with ``per_gate`` (a matrix
        whose gates are all Ramanujan can still fail as a whole, measured: GRU ``W_hh``), else
        the whole matrix.  ``None``: the :class:`RamanujanConstraint` default.
        """
        return measure(pruned_model, x_val, y_val, baseline, tolerance=self.tolerance,
                       penalty=self.largest_params(), per_gate=per_gate)
