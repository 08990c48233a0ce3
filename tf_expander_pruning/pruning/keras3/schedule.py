"""Schedules on the Keras 3 path: evaluated in Python at an integer step, steered by variables.

On Keras 2, TF-MOT calls a schedule inside the traced train step.  On Keras 3 the mask update
runs in a callback between steps, so the same schedule objects (``GeometricSchedule``, TF-MOT's
``ConstantSparsity`` / ``PolynomialDecay``, any ``PruningSchedule``) are evaluated at a plain
integer step: ``should_prune`` with TF-MOT's own rule (``begin_step <= step <= end_step`` and
``(step - begin_step) % frequency == 0``), the sparsity in pure Python for
``GeometricSchedule`` (``sparsity_at``) and, for any other schedule, by calling it once eagerly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["step_rule", "is_turn", "target_sparsity", "ScheduleState", "magnitude_mask"]


def step_rule(schedule: Any) -> tuple[int, int, int] | None:
    """``(begin_step, end_step, frequency)`` of ``schedule``; None if it has no such rule."""
    try:
        rule = tuple(int(getattr(schedule, key)) for key in ("begin_step", "end_step",
                                                              "frequency"))
    except (AttributeError, TypeError, ValueError):
        return None
    return rule if rule[2] > 0 else None


def is_turn(rule: tuple[int, int, int] | None, step: int) -> bool:
    """TF-MOT's ``_should_prune_in_step`` at an integer step (True for an unknown rule)."""
    if rule is None:
        return True
    begin, end, frequency = rule
    return step >= begin and (end < 0 or step <= end) and (step - begin) % frequency == 0


def target_sparsity(schedule: Any, step: int) -> tuple[bool, float]:
    """``(should_prune, sparsity)`` of ``schedule`` at ``step``, as its ``__call__`` says."""
    rule = step_rule(schedule)
    if rule is not None and hasattr(schedule, "sparsity_at"):  # GeometricSchedule: pure Python
        return is_turn(rule, step), float(schedule.sparsity_at(step))
    import tensorflow as tf  # another TF-MOT schedule: its own TF code, run once eagerly

    should, sparsity = schedule(tf.constant(step, tf.int64))
    return bool(should.numpy()), float(sparsity.numpy())


def magnitude_mask(weight: np.ndarray, sparsity: float) -> np.ndarray:
    """TF-MOT's magnitude mask (block 1x1): keep the ``round(n * (1 - sparsity))`` (at least 1)
    largest ``|w|``, ties at the threshold kept; same arithmetic in float32."""
    magnitude = np.abs(np.asarray(weight, dtype=np.float32)).reshape(-1)
    keep = np.float32(magnitude.size) * (np.float32(1.0) - np.float32(sparsity))
    k = max(int(np.round(keep)), 1)
    threshold = np.sort(magnitude)[::-1][k - 1]
    return (np.abs(np.asarray(weight, dtype=np.float32)) >= threshold)


class ScheduleState:
    """The Keras 3 counterpart of :class:`~tf_expander_pruning.schedules.Freezable`: a base
    schedule plus the matrix's ``frozen`` flag and driven ``target`` (``keras.Variable`` weights
    of the wrapper, so they are saved with the model).

    ``sync`` is called before every read or write (on JAX it attaches the running fit's state
    to the variables first, see :mod:`.wrapper`)."""

    def __init__(self, base_schedule: Any, frozen, target,
                 sync: Callable[[], None] | None = None) -> None:
        self.base_schedule = base_schedule
        self.frozen, self.target = frozen, target
        self.sync = sync or (lambda: None)

    @property
    def begin_step(self):
        return getattr(self.base_schedule, "begin_step", None)

    @property
    def end_step(self):
        return getattr(self.base_schedule, "end_step", None)

    @property
    def frequency(self):
        return getattr(self.base_schedule, "frequency", None)

    def at(self, step: int) -> tuple[bool, float]:
        """``(should_prune and not frozen, sparsity or the driven target)`` at ``step``."""
        self.sync()
        if bool(np.asarray(self.frozen.numpy())):
            return False, 0.0
        should, sparsity = target_sparsity(self.base_schedule, step)
        driven = float(np.asarray(self.target.numpy()))
        return should, (driven if driven >= 0.0 else sparsity)

    def set_target(self, sparsity: float) -> None:
        sparsity = float(sparsity)
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f"set_target: sparsity must be in [0, 1), got {sparsity}.")
        self.sync()
        self.target.assign(sparsity)

    def follow_schedule(self) -> None:
        self.sync()
        self.target.assign(-1.0)

    @property
    def driven_target(self) -> float | None:
        self.sync()
        value = float(np.asarray(self.target.numpy()))
        return value if value >= 0.0 else None

    def freeze(self) -> None:
        self.sync()
        self.frozen.assign(True)

    def unfreeze(self) -> None:
        self.sync()
        self.frozen.assign(False)

    @property
    def is_frozen(self) -> bool:
        self.sync()
        return bool(np.asarray(self.frozen.numpy()))

    def __repr__(self) -> str:
        return f"ScheduleState({self.base_schedule!r})"
