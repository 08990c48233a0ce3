"""Every freeze decision of ``RamanujanConstraint``, in one file: given the measurements, what
to do.  Nothing here reads or writes a model; :mod:`.stages` gathers the measurements (masks,
spectral reports, the epoch logs) and applies these decisions through the adapter
(:mod:`tf_expander_pruning.pruning.adapter`).

**The spectral rule** (after each mask update, ``spectral="stop"``, or ``"auto"`` without the
guard or without validation data: :func:`spectral_stops`): :func:`spectral_action` freezes a
matrix when one of its graphs fails (rolled back to its last passing mask with
``restore_last_good_mask``) and keeps a mask that passed everywhere as the new rollback point.

**The default one-run knee stop** (the guard, at an epoch end that closes a recovery window:
:func:`window_closes`).  :class:`ValidationGuard` judges the monitored metric against where
pruning started (and the validation loss, ``max_loss_rise``); :func:`judge_try` says what to do
with the try: accept it (the state becomes the safe point), wait one more window (a borderline
failure, ``patience``) or roll back to the safe point.  Per matrix, the :class:`KneeSearch`
then says whether to freeze (:func:`freeze_after_pass`, :func:`freeze_after_fail`) or at which
sparsity to try next (:func:`next_target`).

The knee search: every pruned matrix starts by following its schedule.  A *try* is one mask
update followed by its recovery window; the guard judges the try at the window's end:

* **pass**: the tried sparsity becomes the matrix's ``safe`` sparsity (the new rollback point);
* **fail**: masks and weights are rolled back to the safe point and the tried sparsity becomes
  the upper end of the matrix's *bracket* ``(safe, failed_at)``.

Once a matrix has a bracket it no longer follows the schedule: every next try is the middle of
the bracket (bisection), so the bracket halves at every try, pass or fail.  The matrix is frozen
at ``safe`` when the bracket is no wider than ``min_step`` or after ``max_retries`` failed tries.
The knee is then within ``min_step`` above the frozen sparsity (on a noise-free metric) and the
frozen state is one that passed.

``max_retries=0`` is the stop of issue 16: frozen for good at the first failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MatrixSearch", "KneeSearch", "ValidationGuard", "higher_is_better", "spectral_stops",
    "spectral_action", "window_closes", "judge_try", "freeze_after_pass", "freeze_after_fail",
    "next_target", "LOSS_FLOOR", "BORDERLINE", "MAX_TARGET", "TOLERANCE",
]

#: The smallest rise of the validation loss (in its unit, nats for cross-entropy) that the
#: loss test counts, whatever ``max_loss_rise`` says.
LOSS_FLOOR = 0.05

#: A failed check is borderline (worth one more recovery window) when the metric fell by at
#: most this many times ``max_drop``; a larger fall is rolled back at once.
BORDERLINE = 3.0

#: Never try beyond this sparsity (a matrix needs some weights).
MAX_TARGET = 0.99
#: Sparsities this close count as the same try (masks are whole numbers of weights).
TOLERANCE = 1e-3


# ---------------------------------------------------------------------- the spectral rule
def spectral_stops(spectral: str, guard: Any, watches_validation: bool) -> bool:
    """Does a failed spectral check freeze the matrix?  ``spectral="auto"``: only when the
    guard is off (the paper's rule) or the fit has no validation data (the guard then sees
    only the training metric); with the guard on validation data it is recorded, not
    obeyed (``docs/results.md``: on these data sets it stopped short of the knee)."""
    if spectral != "auto":
        return spectral == "stop"
    return not guard or not watches_validation


def spectral_action(stop: bool, any_failed: bool, all_passed: bool) -> str | None:
    """What a spectral check of one matrix (every gate, every worker) leads to: ``"freeze"``
    (a graph failed and failures stop: frozen at its last passing mask with
    ``restore_last_good_mask``, else as checked), ``"keep"`` (the checked mask becomes the
    rollback point: every graph passed, or ``stop=False`` records verdicts only) or None
    (an undefined verdict under ``undefined="skip"``: the rollback point stays)."""
    if not stop:
        return "keep"
    if any_failed:
        return "freeze"
    if all_passed:
        return "keep"
    return None


# ---------------------------------------------------------------------- the guard
def window_closes(upcoming: int | None, step: int, per_epoch: int | None, final: bool,
                  last_update: int | None, recovery: int) -> bool:
    """Does this epoch end close a recovery window (is the try judged now)?

    Always at the end of training (``final``), whatever the age of the latest update and
    whether or not the schedule had more to come: the model that training returns is always
    judged (a fit that ends in the middle of a try hands back its last passing state).
    Otherwise yes when the next mask update (``upcoming``, None: none scheduled) comes before
    the next epoch end (the last look at the current masks; a schedule step ``u`` updates
    during the batch after which ``pruning_step == u``); when no update is scheduled any more,
    once the latest one had ``recovery`` steps to recover.
    """
    if final:
        return True
    if upcoming is not None:
        return not (per_epoch and upcoming > step + int(per_epoch))
    if last_update is None:
        return True
    return step - last_update >= recovery


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


def judge_try(guard: ValidationGuard, value: float, margin: float, loss_ok: bool,
              moved: Iterable[int], waited: set[int], frozen: set[int], final: bool,
              patience: int) -> tuple[str, list[int]]:
    """Accept, wait or roll back the current try: ``("accept", [])``, ``("wait", patient)`` or
    ``("rollback", [])``.

    A try passes when the metric is within ``max_drop`` of the reference by more than
    ``margin`` (the paired noise) and the loss test holds.  A failure by at most
    ``BORDERLINE * max_drop`` gets one more recovery window at the same masks (with
    ``patience``, once per try, never at the end of training): a pruned RNN often needs more
    than one epoch to recover what an update cost.  Any other failure is rolled back.
    """
    if guard.judge(value, margin) and loss_ok:
        return "accept", []
    patient = [i for i in moved if i not in waited and i not in frozen]
    borderline = guard.drop(value) <= BORDERLINE * guard.max_drop
    if patient and borderline and not final and patience:
        return "wait", patient
    return "rollback", []


# ---------------------------------------------------------------------- the knee search
@dataclass
class MatrixSearch:
    """One matrix's search state (sparsities are fractions of zero weights, in [0, 1])."""

    safe: float = 0.0
    failed_at: float | None = None
    failures: int = 0
    tries: int = 0
    done: bool = False
    confirmed: bool = False  # did ``failed_at`` fail again when re-checked?
    stride: float | None = None  # step of the tries after a re-check passed
    reopened: bool = False  # a re-check passed once already (there is only one re-check)

    @property
    def bracket(self) -> float | None:
        """Width of ``(safe, failed_at)``; None before the first failure."""
        return None if self.failed_at is None else self.failed_at - self.safe


