"""The two stages that gather the measurements and apply the freeze decisions of
:mod:`.decisions` through the adapter: :class:`SpectralStage` (the spectral test after each mask
update) and :class:`GuardStage` (the guard and the knee search, at the end of each recovery
window: the safe point, the rollback, the next try).  Each returns the history records it made
and adds the matrices it froze to the shared ``frozen`` set.

The guard exists because the spectral test looks at the 0/1 graph only; it cannot see a
SimpleRNN whose weighted recurrent matrix is losing its dynamics (issue 16,
``docs/results/safe_stop.md``).  Passing makes the current state the *safe point* (masks that
passed both tests and the trained weights that go with them); failing rolls back to it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tf_expander_pruning.constraint.criterion import Criterion
from tf_expander_pruning.constraint.decisions import (
    KneeSearch,
    ValidationGuard,
    freeze_after_fail,
    freeze_after_pass,
    judge_try,
    next_target,
    spectral_action,
    window_closes,
)
from tf_expander_pruning.constraint.policy import FreezeKeeper, apply_freeze, set_mask
from tf_expander_pruning.constraint.records import guard_record, spectral_record
from tf_expander_pruning.constraint.runner import CheckRunner, across_workers
from tf_expander_pruning.constraint.watcher import UpdateWatcher
from tf_expander_pruning.core.layers import mask_sparsity
from tf_expander_pruning.pruning.adapter import ModelAdapter, PrunedMatrix, adapter_for

__all__ = [
    "SpectralStage", "GuardStage", "SafePoint", "take_safe_point", "restore_weights",
    "pruned_since",
]

logger = logging.getLogger("tf_expander_pruning.constraint")

Records = list[dict[str, Any]]


@dataclass
class SafePoint:
    """Masks (by entry index), trainable weight values and the schedule ``step`` of the last
    state that passed both tests (the default -1: none taken yet)."""

    masks: dict[int, np.ndarray] = field(default_factory=dict)
    weights: list[np.ndarray] = field(default_factory=list)
    step: int = -1


class SpectralStage:
    """Judge changed masks; freeze (and roll back to ``good_mask``) the ones that fail.

    With ``stop=False`` (``spectral="report"``) every verdict is recorded but none freezes:
    the mask that was checked is the next rollback point whatever the verdict."""

    def __init__(self, entries: list[PrunedMatrix], criterion: Criterion, per_gate: bool,
                 restore: bool, keeper: FreezeKeeper, say: Callable[[str], None],
                 stop: bool = True) -> None:
        self.entries, self.criterion, self.restore = entries, criterion, restore
        self.stop = stop
        self.runner = CheckRunner(per_gate)
        self.keeper, self.say = keeper, say
        self.warned: set[str] = set()

    def run(self, model, indices: Iterable[int], step: int, epoch: int,
            frozen: set[int]) -> Records:
        records, failed = [], []
        for index in indices:
            entry = self.entries[index]
            if index in frozen:
                continue
            if not np.all(np.isfinite(entry.weight_array())):
                self.non_finite(entry)
                continue
            rows, worst, failed_at = self.check_one(model, entry, step, epoch)
            if failed_at is not None:
                failed.append((index, failed_at, worst))
            records.extend(rows)
        for index, failed_at, worst in failed:
            self.freeze(index, step, failed_at, worst, frozen)
        return records

    def check_one(self, model, entry: PrunedMatrix, step: int, epoch: int):
        """(records, worst failing (gate, report), sparsity if it failed else None)."""
        mask = entry.mask_array()
        reports = self.runner.gate_reports(entry, mask)
        outcomes = [self.criterion.outcome(report) for _, report in reports]
        rows = [spectral_record(entry, step, epoch, gate, report, outcome)
                for (gate, report), outcome in zip(reports, outcomes, strict=True)]
        any_failed, all_passed = across_workers(
            model, any(o is False for o in outcomes), all(o is True for o in outcomes))
        failing = [item for item, o in zip(reports, outcomes, strict=True) if o is False]
        worst = self.criterion.worst(failing) if failing else None
        action = spectral_action(self.stop, any_failed, all_passed)
        if action == "freeze":
            for row in rows:
                row.update(frozen=True, stopped_by="spectral")
            return rows, worst, mask_sparsity(mask)
        if action == "keep":
            entry.keep_as_good()  # the new rollback point
        return rows, worst, None

    def freeze(self, index: int, step: int, failed_at: float, worst, frozen: set[int]) -> None:
        entry = self.entries[index]
        keep = entry.good_mask_array() if self.restore else None
        apply_freeze(entry, step, keep)
        frozen.add(index)
        self.keeper.remember(index, "spectral")
        kept = mask_sparsity(entry.mask_array())
        if worst is None:  # passed here, failed on another worker (see across_workers)
            self.say(f"{entry.layer}: {entry.role} failed the check on another worker at "
                     f"sparsity {failed_at:.2f}; frozen at {kept:.2f}")
            return
        gate, report = worst
        what, detail = self.criterion.describe_failure(report)
        where = entry.role + (f" gate {gate}" if gate else "")
        self.say(f"{entry.layer}: {where} {what} at sparsity {failed_at:.2f} ({detail}); "
                 f"frozen at {kept:.2f}")

    def non_finite(self, entry: PrunedMatrix) -> None:
        """Weights with NaN/inf (a diverged run): TF-MOT ranks NaN below every threshold, so the
        new mask prunes nearly everything.  Keep the last passing mask, judge nothing, warn once."""
        entry.revert_to_good()
        if entry.name in self.warned:
            return
        self.warned.add(entry.name)
        line = (f"{entry.name}: weights contain NaN or inf (training diverged?); the mask "
                "computed from them was replaced by the last passing mask and not checked. "
                "Lower the learning rate or add keras.callbacks.TerminateOnNaN().")
        self.say(line)
        warnings.warn(line, RuntimeWarning, stacklevel=3)


def take_safe_point(model, entries, step: int, adapter: ModelAdapter | None = None) -> SafePoint:
    """The current state as the new safe point: each matrix's last spectrally passing mask
    (``good_mask``; for a frozen matrix that is its mask) and the trainable weights."""
    adapter = adapter or adapter_for(model)
    return SafePoint(
        masks={i: e.good_mask_array() for i, e in enumerate(entries)},
        weights=adapter.trainable_values(model),
        step=step,
    )


def restore_weights(model, safe: SafePoint, adapter: ModelAdapter | None = None) -> None:
    """Put the safe point's trainable weight values back (same variables, same order)."""
    (adapter or adapter_for(model)).restore_trainable(model, safe.weights)


