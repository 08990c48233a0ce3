"""Freeze, roll back, and keep frozen: the state changes the callback makes on the wrappers.

All state lives in wrapper variables (``frozen``, ``frozen_step``, ``good_mask``, ``mask``), so
it is saved with the model; it is read and written only through the adapter records
(:class:`~tf_expander_pruning.pruning.adapter.PrunedMatrix`), the same for Keras 2 and 3.
The same variables are also *restored* by anything that restores weights
(``EarlyStopping(restore_best_weights=True)``, ``set_weights``, ``load_weights``), which could
silently undo a freeze; :class:`FreezeKeeper` remembers each freeze of the fit and puts it
back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tf_expander_pruning.core.layers import mask_sparsity
from tf_expander_pruning.pruning.adapter import PrunedMatrix

__all__ = ["FrozenState", "FreezeKeeper", "RestoreHooks", "apply_freeze", "set_mask"]


@dataclass
class FrozenState:
    """A matrix's freeze as the callback decided it: the kept mask, step and the test that
    stopped it (``"spectral"`` or ``"guard"``)."""

    mask: np.ndarray
    step: int
    stopped_by: str


def set_mask(entry: PrunedMatrix, keep: np.ndarray) -> None:
    """Make ``keep`` the matrix's mask (and rollback point) and zero the weights it removes."""
    entry.set_mask(keep)


def apply_freeze(entry: PrunedMatrix, step: int, keep: np.ndarray | None) -> None:
    """Set the frozen flag; with ``keep`` make it the mask (:func:`set_mask`), else freeze the
    current mask as it is."""
    entry.mark_frozen(step)
    if keep is not None:
        set_mask(entry, keep)
    else:
        entry.keep_as_good()


class FreezeKeeper:
    """Remembers every freeze of a fit and re-applies those a weight restore undid.

    ``enforce`` compares the model's flags and masks with what was decided; a matrix whose flag
    was cleared or whose mask differs gets its frozen state back, and is reported once per fit.
    A matrix the model says is frozen but the keeper does not know (a resumed run) is adopted.
    """

    def __init__(self, entries: Sequence[PrunedMatrix], say: Callable[[str], None]) -> None:
        self.entries = list(entries)
        self.say = say
        self.states: dict[int, FrozenState] = {}
        self.reported: set[int] = set()
        self.adopt()

    def adopt(self) -> set[int]:
        """Record matrices the model marks frozen; returns every frozen index."""
        for index, entry in enumerate(self.entries):
            if index not in self.states and entry.is_frozen():
                self.states[index] = FrozenState(
                    entry.mask_array(), entry.frozen_step_value(), "spectral",
                )
        return set(self.states)

    def remember(self, index: int, stopped_by: str | None = None) -> None:
        entry = self.entries[index]
        previous = self.states.get(index)
        self.states[index] = FrozenState(
            entry.mask_array(), entry.frozen_step_value(),
            stopped_by or (previous.stopped_by if previous else "spectral"),
        )

    def enforce(self, cause: str) -> list[str]:
        """Re-apply frozen states the model lost; returns the names of the matrices fixed."""
        fixed = []
        for index, state in self.states.items():
            entry = self.entries[index]
            mask = entry.mask_array()
            if entry.is_frozen() and np.array_equal(mask, state.mask):
                continue
            apply_freeze(entry, state.step, state.mask)
            fixed.append(entry.name)
            if index not in self.reported:
                self.reported.add(index)
                self.say(
                    f"{entry.name}: {cause} undid its freeze (flag or mask restored from "
                    f"before step {state.step}); the frozen mask (sparsity "
                    f"{mask_sparsity(state.mask):.2f}) was re-applied"
                )
        self.adopt()
        return fixed


class RestoreHooks:
    """Runs a callback after the model's ``set_weights`` / ``load_weights``.

    ``EarlyStopping(restore_best_weights=True)`` restores in its ``on_train_end``, which may run
    after this callback's own; wrapping the model's methods (on the instance, for this model
    only) catches a restore whatever the callback order.  The hooks stay until :meth:`remove`
    (the next fit of the same callback), so a restore right after ``fit`` is caught too.
    """

    _NAMES = ("set_weights", "load_weights")

    def __init__(self) -> None:
        self.model = None
        self.previous: dict[str, object] = {}

    def install(self, model, after_restore: Callable[[str], None]) -> None:
        self.remove()
        self.model = model
        for name in self._NAMES:
            self.previous[name] = model.__dict__.get(name)
            original = getattr(model, name)

            def wrapped(*args, _original=original, _name=name, **kwargs):
                result = _original(*args, **kwargs)
                after_restore(f"model.{_name}()")
                return result

            wrapped.__doc__ = original.__doc__
            object.__setattr__(model, name, wrapped)  # untracked: not a Keras attribute

    def remove(self) -> None:
        if self.model is None:
            return
        for name in self._NAMES:
            previous = self.previous.get(name)
            if previous is None:
                self.model.__dict__.pop(name, None)
            else:
                object.__setattr__(self.model, name, previous)
        self.model = None
        self.previous = {}
