"""One brain, two adapters: the small interface between the constraint and a pruned model.

Every decision (which matrix to check, the verdicts, the guard, the knee search, rollback,
history, summary) lives once, in :mod:`tf_expander_pruning.constraint`.  What differs between
Keras 2 + TF-MOT and Keras 3 is only how a matrix's mask and weights are read and written and
when a pruning step happens.  That difference is this interface, implemented twice:

* Keras 2 (``tf_keras`` + TF-MOT): :class:`~tf_expander_pruning.pruning.recurrent.PrunedWeight`
  over the variables of a TF-MOT ``PruneLowMagnitude`` subclass, and
  :mod:`tf_expander_pruning.pruning.keras2_adapter` for the model;
* Keras 3 (any backend): :class:`~tf_expander_pruning.pruning.keras3.wrapper.PrunedMatrix3` over
  the ``keras.Variable`` state of a Keras 3 wrapper layer, and
  :mod:`tf_expander_pruning.pruning.keras3.adapter` for the model.

The constraint reads and writes a matrix only through :class:`PrunedMatrix` and a model only
through :class:`ModelAdapter` (from :func:`adapter_for`); it never touches a variable itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from tf_expander_pruning.core.cells import cell_kind
from tf_expander_pruning.core.layers import keras_generation

__all__ = [
    "PrunedMatrix", "MatrixFacts", "ScheduleControl", "ModelAdapter", "adapter_for", "adapter_of",
    "MISSING_UPDATE_STEP", "entries_of", "no_entries_hint",
]

MISSING_UPDATE_STEP = (
    "RamanujanConstraint needs the UpdatePruningStep callback, which was not run: "
    "model.fit(..., callbacks=[tf_expander_pruning.UpdatePruningStep(), RamanujanConstraint()]) "
    "(for Keras 2, tfmot.sparsity.keras.UpdatePruningStep() works too)."
)


def no_entries_hint(wrappers: Sequence[Any], roles: Sequence[str], plain: Sequence[str] = ()
                    ) -> str:
    """How to fix a model with no pruned matrix in ``roles``."""
    if wrappers:
        return (
            f"the pruned layers {[layer.name for layer in wrappers]} prune none of the checked "
            f"roles {list(roles)}; pass matching `roles` to RamanujanConstraint."
        )
    if plain:
        return (
            f"layers {list(plain)} are wrapped by TF-MOT's prune_low_magnitude, which drives all "
            "of a layer's weights from one schedule and cannot freeze them one by one. Prune the "
            "dense model with tf_expander_pruning.prune_rnn instead."
        )
    return (
        "prune the model first: model = prune_rnn(model, GeometricSchedule()) "
        "(SimpleRNN/LSTM/GRU/Bidirectional layers)."
    )


def entries_of(wrappers: Sequence[Any], roles: Sequence[str], plain: Sequence[str] = ()
               ) -> list[Any]:
    """The pruned matrices in ``roles`` of built ``wrappers``; a clear error otherwise."""
    unbuilt = [layer.name for layer in wrappers if not layer.built]
    if unbuilt:
        raise ValueError(
            f"RamanujanConstraint: the pruned layers {unbuilt} are not built. Give the model an "
            "input shape (keras.Input(...) or input_shape=...) or call model.build(input_shape) "
            "before fit."
        )
    entries = [p for w in wrappers for p in w.pruned_weights if p.role in roles]
    if not entries:
        hint = no_entries_hint(wrappers, roles, plain)
        raise ValueError(f"RamanujanConstraint: model has no pruned recurrent layer: {hint}")
    return entries


class MatrixFacts:
    """Names every adapter record shares (it has ``layer``, ``role`` and ``cell`` fields)."""

    @property
    def cell_type(self) -> str:
        kind = cell_kind(self.cell)
        return kind.cell if kind is not None else type(self.cell).__name__

    @property
    def gates(self) -> tuple[str, ...]:
        """Gate letters (empty for SimpleRNN): gate ``k`` is columns ``[k*units, (k+1)*units)``."""
        kind = cell_kind(self.cell)
        return kind.gate_letters if kind is not None else ()

    @property
    def name(self) -> str:
        return f"{self.layer}/{self.role}"


class ScheduleControl(Protocol):
    """The schedule of one matrix as the constraint drives it (``entry.schedule``)."""

    base_schedule: Any  # the TF-MOT PruningSchedule: begin_step, end_step, frequency

    def set_target(self, sparsity: float) -> None: ...  # later updates prune to this sparsity
    def follow_schedule(self) -> None: ...  # let the base schedule choose again


class PrunedMatrix(Protocol):
    """One pruned weight matrix (``W_xh`` or ``W_hh`` of one direction of one layer).

    Attributes: ``layer`` (report path, ``"lstm"``, ``"bi/forward"``), ``role``, ``direction``,
    ``cell`` (the Keras cell: ``cell.units``), ``wrapper`` (the layer that prunes it),
    ``index`` (its place in the wrapper), ``schedule`` (:class:`ScheduleControl`), ``name``
    (``"lstm/W_hh"``), ``gates``, ``cell_type``.
    """

    layer: str
    role: str
    wrapper: Any
    schedule: ScheduleControl

    # reads (NumPy values; a mask is a bool array)
    def mask_array(self) -> np.ndarray: ...
    def good_mask_array(self) -> np.ndarray: ...
    def weight_array(self) -> np.ndarray: ...
    def is_frozen(self) -> bool: ...
    def frozen_step_value(self) -> int: ...
    def update_count(self) -> int: ...

    # writes
    def set_mask(self, keep: np.ndarray) -> None:
        """Make ``keep`` the mask and the rollback point; zero the weights it removes."""

    def keep_as_good(self) -> None:
        """The current mask becomes the rollback point (``good_mask``)."""

    def revert_to_good(self) -> None:
        """The mask becomes the rollback point again (weights untouched)."""

    def mark_frozen(self, step: int) -> None:
        """Set the frozen flag (no further mask updates) and the step it froze at."""


class ModelAdapter(Protocol):
    """What the constraint needs of a whole pruned model."""

    generation: int  # 2 or 3

    def checked_entries(self, model, roles: Sequence[str]) -> list[PrunedMatrix]: ...
    def pruned_weights(self, model) -> list[PrunedMatrix]: ...
    def pruning_step(self, entries: Sequence[PrunedMatrix]) -> int: ...
    def steps_per_execution(self, model) -> int: ...
    def trainable_values(self, model) -> list[np.ndarray]: ...
    def restore_trainable(self, model, values: Sequence[np.ndarray]) -> None: ...
    def check_step_callback(self, entries: Sequence[PrunedMatrix],
                            siblings: list[Any] | None) -> None: ...


def adapter_of(obj: Any) -> ModelAdapter:
    """The adapter of the Keras ``obj`` (a model, a layer, a wrapper) belongs to."""
    if keras_generation(obj) == 3:
        from tf_expander_pruning.pruning.keras3.adapter import KERAS3

        return KERAS3
    from tf_expander_pruning.pruning.keras2_adapter import KERAS2

    return KERAS2


def adapter_for(model: Any, argument: str = "model") -> ModelAdapter:
    """The adapter of ``model``'s Keras (2: TF-MOT, 3: Keras 3); a ``TypeError`` otherwise."""
    adapter = adapter_of(model)
    if adapter.generation == 2:
        adapter.check(model, argument)  # a helpful TypeError for anything that is not Keras 2
    return adapter
