"""The search space and the trial settings: :class:`ExpanderHyperModel`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras_tuner as kt

from tf_expander_pruning.constraint import UNDEFINED_POLICIES
from tf_expander_pruning.core.cells import kind_by_key
from tf_expander_pruning.core.validation import check_choice, check_flag, check_int, check_real
from tf_expander_pruning.research.classifier import accuracy, recurrent_classifier
from tf_expander_pruning.research.tuning import trial
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

__all__ = ["ExpanderHyperModel"]


def _positive(value: Any, name: str) -> float:
    return check_real(value, name, minimum=0, maximum=float("inf"), open_interval=True)


class ExpanderHyperModel(kt.HyperModel):
    """Search space and training of one Ramanujan-constrained pruning trial.

    ``build(hp)`` returns the dense tf_keras model (``Input -> <cell>(units) -> Dense(classes)``,
    logits); ``train(hp, x, y, (x_val, y_val))`` runs the whole trial and returns a
    :class:`~tf_expander_pruning.research.tuning.trial.TrialOutcome`; ``fit(hp, model, ...)``
    (keras-tuner's hook) returns just its metrics.  Use it with a tuner from
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

    def build(self, hp: kt.HyperParameters):
        """The dense tf_keras model of ``hp`` (Input, one recurrent layer, Dense logits)."""
        values = self.hp_values(hp)
        return self.dense_model(values["cell"], values["units"])

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

    def fit_baseline(self, x, y, x_val, y_val, *, verbose: int = 0) -> float:
        """Train the dense reference model (largest ``units``, first cell); store its accuracy.

        Returns:
            The reference validation accuracy, also kept in :attr:`baseline_accuracy`.
        """
        x, y = check_data(x, y, "train")
        x_val, y_val = check_data(x_val, y_val, "val")
        self.set_data_shape(x, y, y_val)
        model = trial.train_dense(self, self.cells[0], max(self.units), x, y, verbose=verbose)
        self.baseline_accuracy = accuracy(model, x_val, y_val)
        return self.baseline_accuracy

    def train(self, hp: kt.HyperParameters, x, y, validation_data, *,
              callbacks: Sequence[Any] = (), verbose: int = 0,
              prune_epochs: int | None = None) -> trial.TrialOutcome:
        """Run one trial: dense training, constrained pruning, strip, measure.

        ``callbacks`` are tf_keras callbacks for the pruning phase; a
        :class:`RamanujanConstraint` among them is used instead of the default one, and
        ``UpdatePruningStep`` is added unless present.
        """
        return trial.run_trial(self, hp, x, y, validation_data, callbacks=callbacks,
                               verbose=verbose, prune_epochs=prune_epochs)

    def measure(self, pruned_model, x_val, y_val, baseline: float, *,
                per_gate: bool | None = None) -> dict[str, float]:
        """Objective and constraint metrics of a trained pruned model (see the package doc).

        The Ramanujan check is independent of the callback: it re-analyses every pruned weight
        graph of ``pruned_model`` with :func:`~tf_expander_pruning.graphs.weight_graphs`, at the
        granularity the constraint used: each gate's column block with ``per_gate`` (a matrix
        whose gates are all Ramanujan can still fail as a whole, measured: GRU ``W_hh``), else
        the whole matrix.  ``None``: the :class:`RamanujanConstraint` default.
        """
        return trial.measure(self, pruned_model, x_val, y_val, baseline, per_gate=per_gate)

    def fit(self, hp, model, *args, **kwargs) -> dict[str, float]:
        """keras-tuner's hook: ``fit(hp, model, x, y, validation_data=..., callbacks=...)``.

        ``model`` (from :meth:`build`) is ignored: :meth:`train` builds the model itself so
        that it controls the seed.  Returns the trial's metrics.
        """
        del model
        return trial.call_train(self, hp, args, kwargs).metrics
