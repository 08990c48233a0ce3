"""``RamanujanConstraint``: prune each recurrent weight graph only while it stays an expander
and the model keeps its accuracy.

Use it with a model from :func:`~tf_expander_pruning.pruning.prune_rnn` and TF-MOT's
``UpdatePruningStep``::

    model = prune_rnn(dense_model, GeometricSchedule(rate=0.2, frequency=20))
    model.compile(..., metrics=["accuracy"])
    constraint = RamanujanConstraint()
    model.fit(x, y, validation_data=(x_val, y_val),
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), constraint])
    print(constraint.summary())

The callback wires small pieces: :class:`~.watcher.UpdateWatcher` (which masks changed),
:class:`~.runner.CheckRunner` (spectral reports through a cache), :class:`~.criterion.Criterion`
(pass/fail), :mod:`~.stages` (the spectral test and the guard, applying the freeze decisions
of :mod:`~.decisions`), :mod:`~.policy` (freeze, roll back, keep frozen after weight restores)
and :mod:`~.sinks` (log, CSV, TensorBoard).  All freeze state is in wrapper weights, so it is
saved with the model.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from typing import Any

from tf_expander_pruning.analysis.spectral import SpectralReport
from tf_expander_pruning.constraint import entries as setup
from tf_expander_pruning.constraint.arguments import check_arguments
from tf_expander_pruning.constraint.criterion import CRITERIA, UNDEFINED_POLICIES, Criterion
from tf_expander_pruning.constraint.decisions import KneeSearch, ValidationGuard, spectral_stops
from tf_expander_pruning.constraint.paired import PairedAccuracy, is_accuracy_key
from tf_expander_pruning.constraint.policy import FreezeKeeper, RestoreHooks
from tf_expander_pruning.constraint.report import results, summary_table
from tf_expander_pruning.constraint.sinks import (
    HISTORY_FIELDS,
    CsvSink,
    LogSink,
    TensorBoardSink,
)
from tf_expander_pruning.constraint.stages import GuardStage, SpectralStage
from tf_expander_pruning.constraint.watcher import UpdateWatcher
from tf_expander_pruning.core.formatting import write_csv
from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.pruning.adapter import PrunedMatrix, adapter_for

__all__ = ["RamanujanConstraint", "HISTORY_FIELDS", "UNDEFINED_POLICIES", "CRITERIA"]


class RamanujanConstraint(keras.callbacks.Callback):
    """Freeze each pruned recurrent weight graph when it stops being a Ramanujan expander, or
    when the model falls more than ``max_drop`` below its reference (``docs/constraint.md``).

    Spectral test: ``criterion``, ``margin``, ``roles``, ``per_gate``, ``undefined``,
    ``restore_last_good_mask`` (see the docs).  Guard: ``guard`` (True: on; None/False: the
    paper's spectral rule alone), ``monitor``, ``max_drop``, ``baseline``, ``mode``.  Knee
    search (with the guard): a failed try is rolled back and retried halfway between the last
    passing and the failing sparsity; a matrix freezes when that bracket is at most ``min_step``
    wide or after ``max_retries`` further failed tries (``max_retries=0``: frozen at the first
    failure); with ``patience=1`` a try that fails its first check is judged again after one
    more recovery window before it is rolled back; a try passes only when its drop plus
    ``noise_margin`` paired standard errors (rows whose verdict flipped, on the validation
    data) is within ``max_drop``; with ``max_loss_rise`` the validation loss may also rise at
    most that fraction above its value where pruning started.  Output:
    ``log_dir`` (TensorBoard), ``csv_path`` (history streamed while training), ``verbose``
    (0, 1 a line per freeze, 2 also per check), ``stop_training_when_all_frozen``.

    Attributes: ``history`` (records with :data:`HISTORY_FIELDS`), ``messages`` (freeze and
    status lines), ``frozen_layers``, :meth:`results`, :meth:`summary`, :meth:`to_csv`.
    """

    def __init__(
        self,
        criterion: str | Callable[[SpectralReport], bool | None] = "ramanujan",
        margin: float = 0.0,
        roles: Sequence[str] = ("W_xh", "W_hh"),
        per_gate: bool = True,
        undefined: str = "fail",
        restore_last_good_mask: bool = True,
        stop_training_when_all_frozen: bool = False,
        log_dir: str | os.PathLike | None = None,
        verbose: int = 1,
        csv_path: str | os.PathLike | None = None,
        guard: bool | None = True,
        monitor: str = "val_accuracy",
        max_drop: float = 0.02,
        baseline: float | None = None,
        mode: str = "auto",
        min_step: float = 0.02,
        max_retries: int = 4,
        patience: int = 1,
        spectral: str = "auto",
        noise_margin: float = 0.0,
        max_loss_rise: float | None = 1.0,
    ) -> None:
        super().__init__()
        args = check_arguments({
            "criterion": criterion, "margin": margin, "roles": roles, "per_gate": per_gate,
            "undefined": undefined, "restore_last_good_mask": restore_last_good_mask,
            "stop_training_when_all_frozen": stop_training_when_all_frozen,
            "log_dir": log_dir, "verbose": verbose, "csv_path": csv_path, "guard": guard,
            "monitor": monitor, "max_drop": max_drop, "baseline": baseline, "mode": mode,
            "min_step": min_step, "max_retries": max_retries, "patience": patience,
            "spectral": spectral, "noise_margin": noise_margin,
            "max_loss_rise": max_loss_rise,
        })
        for name, value in args.items():
            setattr(self, name, value)
        self.history: list[dict[str, Any]] = []
        self.messages: list[str] = []
        self._criterion = Criterion(self.criterion, self.margin, self.undefined)
        self._log = LogSink(self.messages, self.verbose)
        self._csv = CsvSink(self.csv_path)
        self._hooks = RestoreHooks()
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        self._tensorboard = TensorBoardSink(self.log_dir)
        self._guard = ValidationGuard(self.monitor, self.max_drop, self.baseline, self.mode,
                                      self.max_loss_rise)
        self._entries: list[PrunedMatrix] = []
        self._adapter = None
        self._frozen: set[int] = set()
        self._ready = False
        self._epoch = 0
        self._siblings = None
        self._paired = None
        self._watches_validation = True

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (``criterion`` may be a callable)."""
        names = ("criterion", "margin", "per_gate", "undefined", "restore_last_good_mask",
                 "stop_training_when_all_frozen", "log_dir", "verbose", "csv_path", "guard",
                 "monitor", "max_drop", "baseline", "mode", "min_step", "max_retries",
                 "patience", "spectral", "noise_margin", "max_loss_rise")
        return {"roles": list(self.roles), **{name: getattr(self, name) for name in names}}

    def __deepcopy__(self, memo):
        # keras-tuner deep-copies callbacks. The model, variables and summary writer belong to
        # one run and cannot (and must not) be copied: the copy gets the settings and history.
        clone = type(self)(**self.get_config())
        clone.history = copy.deepcopy(self.history, memo)
        clone.messages.extend(self.messages)
        return clone

    @property
    def spectral_stops(self) -> bool:
        """Does a failed spectral check freeze the matrix?  ``spectral="auto"``: only when the
        guard is off (the paper's rule) or the fit has no validation data (the guard then sees
        only the training metric); with the guard on validation data it is recorded, not
        obeyed (``docs/results.md``: on these data sets it stopped short of the knee).
        The rule is :func:`~.decisions.spectral_stops`."""
        return spectral_stops(self.spectral, self.guard, self._watches_validation)

    # ------------------------------------------------------------------ Keras hooks
    def on_train_begin(self, logs=None) -> None:
        self._reset_runtime()
        model = self.model
        self._adapter = adapter_for(model)  # Keras 2 (TF-MOT) or Keras 3: how to read and write
        self._entries = self._adapter.checked_entries(model, self.roles)
        self._siblings = setup.sibling_callbacks(self)
        if self.guard:
            self._measure_start(model)
        setup.warn_frequency(self._entries, self.params)
        strategy = getattr(model, "distribute_strategy", None)
        self._tensorboard.open(strategy is None or strategy.extended.should_save_summary)
        self._hooks.install(model, self._after_restore)
        if self._adapter.generation == 3:
            self._adapter.subscribe(model, self)

    def _measure_start(self, model) -> None:
        """Where pruning starts, on the fit's validation data (before its first step)."""
        found = setup.fit_locals()  # the running fit's arguments, read once
        setup.warn_unshuffled_validation_split(found)
        validation = setup.fit_validation(model, found)
        self._watches_validation = setup.fit_has_validation(found)
        fresh = not any(e.is_frozen() for e in self._entries)
        if self.baseline is None and fresh:
            values = setup.starting_values(model, validation)
            if self.monitor.startswith("val_") and self.monitor[4:] in values:
                self._guard.observe_start(values[self.monitor[4:]], measured=True)
            self._guard.start_loss = values.get("loss")
        if self.noise_margin and is_accuracy_key(self.monitor):
            paired = PairedAccuracy.from_validation(validation)
            self._paired = paired if paired is not None and paired.start(model) else None

    def _initialise(self) -> None:
        # Deferred to the first batch: every callback's on_train_begin has run by then, so
        # UpdatePruningStep has set the step and BackupAndRestore has restored the variables.
        self._adapter.check_step_callback(self._entries, self._siblings)
        self._watcher = UpdateWatcher(self._entries, self._adapter.steps_per_execution(self.model),
                                      self._adapter)
        self._keeper = FreezeKeeper(self._entries, self._log.say)
        self._frozen = self._keeper.adopt()
        self._spectral = SpectralStage(self._entries, self._criterion, self.per_gate,
                                       self.restore_last_good_mask, self._keeper, self._log.say,
                                       stop=self.spectral_stops)
        search = KneeSearch(len(self._entries), self.min_step, self.max_retries, self.patience)
        noise = None if self._paired is None else self._paired.standard_error
        self._guard_stage = GuardStage(self._guard, self._entries, self._keeper, self._log.say,
                                       search, noise, self.noise_margin, self._adapter)
        self._guard_stage.start(self.model, self._watcher.step)
        self._ready = True

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = int(epoch)
        self._after_restore("a weight restore")

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if not self._ready:
            self._initialise()

    def on_train_batch_end(self, batch, logs=None) -> None:
        if self._ready and self._adapter.generation == 2:
            changed = self._watcher.after_batch(self._frozen)
            if changed:
                self.check(indices=changed, _step=self._watcher.step)

    # Keras 3: the step callback tells the constraint about each mask update (it subscribes in
    # on_train_begin), so no batch-end hook runs and Keras 3 keeps its asynchronous dispatch
    # (``async_safe``: the batch-end hook above does nothing on Keras 3).
    async_safe = True

    def before_mask_update(self) -> None:
        if not self._ready:
            self._initialise()

    def after_mask_update(self, step: int) -> None:
        if self._ready:
            changed = self._watcher.changed(self._frozen)
            if changed:
                self.check(indices=changed, _step=self._watcher.step)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self._after_restore("a weight restore")
        if self._ready and self.guard:
            self._guard_check(dict(logs or {}))
        self._tensorboard.flush()

    def on_train_end(self, logs=None) -> None:
        self._after_restore("a weight restore")
        if self._ready and self.guard:  # the last mask update is judged even if it is recent
            self._guard_check(dict(logs or {}), final=True)
        self._csv.write([], final=True)
        self._tensorboard.close()
        if self._adapter is not None and self._adapter.generation == 3:
            self._adapter.unsubscribe(self.model, self)

    def _after_restore(self, cause: str) -> None:
        """Something may have restored wrapper variables: put every freeze of this fit back."""
        if not self._ready:
            return  # the first batch reads (adopts) whatever state was restored before it
        if cause.startswith("model."):
            cause = f"a weight restore ({cause}, e.g. EarlyStopping(restore_best_weights=True))"
        self._keeper.enforce(cause)
        self._frozen |= self._keeper.adopt()
        self._watcher.resynchronise()

    # ------------------------------------------------------------------ the two tests
    def _verdict(self, report: SpectralReport) -> bool | None:
        """True pass, False fail, None undefined (before the ``undefined`` policy)."""
        return self._criterion.verdict(report)

    def check(self, indices: Sequence[int] | None = None,
              _step: int | None = None) -> list[dict[str, Any]]:
        """Analyse the current masks now (all checked matrices, or ``indices`` of them).

        Called automatically after every mask update; frozen matrices are skipped.  Returns
        the new history records.
        """
        if not self._entries:
            raise ValueError("RamanujanConstraint.check() is only available during model.fit().")
        if not self._ready:
            self._initialise()
        step = self._watcher.read_step() if _step is None else _step
        indices = range(len(self._entries)) if indices is None else indices
        records = self._spectral.run(self.model, indices, step, self._epoch, self._frozen)
        self._record(records)
        return records

    def _guard_check(self, logs: dict[str, Any], final: bool = False) -> None:
        step = self._watcher.read_step()
        due = self._guard_stage.due(self._watcher, step, (self.params or {}).get("steps"),
                                    self._frozen, final)
        records = self._guard_stage.epoch_end(self.model, logs, step, self._epoch, due,
                                              self._frozen, final)
        if self._guard_stage.last_value is not None:
            self._tensorboard.guard_value(*self._guard_stage.last_value)
        if records:
            self._watcher.resynchronise()
        self._record(records)

    def _record(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        self.history.extend(records)
        self._log.checks(records)
        strategy = getattr(self.model, "distribute_strategy", None)
        if strategy is None or strategy.extended.should_checkpoint:  # the chief writes the file
            self._csv.write(records)
        self._tensorboard.write(records)
        self._stop_if_all_frozen()

    def _stop_if_all_frozen(self) -> None:
        if (self.stop_training_when_all_frozen and self._entries and self.model is not None
                and len(self._frozen) == len(self._entries)):
            self._log.say("RamanujanConstraint: every checked weight graph is frozen; stopping.")
            self.model.stop_training = True

    # ------------------------------------------------------------------ results
    def _current_entries(self) -> list[PrunedMatrix]:
        if self._entries:
            return self._entries
        if self.model is None:
            return []
        entries = adapter_for(self.model).pruned_weights(self.model)
        return [p for p in entries if p.role in self.roles]

    @property
    def frozen_layers(self) -> dict[str, list[str]]:
        """``{layer: [frozen roles]}``, read from the model's ``frozen`` variables."""
        frozen: dict[str, list[str]] = {}
        for entry in self._current_entries():
            if entry.is_frozen():
                frozen.setdefault(entry.layer, []).append(entry.role)
        return frozen

    def results(self) -> list[dict[str, Any]]:
        """Current state of every checked matrix, one dict each (keys in ``docs/constraint.md``)."""
        return results(self._current_entries(), self.history, self._criterion, self.per_gate)

    def summary(self, print_fn: Callable[[str], Any] | None = print) -> str:
        """Print (and return) a table of :meth:`results`, one line per checked matrix, like
        ``model.summary()``; ``print_fn=None`` only returns it."""
        if print_fn is not None and not callable(print_fn):
            raise TypeError(f"`print_fn` must be callable or None, got {print_fn!r}.")
        text = summary_table(self.results(), self.per_gate)
        if print_fn is not None:
            print_fn(text)
        return text

    def to_csv(self, path: str | os.PathLike) -> str:
        """Write :attr:`history` to ``path`` (columns :data:`HISTORY_FIELDS`); returns the path.

        Undefined numbers are empty cells.  An ``OSError`` propagates: this is an explicit call;
        to write during training without ever stopping it use ``csv_path``.
        """
        path = os.fspath(path)
        write_csv(path, self.history, HISTORY_FIELDS)
        return path