def pruned_since(entries, safe: SafePoint) -> list[int]:
    """Indices of matrices whose mask differs from the safe point's."""
    return [
        i for i, e in enumerate(entries)
        if not np.array_equal(e.mask_array(), safe.masks[i])
    ]


class GuardStage:
    """At an epoch end that closes a recovery window, judge the try: a pass makes the state the
    safe point, a failure rolls every matrix pruned since then back to it (weights included).
    The :class:`~.decisions.KneeSearch` then says, per matrix, whether to try again (and at which
    sparsity) or to freeze."""

    def __init__(self, guard: ValidationGuard, entries: list[PrunedMatrix], keeper: FreezeKeeper,
                 say: Callable[[str], None], search: KneeSearch,
                 noise: Callable[[Any], float] | None = None, noise_margin: float = 0.0,
                 adapter: ModelAdapter | None = None) -> None:
        self.adapter = adapter
        self.guard, self.entries, self.keeper, self.say = guard, entries, keeper, say
        self.search = search
        self.noise, self.noise_margin = noise, float(noise_margin)
        self.last_noise: float | None = None
        self.margin = 0.0  # noise_margin * last_noise, added to the drop of the current check
        self.loss_ok = True
        self.safe: SafePoint | None = None
        self.started = False  # has any mask changed since the fit began?
        self.waited: set[int] = set()  # matrices whose current try already had an extra window
        self.last_value: tuple[str, float, int] | None = None
        self.more_scheduled = False  # at the last look: does the schedule have updates to come?

    def start(self, model, step: int) -> None:
        self.safe = take_safe_point(model, self.entries, step, self.adapter)
        for index, entry in enumerate(self.entries):
            self.search.start(index, mask_sparsity(entry.mask_array()))
            if not entry.is_frozen():
                entry.schedule.follow_schedule()

    def due(self, watcher: UpdateWatcher, step: int, per_epoch: int | None,
            frozen: set[int], final: bool = False) -> bool:
        """Does this epoch end close a recovery window?  (:func:`~.decisions.window_closes`
        on the watcher's schedule arithmetic.)"""
        upcoming = watcher.next_update(step + 1, frozen)
        self.more_scheduled = upcoming is not None
        return window_closes(upcoming, step, per_epoch, final, watcher.last_update,
                             watcher.recovery_steps(per_epoch, frozen))

    def epoch_end(self, model, logs: dict[str, Any], step: int, epoch: int,
                  due: bool, frozen: set[int], final: bool = False) -> Records:
        key, message = self.guard.resolve(logs)
        if message:  # a set-up notice, not a freeze: logged and warned, not in `messages`
            logger.warning(message)
            warnings.warn(message, UserWarning, stacklevel=3)
        self.last_value = None
        if key is None or key not in logs:
            return []
        value = float(logs[key])
        moved = pruned_since(self.entries, self.safe)
        self.started = self.started or bool(moved)
        if not self.started:
            self.guard.observe_start(value)  # before the first mask update: the reference
            return []
        if not due:
            return []
        self.last_value = (key, value, step)
        self.last_noise = self.noise(model) if self.noise is not None else None
        self.margin = self.noise_margin * (self.last_noise or 0.0)
        loss = logs.get("val_loss" if key.startswith("val_") else "loss")
        self.loss_ok = self.guard.loss_ok(None if loss is None else float(loss))
        records = self.verdict(model, moved, key, value, step, epoch, frozen, final)
        for record in records:
            record["noise"] = self.last_noise
        return records

    def verdict(self, model, moved: list[int], key: str, value: float, step: int, epoch: int,
                frozen: set[int], final: bool) -> Records:
        """Accept, wait or roll back the current try (:func:`~.decisions.judge_try`)."""
        action, patient = judge_try(self.guard, value, self.margin, self.loss_ok, moved,
                                    self.waited, frozen, final, self.search.patience)
        if action == "accept":
            records = self.accept(moved, value, step, epoch, frozen)
            self.safe = take_safe_point(model, self.entries, step, self.adapter)
            self.waited.clear()
            return records
        if action == "wait":
            return self.wait(patient, value, step, epoch)
        self.waited.clear()
        return self.rollback(model, moved, key, value, step, epoch, frozen, final)

    def wait(self, moved: list[int], value: float, step: int, epoch: int) -> Records:
        """One more recovery window at the same masks (a borderline failure, see
        :func:`~.decisions.judge_try`)."""
        records = []
        for index in moved:
            entry = self.entries[index]
            sparsity = mask_sparsity(entry.mask_array())
            entry.schedule.set_target(sparsity)  # the next update keeps this mask
            self.waited.add(index)
            records.append(guard_record(
                entry, step, epoch, sparsity, value, passed=False, frozen=False,
                reference=self.guard.reference(),
                step_size=self.search.step_size(index, sparsity), action="wait"))
        return records

    def accept(self, moved: list[int], value: float, step: int, epoch: int,
               frozen: set[int]) -> Records:
        records = []
        for index in moved:
            entry = self.entries[index]
            sparsity = mask_sparsity(entry.mask_array())
            size = self.search.step_size(index, sparsity)
            done = freeze_after_pass(self.search, index, sparsity, frozen)
            if done:
                apply_freeze(entry, step, None)
                frozen.add(index)
                self.keeper.remember(index, "guard")
                self.say(f"{entry.layer}: {entry.role} knee found: {sparsity:.3f} passed and the "
                         f"next try would be less than min_step={self.search.min_step:g} "
                         "further; frozen")
            self.retarget(index, frozen)
            records.append(guard_record(entry, step, epoch, sparsity, value, passed=True,
                                        frozen=done, reference=self.guard.reference(),
                                        step_size=size, action="frozen" if done else "accepted"))
        return records

    def rollback(self, model, moved: list[int], key: str, value: float, step: int, epoch: int,
                 frozen: set[int], final: bool) -> Records:
        if not moved:
            return []  # nothing was pruned since the safe point: nothing to undo
        reference = self.guard.reference()
        failing = {i: mask_sparsity(self.entries[i].mask_array()) for i in moved}
        records = []
        for index in moved:
            entry = self.entries[index]
            size = self.search.step_size(index, failing[index])
            # A fit that ends with updates still scheduled rolls back without freezing: the
            # next fit (a notebook's second fit() call) goes on with the search.
            ends = final and not self.more_scheduled
            done = freeze_after_fail(self.search, index, failing[index], ends, frozen)
            back = mask_sparsity(self.safe.masks[index])
            if done:
                first = index not in frozen
                apply_freeze(entry, step, self.safe.masks[index])
                frozen.add(index)
                self.keeper.remember(index, "guard" if first else None)
            else:
                set_mask(entry, self.safe.masks[index])
            self.retarget(index, frozen)
            records.append(guard_record(entry, step, epoch, failing[index], value, passed=False,
                                        frozen=done, reference=reference, step_size=size,
                                        action="frozen" if done else "retry"))
            then = "frozen" if done else f"next try {self.search.target(index):.3f}"
            margin = f" + noise {self.margin:.4f}" if self.margin else ""
            why = (f"drop {self.guard.drop(value):.4f}{margin} > max_drop={self.guard.max_drop:g}"
                   if self.loss_ok else f"validation loss rose more than max_loss_rise="
                   f"{self.guard.max_loss_rise:g} (drop {self.guard.drop(value):.4f})")
            self.say(
                f"{entry.layer}: {entry.role} guard: {key}={value:.4f} against {reference:.4f}: "
                f"{why} "
                f"at sparsity {failing[index]:.3f}; rolled back to {back:.3f} (step "
                f"{self.safe.step}, the last state that passed both tests), {then}")
        # The weights last: putting a mask back applies every mask of its wrapper, and a
        # matrix whose mask is not back yet would zero its restored weights.
        restore_weights(model, self.safe, self.adapter)
        return records

    def retarget(self, index: int, frozen: set[int]) -> None:
        """Point the matrix's schedule at its next try (or back at the schedule)."""
        schedule = self.entries[index].schedule
        target = next_target(self.search, index, frozen)
        if target is None:
            schedule.follow_schedule()
        else:
            schedule.set_target(target)
