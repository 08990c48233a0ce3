"""``RamanujanConstraint``: prune each recurrent weight graph only while it stays an expander.

Use it with a model from :func:`~tf_expander_pruning.pruning.prune_rnn` and TF-MOT's
``UpdatePruningStep``::

    model = prune_rnn(dense_model, GeometricSchedule(rate=0.2, frequency=20))
    model.compile(...)
    constraint = RamanujanConstraint()
    model.fit(x, y, callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), constraint])
    print(constraint.summary())

How it works: every pruned matrix has a ``mask_updates`` counter that the wrapper's traced train
step increments whenever it recomputes that matrix's mask.  After each batch at which a schedule
may have fired (known from its begin_step/end_step/frequency; every batch for other schedules)
the callback reads the counters (a few scalar reads), and for each matrix whose mask changed it
analyses the new mask (each gate, or the whole matrix with ``per_gate=False``) through a
:class:`tf_expander_pruning.spectral.SpectralCache`: a gate whose graph did not change is not
solved again, a changed one warm-starts the solver.  A passing mask is copied into the wrapper's
``good_mask`` variable.  A failing one is frozen: the wrapper's ``frozen`` flag (read by that
matrix's schedule inside the ``tf.function``) is set, the mask is set back to ``good_mask`` and
the weights it removes are zeroed.  All of that state is in wrapper weights, so it is saved with
the model and restored by ``BackupAndRestore``; the callback itself only keeps the history (and
the spectral cache, which each fit starts empty).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import logging
import math
import numbers
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tf_expander_pruning.core.keras_compat import check_model, keras, tf

# isort: split
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)

from tf_expander_pruning.analysis.graphs import gate_columns
from tf_expander_pruning.analysis.spectral import SpectralCache, SpectralReport, analyze
from tf_expander_pruning.core.layers import all_layers as _all_layers
from tf_expander_pruning.core.layers import mask_sparsity as _sparsity
from tf_expander_pruning.core.validation import check_flags as _check_flags
from tf_expander_pruning.pruning.wrapper import (
    PrunedWeight,
    PruneRecurrent,
    _check_roles,
    pruned_weights,
)

__all__ = ["RamanujanConstraint", "HISTORY_FIELDS", "UNDEFINED_POLICIES", "CRITERIA"]

logger = logging.getLogger(__name__)

#: Columns of :attr:`RamanujanConstraint.history` records and of ``to_csv``.
HISTORY_FIELDS = (
    "step", "epoch", "layer", "role", "gate", "sparsity", "d_left", "d_right", "lambda1",
    "mu_hat", "bound", "delta_r", "delta_s", "passed", "frozen",
)

#: Named criteria: which report field must be >= ``margin``.
CRITERIA = {"ramanujan": "delta_r", "spectral_gap": "delta_s"}

#: What to do with a graph whose criterion is undefined (average degree < 3, empty graph).
UNDEFINED_POLICIES = ("fail", "pass", "skip", "ignore")

_CRITERION_WORDS = {"ramanujan": "the Ramanujan property", "spectral_gap": "its spectral gap"}
_SYMBOL = {"delta_r": "Delta_r", "delta_s": "Delta_s"}


_BLAS = []


def _single_threaded_blas():
    """Context limiting BLAS to one thread while analysing a mask.

    The masks are small; a multi-threaded OpenBLAS on a machine whose cores are busy training
    spins its threads and made one 64x256 SVD take ~100 ms instead of ~1 ms.
    """
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        except Exception:  # threadpoolctl missing or unusable: run unrestricted
            _BLAS.append(None)
    if _BLAS[0] is None:
        return contextlib.nullcontext()
    return _BLAS[0].limit(limits=1, user_api="blas")


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


class RamanujanConstraint(keras.callbacks.Callback):
    """Freeze each pruned recurrent weight graph when it stops being a Ramanujan expander.

    Args:
        criterion: ``"ramanujan"`` (pass while ``Delta_r >= margin``), ``"spectral_gap"``
            (``Delta_s >= margin``) or a callable ``f(report: SpectralReport) -> bool | None``
            (``None`` = undefined).
        margin: threshold of the criterion (same unit as ``Delta_r``/``Delta_s``).
        roles: the matrices to check, ``"W_xh"`` and/or ``"W_hh"``; unchecked pruned matrices
            follow their schedule to the end.
        per_gate: check each gate's column block of an LSTM (i, f, c, o) / GRU (z, r, h) as its
            own graph; the matrix fails when any gate fails.  Default True: on the digits runs
            (docs/results.md) the whole concatenated matrix failed 15-20 points of sparsity
            before accuracy fell, while "any gate fails" still stopped before the knee and
            kept 3.5-11 points more sparsity at the same accuracy.
        undefined: when the criterion is undefined for a graph (an average degree below 3, or
            every weight pruned): ``"fail"`` treats it as a failure (freeze and roll back);
            ``"pass"`` as a pass (the mask becomes the new rollback point); ``"skip"`` (alias
            ``"ignore"``) neither: pruning goes on, but the rollback point stays at the last
            mask that passed on a defined bound.
        restore_last_good_mask: on failure roll the mask back to the last passing one (and zero
            the weights it removes); if False the failing mask is frozen as it is.
        stop_training_when_all_frozen: set ``model.stop_training`` once every checked matrix
            is frozen.
        log_dir: write TensorBoard scalars (``<layer>/<role>[/<gate>]/delta_r``, ``.../delta_s``,
            ``.../sparsity``, ``.../passed``) per check to this directory.
        verbose: 0 silent, 1 one line per freeze, 2 also one line per check.
        csv_path: append every check's :attr:`history` records to this CSV file while training
            (header written when the file is new or empty; columns as :meth:`to_csv`).  A write
            that fails (disk full, permissions, ...) never stops training: it warns once, the
            records stay in :attr:`history` and are written with the next successful append or
            at train end.

    Attributes:
        history: list of dicts, one per graph checked (per gate with ``per_gate``), with keys
            :data:`HISTORY_FIELDS`.  ``sparsity`` is the checked graph's (gate's) sparsity;
            ``passed`` is True/False, or None for an undefined graph under ``undefined="skip"``;
            ``frozen`` is True on the records of the check that froze the matrix.
        messages: the freeze log lines.
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
        log_dir: str | None = None,
        verbose: int = 1,
        csv_path: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        # (isinstance first: an unhashable criterion such as a list would raise a bare TypeError)
        if not callable(criterion) and not (isinstance(criterion, str) and criterion in CRITERIA):
            raise ValueError(
                f"Unknown criterion {criterion!r}. Use 'ramanujan' (Delta_r >= margin), "
                "'spectral_gap' (Delta_s >= margin) or a callable taking a SpectralReport and "
                "returning True (pass), False (fail) or None (undefined)."
            )
        if undefined not in UNDEFINED_POLICIES:
            raise ValueError(
                f"Unknown undefined={undefined!r}. Use 'fail' (an undefined bound freezes the "
                "matrix), 'pass' (it counts as passing) or 'skip'/'ignore' (keep pruning "
                "without moving the rollback point)."
            )
        if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
            raise TypeError(f"`margin` must be a number, got {type(margin).__name__} {margin!r}.")
        if not isinstance(verbose, numbers.Integral):
            raise TypeError(f"`verbose` must be 0, 1 or 2, got {verbose!r}.")
        _check_flags(
            per_gate=per_gate, restore_last_good_mask=restore_last_good_mask,
            stop_training_when_all_frozen=stop_training_when_all_frozen,
        )
        margin = float(margin)
        if not math.isfinite(margin):
            raise ValueError(f"`margin` must be a finite number, got {margin!r}.")
        self.criterion = criterion
        self.margin = margin
        self.roles = _check_roles(roles)
        self.per_gate = bool(per_gate)
        self.undefined = "skip" if undefined == "ignore" else undefined
        self.restore_last_good_mask = bool(restore_last_good_mask)
        self.stop_training_when_all_frozen = bool(stop_training_when_all_frozen)
        self.log_dir = None if log_dir is None else str(log_dir)
        self.verbose = int(verbose)
        self.csv_path = None if csv_path is None else os.fspath(csv_path)
        self.history: list[dict[str, Any]] = []
        self.messages: list[str] = []
        self._csv_unwritten: list[dict[str, Any]] = []  # records csv_path has not received yet
        self._reset_runtime()

    # ------------------------------------------------------------------ state handling
    def _reset_runtime(self) -> None:
        self._spectral_cache = SpectralCache()
        self._entries: list[PrunedWeight] = []
        self._counters: list[int] = []
        self._ready = False
        self._epoch = 0
        self._writer = None
        self._step = 0  # pruning step after the last batch (tracked in Python)
        self._steps_per_batch = 1
        self._rules: list[tuple[int, int, int] | None] = []
        self._frozen: set[int] = set()
        self._csv_warned = False
        self._non_finite_warned: set[str] = set()

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (``criterion`` may be a callable)."""
        return {
            "criterion": self.criterion, "margin": self.margin, "roles": list(self.roles),
            "per_gate": self.per_gate, "undefined": self.undefined,
            "restore_last_good_mask": self.restore_last_good_mask,
            "stop_training_when_all_frozen": self.stop_training_when_all_frozen,
            "log_dir": self.log_dir, "verbose": self.verbose, "csv_path": self.csv_path,
        }

    def __deepcopy__(self, memo):
        # keras-tuner deep-copies callbacks. The model, variables and summary writer belong to
        # one run and cannot (and must not) be copied: the copy gets the settings and history.
        clone = type(self)(**self.get_config())
        clone.history = copy.deepcopy(self.history, memo)
        clone.messages = list(self.messages)
        return clone

    # ------------------------------------------------------------------ Keras hooks
    def on_train_begin(self, logs=None) -> None:
        self._reset_runtime()
        model = check_model(self.model)  # a Keras 3 model fails here, with the hint
        layers = list(_all_layers(model))
        wrappers = [layer for layer in layers if isinstance(layer, PruneRecurrent)]
        unbuilt = [layer.name for layer in wrappers if not layer.built]
        if unbuilt:
            # TF-MOT creates masks (and UpdatePruningStep reads pruning_step) before step 1.
            raise ValueError(
                f"RamanujanConstraint: the pruned layers {unbuilt} are not built. Give the "
                "model an input shape (keras.Input(...) or input_shape=...) or call "
                "model.build(input_shape) before fit."
            )
        entries = [p for w in wrappers for p in w.pruned_weights if p.role in self.roles]
        if not entries:
            plain = [
                layer.name for layer in layers
                if isinstance(layer, PruneLowMagnitude) and not isinstance(layer, PruneRecurrent)
            ]
            if wrappers:
                hint = (
                    f"the pruned layers {[layer.name for layer in wrappers]} prune none of the "
                    f"checked roles {list(self.roles)}; pass matching `roles` to "
                    "RamanujanConstraint."
                )
            elif plain:
                hint = (
                    f"layers {plain} are wrapped by TF-MOT's prune_low_magnitude, which drives "
                    "all of a layer's weights from one schedule and cannot freeze them one by "
                    "one. Prune the dense model with tf_expander_pruning.prune_rnn instead."
                )
            else:
                hint = (
                    "prune the model first: model = prune_rnn(model, GeometricSchedule()) "
                    "(SimpleRNN/LSTM/GRU/Bidirectional layers)."
                )
            raise ValueError(f"RamanujanConstraint: model has no pruned recurrent layer: {hint}")
        self._entries = entries
        self._warn_frequency(entries)
        # Under MultiWorkerMirroredStrategy only the chief writes summaries (as Keras's own
        # TensorBoard callback): every worker would otherwise log the same scalars again.
        strategy = getattr(model, "distribute_strategy", None)
        chief = strategy is None or strategy.extended.should_save_summary
        if self.log_dir is not None and chief:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def _warn_frequency(self, entries) -> None:
        # TF-MOT's default frequency=100 silently never prunes a small data set.
        params = self.params or {}
        steps, epochs = params.get("steps"), params.get("epochs")
        if not steps or not epochs:
            return
        total = int(steps) * int(epochs)
        for entry in entries:
            base = entry.schedule.base_schedule
            frequency = getattr(base, "frequency", None)
            begin = getattr(base, "begin_step", 0) or 0
            if frequency and begin + frequency > total:
                logger.warning(
                    "%s: the schedule updates the mask every %d steps from step %d, but this "
                    "fit runs only %d steps (%d per epoch): the mask will not change. Use a "
                    "schedule frequency of about steps_per_epoch (%d) or less.",
                    entry.name, frequency, begin, total, steps, steps,
                )
                return

    def _initialise(self) -> None:
        # Deferred to the first batch: every callback's on_train_begin has run by then, so
        # UpdatePruningStep has set the step and BackupAndRestore has restored the variables.
        wrappers = {id(e.wrapper): e.wrapper for e in self._entries}
        for wrapper in wrappers.values():
            if int(wrapper.pruning_step.numpy()) < 0:
                raise ValueError(
                    "RamanujanConstraint needs TF-MOT's UpdatePruningStep callback, which was "
                    "not run: model.fit(..., callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), "
                    "RamanujanConstraint()])."
                )
        self._counters = [int(e.mask_updates.numpy()) for e in self._entries]
        self._frozen = {i for i, e in enumerate(self._entries) if bool(e.frozen.numpy())}
        self._step = max(int(w.pruning_step.numpy()) for w in wrappers.values())
        steps = getattr(self.model, "_steps_per_execution", None)
        self._steps_per_batch = int(steps.numpy()) if steps is not None else 1
        self._rules = [self._rule(e) for e in self._entries]
        self._ready = True

    @staticmethod
    def _rule(entry: PrunedWeight) -> tuple[int, int, int] | None:
        # TF-MOT's (and our) schedules update at begin_step + k * frequency up to end_step.
        # Knowing that, the callback can skip reading variables on batches without an update.
        base = entry.schedule.base_schedule
        try:
            begin, end, frequency = (int(getattr(base, k)) for k in
                                     ("begin_step", "end_step", "frequency"))
        except (AttributeError, TypeError, ValueError):
            return None  # unknown schedule: read the counters after every batch
        return (begin, end, frequency) if frequency > 0 else None

    def _may_update(self, low: int, high: int) -> bool:
        """Could an unfrozen matrix's mask have been updated at a step in [low, high]?"""
        for index, rule in enumerate(self._rules):
            if index in self._frozen:
                continue
            if rule is None:
                return True
            begin, end, frequency = rule
            for step in range(max(low, begin), (high if end < 0 else min(high, end)) + 1):
                if (step - begin) % frequency == 0:
                    return True
        return False

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = int(epoch)

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if not self._ready:
            self._initialise()

    def on_train_batch_end(self, batch, logs=None) -> None:
        if not self._ready:
            return
        # Batches on which no schedule can have fired cost nothing but this arithmetic. The
        # range includes the previous step so an off-by-one in the step estimate cannot hide
        # an update; the counters below are the ground truth.
        low, self._step = self._step, self._step + self._steps_per_batch
        if not self._may_update(low, self._step):
            return
        counters = [int(e.mask_updates.numpy()) for e in self._entries]
        changed = [
            index for index, (new, old) in enumerate(zip(counters, self._counters, strict=True))
            if new != old and index not in self._frozen
        ]
        self._counters = counters
        self._step = int(self._entries[0].wrapper.pruning_step.numpy())  # resynchronise
        if changed:
            self.check(indices=changed, _step=self._step)

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self._writer is not None:
            self._writer.flush()

    def on_train_end(self, logs=None) -> None:
        self._stream_csv([], final=True)
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # ------------------------------------------------------------------ the check
    def _verdict(self, report: SpectralReport) -> bool | None:
        """True pass, False fail, None undefined (before the ``undefined`` policy)."""
        if callable(self.criterion):
            result = self.criterion(report)
            return None if result is None else bool(result)
        value = getattr(report, CRITERIA[self.criterion])
        if value is None or (self.criterion == "ramanujan" and report.bound is None):
            return None
        return bool(value >= self.margin)

    def _worse(self, report: SpectralReport, other: SpectralReport) -> bool:
        """True if ``report`` is further below the criterion than ``other`` (for the log)."""
        field = CRITERIA.get(self.criterion) if not callable(self.criterion) else None
        if field is None:
            return False
        value, other_value = getattr(report, field), getattr(other, field)
        if other_value is None:
            return False
        return value is None or value < other_value

    def _apply_policy(self, verdict: bool | None) -> bool | None:
        if verdict is not None:
            return verdict
        return {"fail": False, "pass": True, "skip": None}[self.undefined]

    def _graphs(self, entry: PrunedWeight, mask: np.ndarray):
        gates = entry.gates if self.per_gate else ()
        if not gates:
            return [(None, mask)]
        return [(gate, mask[:, gate_columns(entry.cell, gate)]) for gate in gates]

    def check(
        self, indices: Sequence[int] | None = None, _step: int | None = None
    ) -> list[dict[str, Any]]:
        """Analyse the current masks now (all checked matrices, or ``indices`` of them).

        Called automatically after every mask update; frozen matrices are skipped.  Returns
        the new history records.
        """
        if not self._entries:
            raise ValueError("RamanujanConstraint.check() is only available during model.fit().")
        indices = range(len(self._entries)) if indices is None else indices
        records, failed, steps = [], [], {}
        for index in indices:
            entry = self._entries[index]
            if index in self._frozen:
                continue
            if not np.all(np.isfinite(entry.weight.numpy())):
                self._non_finite(entry)
                continue
            # 0/1 float mask -> bool: same graph, and analyze() skips its NaN scan for bools.
            mask = np.asarray(entry.mask.numpy()) != 0
            wrapper_id = id(entry.wrapper)
            if wrapper_id not in steps:
                # every wrapper's step advances together; reuse the one just read
                steps[wrapper_id] = (
                    _step if _step is not None else int(entry.wrapper.pruning_step.numpy())
                )
            step = steps[wrapper_id]
            rows, outcomes, worst = [], [], None
            for gate, graph in self._graphs(entry, mask):
                with _single_threaded_blas():
                    # unchanged gates are cache hits; changed ones warm-start the solver
                    report = self._spectral_cache.analyze((entry.layer, entry.role, gate), graph)
                outcome = self._apply_policy(self._verdict(report))
                outcomes.append(outcome)
                if outcome is False and (worst is None or self._worse(report, worst[1])):
                    worst = (gate, report)
                rows.append({
                    "step": step, "epoch": self._epoch, "layer": entry.layer,
                    "role": entry.role, "gate": gate, "sparsity": float(report.sparsity),
                    "d_left": report.d_left, "d_right": report.d_right,
                    "lambda1": report.lambda1, "mu_hat": report.mu_hat, "bound": report.bound,
                    "delta_r": report.delta_r, "delta_s": report.delta_s, "passed": outcome,
                    "frozen": False,
                })
            any_failed, all_passed = self._across_workers(
                any(outcome is False for outcome in outcomes),
                all(outcome is True for outcome in outcomes),
            )
            if any_failed:
                failed.append((entry, mask, step, worst))
                self._frozen.add(index)
                for row in rows:
                    row["frozen"] = True
            elif all_passed:
                entry.good_mask.assign(entry.mask)  # the new rollback point
            records.extend(rows)
            if self.verbose >= 2:
                for row in rows:
                    print(self._check_line(row))
        for entry, mask, step, worst in failed:
            self._freeze(entry, mask, step, worst)
        self.history.extend(records)
        self._stream_csv(records)
        self._write_summaries(records)
        if (
            self.stop_training_when_all_frozen and self._entries and self.model is not None
            and len(self._frozen) == len(self._entries)
        ):
            self._say("RamanujanConstraint: every checked weight graph is frozen; stopping.")
            self.model.stop_training = True
        return records

    def _across_workers(self, any_failed: bool, all_passed: bool) -> tuple[bool, bool]:
        """Under MultiWorkerMirroredStrategy: (failed on any worker, passed on every worker).

        Each worker runs this callback on its own copy of the same mask, so the verdicts agree
        unless a value sits within rounding of the margin and the machines round differently
        (other CPUs or BLAS), or a callable criterion depends on the worker.  A freeze (or a new
        rollback point) decided on one worker only would leave the workers with different masks
        and silently diverging weights, so the two flags are all-reduced: one tiny collective per
        checked matrix, reached in the same order on every worker because the mask-update
        counters it follows are identical everywhere.  Other strategies: returned unchanged.
        """
        strategy = getattr(self.model, "distribute_strategy", None)
        if not (
            isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode()
        ):
            return any_failed, all_passed
        flags = [float(any_failed), float(not all_passed)]
        local = strategy.experimental_distribute_values_from_function(
            lambda _: tf.constant(flags, tf.float32)
        )
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, local, axis=None).numpy()
        return bool(total[0] > 0), bool(total[1] == 0)

    def _non_finite(self, entry: PrunedWeight) -> None:
        """A mask update on NaN/inf weights (a diverged run): keep the last passing mask.

        TF-MOT ranks NaN weights below every threshold, so the mask it computes from diverged
        weights prunes nearly everything; judging that mask froze the matrix with "lost the
        Ramanujan property at sparsity 1.00", blaming the graph for the divergence.  Instead the
        mask is set back to ``good_mask`` (nothing is lost), the matrix is neither judged nor
        frozen, no history record is written, and a warning (once per matrix and fit) says why.
        """
        entry.mask.assign(entry.good_mask)
        if entry.name in self._non_finite_warned:
            return
        self._non_finite_warned.add(entry.name)
        line = (
            f"{entry.name}: weights contain NaN or inf (training diverged?); the mask computed "
            "from them was replaced by the last passing mask and not checked. Lower the "
            "learning rate or add keras.callbacks.TerminateOnNaN()."
        )
        self._say(line)
        warnings.warn(line, RuntimeWarning, stacklevel=2)

    def _stream_csv(self, records, final: bool = False) -> None:
        """Append ``records`` (and any earlier unwritten ones) to ``csv_path``; never raise.

        The text is rendered first and written in one call; if the write fails the file is cut
        back to its previous size, so a retry neither duplicates nor leaves half a row.
        """
        if self.csv_path is None:
            return
        strategy = getattr(self.model, "distribute_strategy", None)
        if strategy is not None and not strategy.extended.should_checkpoint:
            return  # a non-chief worker of a multi-worker run: the chief writes the file
        self._csv_unwritten.extend(records)
        if not self._csv_unwritten:
            return
        size = os.path.getsize(self.csv_path) if os.path.exists(self.csv_path) else 0
        text = io.StringIO()
        self._write_rows(text, self._csv_unwritten, header=size == 0)
        try:
            with open(self.csv_path, "a", newline="") as handle:
                handle.write(text.getvalue())
        except OSError as error:
            with contextlib.suppress(OSError):
                if os.path.exists(self.csv_path):
                    os.truncate(self.csv_path, size)
            if final or not self._csv_warned:
                self._csv_warned = True
                message = (
                    f"RamanujanConstraint could not write the history to {self.csv_path!r} "
                    f"({error}); training goes on, {len(self._csv_unwritten)} record(s) are kept "
                    "in memory (`history`) and "
                    + ("can be saved later with to_csv(path)." if final else
                       "will be written with the next successful append.")
                )
                logger.warning(message)
                warnings.warn(message, RuntimeWarning, stacklevel=2)
            return
        self._csv_unwritten = []

    @staticmethod
    def _write_rows(handle, rows, header: bool = True) -> None:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS)
        if header:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in HISTORY_FIELDS})

    def _freeze(self, entry: PrunedWeight, mask: np.ndarray, step: int, worst) -> None:
        failed_sparsity = _sparsity(mask)
        entry.frozen.assign(True)
        entry.frozen_step.assign(step)
        if self.restore_last_good_mask:
            entry.mask.assign(entry.good_mask)
            # Zero what the restored mask removes (the weights were masked already, so this is
            # the same as weights * good_mask; re-applying all masks of the wrapper is cheap).
            entry.wrapper.pruning_obj.weight_mask_op()
        else:
            entry.good_mask.assign(entry.mask)
        frozen_sparsity = _sparsity(entry.mask.numpy())
        if worst is None:  # passed here, failed on another worker (see _across_workers)
            self._say(
                f"{entry.layer}: {entry.role} failed the check on another worker at sparsity "
                f"{failed_sparsity:.2f}; frozen at {frozen_sparsity:.2f}"
            )
            return
        gate, report = worst
        self._say(self._freeze_line(entry, gate, report, failed_sparsity, frozen_sparsity))

    def _freeze_line(self, entry, gate, report, failed_sparsity, frozen_sparsity) -> str:
        where = entry.role + (f" gate {gate}" if gate else "")
        if callable(self.criterion):
            what = f"failed the criterion {getattr(self.criterion, '__name__', 'callable')}"
            field = "delta_r"
        else:
            what = "lost " + _CRITERION_WORDS[self.criterion]
            field = CRITERIA[self.criterion]
        value = getattr(report, field)
        if value is None or (field == "delta_r" and report.bound is None):
            detail = f"{_SYMBOL[field]} undefined: {report.undefined_reason or 'no bound'}"
        else:
            detail = f"{_SYMBOL[field]}={value:.2f}"
        return (
            f"{entry.layer}: {where} {what} at sparsity {failed_sparsity:.2f} ({detail}); "
            f"frozen at {frozen_sparsity:.2f}"
        )

    @staticmethod
    def _check_line(row) -> str:
        gate = f"/{row['gate']}" if row["gate"] else ""
        return (
            f"{row['layer']}: {row['role']}{gate} step {row['step']} sparsity "
            f"{row['sparsity']:.2f} Delta_r={_fmt(row['delta_r'], 2)} passed={row['passed']}"
        )

    def _say(self, line: str) -> None:
        self.messages.append(line)
        logger.info(line)
        if self.verbose >= 1:
            print(line)

    def _write_summaries(self, records) -> None:
        if self._writer is None or not records:
            return
        with self._writer.as_default():
            for row in records:
                gate = f"/{row['gate']}" if row["gate"] else ""
                prefix = f"{row['layer']}/{row['role']}{gate}"
                for key in ("delta_r", "delta_s", "sparsity"):
                    if row[key] is not None:
                        tf.summary.scalar(f"{prefix}/{key}", row[key], step=row["step"])
                if row["passed"] is not None:
                    tf.summary.scalar(f"{prefix}/passed", float(row["passed"]), step=row["step"])

    # ------------------------------------------------------------------ results
    def _current_entries(self) -> list[PrunedWeight]:
        if self._entries:
            return self._entries
        if self.model is None:
            return []
        return [p for p in pruned_weights(self.model) if p.role in self.roles]

    @property
    def frozen_layers(self) -> dict[str, list[str]]:
        """``{layer: [frozen roles]}`` for layers with at least one frozen matrix.

        Read from the model's ``frozen`` variables, so it is right after loading or resuming.
        """
        frozen: dict[str, list[str]] = {}
        for entry in self._current_entries():
            if bool(entry.frozen.numpy()):
                frozen.setdefault(entry.layer, []).append(entry.role)
        return frozen

    def results(self) -> list[dict[str, Any]]:
        """Current state of every checked matrix, one dict each (for reports and ``make demo``).

        Keys: ``layer``, ``role``, ``shape``, ``sparsity`` (now), ``delta_r``, ``delta_s``,
        ``is_ramanujan`` and ``gate`` (of the current mask, at the granularity the callback
        checks: the whole matrix, or with ``per_gate`` the worst gate, ``is_ramanujan`` True
        only if every gate is), ``frozen``, ``frozen_step``
        (pruning step of the freeze, None if not frozen), ``frozen_sparsity`` (sparsity kept
        after the rollback), ``failed_sparsity`` (sparsity of the mask that failed, from the
        history of this callback), ``checks`` (number of checks recorded).
        """
        rows = []
        for entry in self._current_entries():
            mask = np.asarray(entry.mask.numpy())
            gate, report = self._worst_graph(entry, mask)
            frozen = bool(entry.frozen.numpy())
            sparsity = _sparsity(mask)
            mine = [
                r for r in self.history if r["layer"] == entry.layer and r["role"] == entry.role
            ]
            failed = [r for r in mine if r["frozen"]]
            failed_sparsity = None
            if failed:
                failed_mask_sparsity = [r["sparsity"] for r in failed if r["gate"] is None]
                failed_sparsity = (
                    failed_mask_sparsity[-1] if failed_mask_sparsity
                    else float(np.mean([r["sparsity"] for r in failed]))
                )
            rows.append({
                "layer": entry.layer, "role": entry.role, "shape": tuple(mask.shape),
                "sparsity": sparsity, "delta_r": report.delta_r, "delta_s": report.delta_s,
                "is_ramanujan": report.is_ramanujan, "gate": gate, "frozen": frozen,
                "frozen_step": int(entry.frozen_step.numpy()) if frozen else None,
                "frozen_sparsity": sparsity if frozen else None,
                "failed_sparsity": failed_sparsity,
                "checks": len({r["step"] for r in mine}),
            })
        return rows

    def _worst_graph(self, entry: PrunedWeight, mask: np.ndarray):
        """(gate, report) of the checked graph furthest from passing: undefined first, then the
        lowest Delta_r; the whole matrix when gates are not checked separately."""
        reports = [(gate, analyze(graph)) for gate, graph in self._graphs(entry, mask)]

        def badness(item):
            report = item[1]
            return (report.delta_r is not None, report.delta_r or 0.0)

        return min(reports, key=badness)

    def summary(self, print_fn: Callable[[str], Any] | None = None) -> str:
        """A table of :meth:`results` (one line per checked matrix); printed if ``print_fn``."""
        delta_r = "Delta_r (worst gate)" if self.per_gate else "Delta_r"
        header = ("Layer", "Role", "Sparsity", delta_r, "Delta_s", "Checks", "Status")
        lines = [header]
        for row in self.results():
            if row["frozen"]:
                status = f"frozen at step {row['frozen_step']}"
                if row["failed_sparsity"] is not None:
                    status += f" (failed at {row['failed_sparsity']:.2f})"
            else:
                status = "pruning" if row["is_ramanujan"] is not False else "not Ramanujan"
            lines.append((
                row["layer"], row["role"], f"{row['sparsity']:.3f}", _fmt(row["delta_r"]),
                _fmt(row["delta_s"]), str(row["checks"]), status,
            ))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        rendered = [
            "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
            for line in lines
        ]
        rule = "-" * len(rendered[0])
        text = "\n".join([rendered[0], rule, *rendered[1:]])
        if print_fn is not None:
            print_fn(text)
        return text

    def to_csv(self, path) -> str:
        """Write :attr:`history` to ``path`` (columns :data:`HISTORY_FIELDS`); returns the path.

        Undefined numbers are empty cells.  An ``OSError`` (e.g. disk full) propagates: this is an
        explicit call; to write during training without ever stopping it use ``csv_path``.
        """
        path = str(path)
        with open(path, "w", newline="") as handle:
            self._write_rows(handle, self.history)
        return path

