"""The validation guard: a pruned model may not fall more than ``max_drop`` below its reference.

The spectral test looks at the 0/1 graph only; it cannot see a SimpleRNN whose weighted
recurrent matrix is losing its dynamics (issue 16, ``docs/results/safe_stop.md``).  The guard
watches a Keras metric instead.  It is judged at an epoch end (where Keras reports validation
metrics) that closes a mask update's recovery window: the last epoch end before the next
scheduled mask update, or any epoch end once no update is scheduled.  Passing makes the current
state the *safe point* (masks that passed both tests and the trained weights that go with them);
failing rolls back to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ValidationGuard", "SafePoint", "take_safe_point", "restore_weights", "pruned_since"]


@dataclass
class SafePoint:
    """Masks (by entry index) and trainable weight values of the last state that passed both
    tests; ``sparsity`` by entry index for the messages."""

    masks: dict[int, np.ndarray] = field(default_factory=dict)
    weights: list[np.ndarray] = field(default_factory=list)
    step: int = -1


class ValidationGuard:
    """Judges a monitored metric against a reference.

    Args:
        monitor: a key of Keras's epoch logs (``"val_accuracy"``, ``"val_loss"``, ...).  When it
            is missing (no ``validation_data``) and starts with ``val_``, the training metric
            without the prefix is used instead, with a warning.
        max_drop: how far the metric may fall below the reference (absolute, in the metric's
            unit; for a loss, how far it may rise).
        baseline: the reference; None = the best value seen at a passing guard check.
        mode: ``"max"`` (higher is better), ``"min"`` or ``"auto"`` (``min`` for names
            containing ``loss`` or ``error``).
    """

    def __init__(self, monitor: str, max_drop: float, baseline: float | None = None,
                 mode: str = "auto") -> None:
        self.monitor = monitor
        self.max_drop = float(max_drop)
        self.baseline = None if baseline is None else float(baseline)
        self.mode = mode
        self.reset()

    def reset(self) -> None:
        self.best: float | None = None
        self.key: str | None = None  # the log key actually read (after any fallback)
        self.announced = False

    def higher_is_better(self, key: str) -> bool:
        if self.mode != "auto":
            return self.mode == "max"
        lowered = key.lower()
        return not ("loss" in lowered or "error" in lowered)

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

    def reference(self) -> float | None:
        return self.baseline if self.baseline is not None else self.best

    def drop(self, value: float) -> float:
        """How far ``value`` is below the reference (positive = worse); 0 without a reference."""
        reference = self.reference()
        if reference is None:
            return 0.0
        worse = reference - value if self.higher_is_better(self.key or self.monitor) else (
            value - reference)
        return float(worse)

    def judge(self, value: float) -> bool:
        """True when ``value`` is within ``max_drop`` of the reference (a NaN fails)."""
        if not np.isfinite(value):
            return False
        passed = self.drop(value) <= self.max_drop
        if passed:
            better = self.higher_is_better(self.key or self.monitor)
            if self.best is None or (value > self.best if better else value < self.best):
                self.best = float(value)
        return passed


def take_safe_point(model, entries, step: int) -> SafePoint:
    """The current state as the new safe point: each matrix's last spectrally passing mask
    (``good_mask``; for a frozen matrix that is its mask) and the trainable weights."""
    return SafePoint(
        masks={i: np.asarray(e.good_mask.numpy()) != 0 for i, e in enumerate(entries)},
        weights=[np.array(v.numpy()) for v in model.trainable_weights],
        step=step,
    )


def restore_weights(model, safe: SafePoint) -> None:
    """Put the safe point's trainable weight values back (same variables, same order)."""
    for variable, value in zip(model.trainable_weights, safe.weights, strict=True):
        variable.assign(value)


def pruned_since(entries, safe: SafePoint) -> list[int]:
    """Indices of matrices whose mask differs from the safe point's."""
    return [
        i for i, e in enumerate(entries)
        if not np.array_equal(np.asarray(e.mask.numpy()) != 0, safe.masks[i])
    ]
