"""The Keras 3 side of :mod:`~tf_expander_pruning.pruning.adapter`: a model of Keras 3
:class:`~.wrapper.PruneRecurrent` wrappers, stepped by ``UpdatePruningStep`` (a callback that
counts steps in Python and updates masks between steps)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_expander_pruning.core.layers import all_layers
from tf_expander_pruning.pruning.adapter import MISSING_UPDATE_STEP, entries_of
from tf_expander_pruning.pruning.keras3.model_ops import model_sync, pruned_weights
from tf_expander_pruning.pruning.keras3.wrapper import PrunedMatrix3, PruneRecurrent

__all__ = ["KERAS3", "Keras3Adapter"]


class Keras3Adapter:
    """Reads and writes a Keras 3 model pruned by :func:`prune_rnn` (any backend)."""

    generation = 3

    def checked_entries(self, model, roles: Sequence[str]) -> list[PrunedMatrix3]:
        wrappers = [layer for layer in all_layers(model) if isinstance(layer, PruneRecurrent)]
        entries_of(wrappers, roles)  # a clear error for none or unbuilt
        return [entry for entry in pruned_weights(model) if entry.role in roles]

    def pruned_weights(self, model) -> list[PrunedMatrix3]:
        return pruned_weights(model)

    def pruning_step(self, entries: Sequence[PrunedMatrix3]) -> int:
        wrappers = {id(e.wrapper): e.wrapper for e in entries}
        if any(w.current_step is None for w in wrappers.values()):
            entries[0].sync()
        return max(w.step_value() for w in wrappers.values())

    def steps_per_execution(self, model) -> int:
        return max(1, int(getattr(model, "steps_per_execution", 1) or 1))

    def trainable_values(self, model) -> list[np.ndarray]:
        model_sync(model)()
        return [np.array(v.numpy()) for v in model.trainable_weights]

    def restore_trainable(self, model, values: Sequence[np.ndarray]) -> None:
        model_sync(model)()
        for variable, value in zip(model.trainable_weights, values, strict=True):
            variable.assign(value)

    def subscribe(self, model, listener) -> None:
        """Tell ``listener`` about every mask update of ``model`` (see :mod:`.step`)."""
        for layer in all_layers(model):
            if isinstance(layer, PruneRecurrent) and listener not in layer.listeners:
                layer.listeners.append(listener)

    def unsubscribe(self, model, listener) -> None:
        for layer in all_layers(model):
            if isinstance(layer, PruneRecurrent) and listener in layer.listeners:
                layer.listeners.remove(listener)

    def check_step_callback(self, entries: Sequence[PrunedMatrix3],
                            siblings: list[Any] | None) -> None:
        wrappers = {id(e.wrapper): e.wrapper for e in entries}
        entries[0].sync()
        if any(int(np.asarray(w.pruning_step.numpy())) < 0 for w in wrappers.values()):
            raise ValueError(MISSING_UPDATE_STEP)
        if siblings is not None and not any(
                getattr(c, "is_update_pruning_step", False) for c in siblings):
            raise ValueError(
                MISSING_UPDATE_STEP + " (This model was resumed from a saved pruning step; "
                "without the callback its masks are not updated.)")


KERAS3 = Keras3Adapter()
