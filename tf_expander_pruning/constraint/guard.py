"""The validation guard and the knee search: a pruned model may not fall more than ``max_drop``
below where pruning started, and each matrix goes as far as that allows.

The spectral test looks at the 0/1 graph only; it cannot see a SimpleRNN whose weighted
recurrent matrix is losing its dynamics (issue 16, ``docs/results/safe_stop.md``).  The guard
watches a Keras metric instead.  It is judged at an epoch end (where Keras reports validation
metrics) that closes a mask update's recovery window: the last epoch end before the next
scheduled mask update, or any epoch end once no update is scheduled.  Passing makes the current
state the *safe point* (masks that passed both tests and the trained weights that go with them);
failing rolls back to it and, unless the search of a matrix is over, retries it with a smaller
step (:mod:`.knee`).  This module and :mod:`.knee` hold every guard decision; the spectral
test is :mod:`.stages`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tf_expander_pruning.constraint.knee import KneeSearch
from tf_expander_pruning.constraint.policy import FreezeKeeper, apply_freeze, set_mask
from tf_expander_pruning.constraint.records import guard_record
from tf_expander_pruning.constraint.watcher import UpdateWatcher
from tf_expander_pruning.core.layers import mask_sparsity
from tf_expander_pruning.pruning.adapter import ModelAdapter, PrunedMatrix, adapter_for

__all__ = [
    "ValidationGuard", "SafePoint", "GuardStage", "higher_is_better", "take_safe_point",
    "restore_weights", "pruned_since",
]

logger = logging.getLogger("tf_expander_pruning.constraint")

#: The smallest rise of the validation loss (in its unit, nats for cross-entropy) that the
#: loss test counts, whatever ``max_loss_rise`` says.
LOSS_FLOOR = 0.05

#: A failed check is borderline (worth one more recovery window) when the metric fell by at
#: most this many times ``max_drop``; a larger fall is rolled back at once.
BORDERLINE = 3.0

Records = list[dict[str, Any]]


@dataclass
class SafePoint:
    """Masks (by entry index) and trainable weight values of the last state that passed both
    tests; ``sparsity`` by entry index for the messages."""

    masks: dict[int, np.ndarray] = field(default_factory=dict)
    weights: list[np.ndarray] = field(default_factory=list)
    step: int = -1


def higher_is_better(monitor: str, mode: str = "auto") -> bool:
    """``mode`` "max"/"min", or for "auto" whether the name says loss or error (lower better)."""
    if mode != "auto":
        return mode == "max"
    lowered = monitor.lower()
    return not ("loss" in lowered or "error" in lowered)


class ValidationGuard:
    """Judges a monitored metric against a reference.

    Args:
        monitor: a key of Keras's epoch logs (``"val_accuracy"``, ``"val_loss"``, ...).  When it
            is missing (no ``validation_data``) and starts with ``val_``, the training metric
            without the prefix is used instead, with a warning.
        max_drop: how far the metric may fall below the reference (absolute, in the metric's
            unit; for a loss, how far it may rise).
        baseline: the reference; None = where pruning started: the model evaluated on the
            fit's validation data before its first step (where that can be done), and the
            values logged at epoch ends before the first mask update (their mean); if neither
            exists, the first value judged.
        mode: ``"max"`` (higher is better), ``"min"`` or ``"auto"`` (``min`` for names
            containing ``loss`` or ``error``).
    """

    def __init__(self, monitor: str, max_drop: float, baseline: float | None = None,
                 mode: str = "auto", max_loss_rise: float | None = None) -> None:
        self.max_loss_rise = max_loss_rise
        self.monitor = monitor
        self.max_drop = float(max_drop)
        self.baseline = None if baseline is None else float(baseline)
        self.mode = mode
        self.reset()

    def reset(self) -> None:
        self.best: float | None = None
        self.start_values: list[float] = []
        self.start_measured: float | None = None  # evaluated before the fit's first step
        self.start_loss: float | None = None  # the loss there (for ``max_loss_rise``)
        self.key: str | None = None  # the log key actually read (after any fallback)
        self.announced = False

    def higher_is_better(self, key: str) -> bool:
        return higher_is_better(key, self.mode)

    def resolve(self, logs: dict[str, Any]) -> tuple[str | None, str | None]:
        """(log key to read, a one-time message or None).  None key: the guard cannot run."""
        if self.key is not None:
            return self.key, None
        message = None
        if self.monitor in logs:
            self.key = self.monitor
        elif self.monitor.startswith("val_") and self.monitor[4:] in logs:
            self.key = self.monitor[4:]
            message = (
                f"RamanujanConstraint guard: {self.monitor!r} is not in the logs (no "
                f"validation_data?); guarding on the training metric {self.key!r} instead, "
                "which cannot see overfitting. Pass validation_data to fit() for a real guard, "
                "or guard=None for the spectral rule alone."
            )
        elif not self.announced:
            message = (
                f"RamanujanConstraint guard: {self.monitor!r} is not in the logs "
                f"(available: {sorted(logs)}); the guard is off and only the spectral rule "
                "stops pruning. Pass validation_data to fit() and compile with that metric, "
                "set monitor= to one of the logged metrics, or guard=None to silence this."
            )
        if message is not None:
            self.announced = True
        return self.key, message

    def observe_start(self, value: float, measured: bool = False) -> None:
        """A value logged before pruning started (part of the reference); ``measured``: the
        model evaluated before any training step of this fit, which is then the reference."""
        if not np.isfinite(value):
            return
        if measured:
            self.start_measured = float(value)
        else:
            self.start_values.append(float(value))

    def reference(self) -> float | None:
        if self.baseline is not None:
            return self.baseline
        if self.start_measured is not None:
            return self.start_measured
        if self.start_values:
            # The mean, not the best: the best of several noisy values is biased upwards and
            # would make every later check look like a loss.
            return float(np.mean(self.start_values))
        return self.best

    def drop(self, value: float) -> float:
        """How far ``value`` is below the reference (positive = worse); 0 without a reference."""
        reference = self.reference()
        if reference is None:
            return 0.0
        worse = reference - value if self.higher_is_better(self.key or self.monitor) else (
            value - reference)
        return float(worse)

    def loss_ok(self, loss: float | None) -> bool:
        """With ``max_loss_rise``: is ``loss`` at most that fraction above the loss where
        pruning started, or at most :data:`LOSS_FLOOR` above it when that is more (a model
        that fits its data almost perfectly doubles a tiny loss with no loss of accuracy)?
        True when either loss is unknown."""
        if self.max_loss_rise is None or self.start_loss is None or loss is None:
            return True
        allowed = max(self.max_loss_rise * self.start_loss, LOSS_FLOOR)
        return bool(np.isfinite(loss)) and loss <= self.start_loss + allowed

    def judge(self, value: float, noise: float = 0.0) -> bool:
        """True when ``value`` is within ``max_drop`` of the reference by more than ``noise``
        (in the metric's unit; see :mod:`.paired`).  A NaN fails."""
        if not np.isfinite(value):
            return False
        passed = self.drop(value) + noise <= self.max_drop
        if passed and self.best is None:
            self.best = float(value)  # the reference when no value before pruning was seen
        return passed


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
    The :class:`~.knee.KneeSearch` then says, per matrix, whether to try again (and at which
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

    def start(self, model, step: int) -> None:
        self.safe = take_safe_point(model, self.entries, step, self.adapter)
        for index, entry in enumerate(self.entries):
            self.search.start(index, mask_sparsity(entry.mask_array()))
            if not entry.is_frozen():
                entry.schedule.follow_schedule()

    def due(self, watcher: UpdateWatcher, step: int, per_epoch: int | None,
            frozen: set[int], final: bool = False) -> bool:
        """Does this epoch end close a recovery window?

        Yes when the next mask update comes before the next epoch end (the last look at the
        current masks; a schedule step ``u`` updates during the batch after which
        ``pruning_step == u``).  When no update is scheduled any more, once the latest one had
        ``recovery_steps`` to recover, or at the end of training (``final``) whatever its age:
        the model that training returns is always judged.
        """
        upcoming = watcher.next_update(step + 1, frozen)
        if upcoming is not None:
            return not (per_epoch and upcoming > step + int(per_epoch))
        if final or watcher.last_update is None:
            return True
        return step - watcher.last_update >= watcher.recovery_steps(per_epoch, frozen)

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
        """Accept, wait or roll back the current try."""
        if self.guard.judge(value, self.margin) and self.loss_ok:
            records = self.accept(moved, value, step, epoch, frozen)
            self.safe = take_safe_point(model, self.entries, step, self.adapter)
            self.waited.clear()
            return records
        patient = [i for i in moved if i not in self.waited and i not in frozen]
        borderline = self.guard.drop(value) <= BORDERLINE * self.guard.max_drop
        if patient and borderline and not final and self.search.patience:
            return self.wait(patient, value, step, epoch)
        self.waited.clear()
        return self.rollback(model, moved, key, value, step, epoch, frozen, final)

    def wait(self, moved: list[int], value: float, step: int, epoch: int) -> Records:
        """A try that fails its first check by less than ``BORDERLINE * max_drop`` gets one more
        recovery window at the same masks (a pruned RNN often needs more than one epoch to
        recover what an update cost)."""
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
            done = index not in frozen and self.search.accept(index, sparsity)
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
            done = self.search.reject(index, failing[index]) or final or index in frozen
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
        target = None if index in frozen else self.search.target(index)
        if target is None:
            schedule.follow_schedule()
        else:
            schedule.set_target(target)