class KneeSearch:
    """Bisection of each matrix's sparsity between its last passing and first failing try.

    Args:
        count: number of matrices.
        min_step: the bracket width at which the search ends (sparsity units, > 0).
        max_retries: failed tries allowed after the first one (>= 0; 0 = freeze at the first
            failure, the stop of issue 16).
        patience: 1 = a try that fails its first check is judged once more after another
            recovery window before it counts as failed; 0 = judged once.

    When the bracket has closed, the failing end is tried once more before the matrix freezes:
    the model has trained for several more windows by then, and a sparsity that failed during
    a transient dip may pass now.  If it does, the search goes on upwards in steps of half the
    step that first failed, and freezes when its bracket closes again (there is one re-check
    per matrix: more would be more draws from the same noisy validation set).
    """

    def __init__(self, count: int, min_step: float = 0.02, max_retries: int = 4,
                 patience: int = 1) -> None:
        self.min_step = float(min_step)
        self.patience = int(patience)
        self.max_retries = int(max_retries)
        self.states = [MatrixSearch() for _ in range(int(count))]

    def start(self, index: int, sparsity: float) -> None:
        """The matrix's sparsity where pruning starts (or where a resumed run stands)."""
        self.states[index].safe = float(sparsity)

    def target(self, index: int) -> float | None:
        """The sparsity of the matrix's next try; None = follow the schedule."""
        state = self.states[index]
        if state.done:
            return None
        if state.failed_at is None:
            if state.stride is None:
                return None
            return min(state.safe + state.stride, MAX_TARGET)
        if state.bracket <= self.min_step and not state.confirmed and not state.reopened:
            return state.failed_at  # the re-check
        return 0.5 * (state.safe + state.failed_at)

    def accept(self, index: int, sparsity: float) -> bool:
        """The try at ``sparsity`` passed.  Returns True when the search of the matrix is over:
        freeze it at ``sparsity``."""
        state = self.states[index]
        state.tries += 1
        sparsity = float(sparsity)
        if state.failed_at is not None and sparsity >= state.failed_at - TOLERANCE:
            # It passed where it failed before: search on upwards from here.
            state.stride = max(state.stride or 0.0, self.min_step)
            state.failed_at, state.confirmed, state.reopened = None, False, True
        state.safe = max(state.safe, sparsity)
        state.done = (state.bracket is not None and state.bracket <= self.min_step
                      and (state.confirmed or state.reopened))
        return state.done

    def reject(self, index: int, sparsity: float) -> bool:
        """The try at ``sparsity`` failed (the matrix was rolled back to ``safe``).  Returns
        True when the search is over: freeze the matrix at ``safe``."""
        state = self.states[index]
        state.tries += 1
        state.failures += 1
        sparsity = float(sparsity)
        if state.failed_at is not None and sparsity >= state.failed_at - TOLERANCE:
            state.confirmed = True  # the re-check failed too
        if state.failed_at is None or sparsity < state.failed_at:
            state.failed_at = sparsity
            if state.stride is None:
                state.stride = max(0.5 * (sparsity - state.safe), self.min_step)
        state.done = state.failures > self.max_retries or (
            state.bracket <= self.min_step and (state.confirmed or state.reopened))
        return state.done

    def step_size(self, index: int, sparsity: float) -> float:
        """How far a try at ``sparsity`` goes beyond the matrix's safe sparsity."""
        return float(sparsity) - self.states[index].safe


def freeze_after_pass(search: KneeSearch, index: int, sparsity: float, frozen: set[int]) -> bool:
    """The matrix's try at ``sparsity`` passed: freeze it there (its search is over)?"""
    return index not in frozen and search.accept(index, sparsity)


def freeze_after_fail(search: KneeSearch, index: int, sparsity: float, final: bool,
                      frozen: set[int]) -> bool:
    """The matrix's try at ``sparsity`` failed and is rolled back to its safe point: freeze it
    there (its search is over, training ends with no update left in the schedule, or it was
    frozen already) rather than retry?  ``final``: training ends and the schedule is over."""
    return search.reject(index, sparsity) or final or index in frozen


def next_target(search: KneeSearch, index: int, frozen: set[int]) -> float | None:
    """The sparsity of the matrix's next try; None = follow the schedule (or frozen)."""
    return None if index in frozen else search.target(index)
