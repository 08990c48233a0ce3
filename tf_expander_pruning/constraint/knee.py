"""The knee search: each matrix's largest tolerable sparsity, found within one ``fit``.

Pure Python (no TensorFlow), so it can be tested against a synthetic accuracy oracle.

Every pruned matrix starts by following its schedule.  A *try* is one mask update followed by
its recovery window; the guard judges the try at the window's end:

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

from dataclasses import dataclass

__all__ = ["MatrixSearch", "KneeSearch"]


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


#: Never try beyond this sparsity (a matrix needs some weights).
MAX_TARGET = 0.99
#: Sparsities this close count as the same try (masks are whole numbers of weights).
TOLERANCE = 1e-3
