"""The Keras 2 + TF-MOT side of :mod:`~tf_expander_pruning.pruning.adapter`: a model of
:class:`~tf_expander_pruning.pruning.recurrent.PruneRecurrent` wrappers, stepped by TF-MOT's
``UpdatePruningStep`` (the step advances in the traced train step, masks update in-graph)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_expander_pruning.core.keras_compat import check_model
from tf_expander_pruning.core.layers import all_layers
from tf_expander_pruning.pruning.adapter import MISSING_UPDATE_STEP, entries_of
from tf_expander_pruning.pruning.model_ops import pruned_weights
from tf_expander_pruning.pruning.recurrent import PrunedWeight, PruneRecurrent
from tf_expander_pruning.pruning.tfmot_adapter import PruneLowMagnitude

# isort: split
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_callbacks import (
    UpdatePruningStep as TfmotUpdatePruningStep,
)

__all__ = ["KERAS2", "Keras2Adapter", "is_step_callback"]

class Keras2Adapter:
    """Reads and writes a tf_keras model pruned by :func:`prune_rnn` (TF-MOT wrappers)."""

    generation = 2

    @staticmethod
    def check(model, argument: str = "model"):
        return check_model(model, argument)

    def checked_entries(self, model, roles: Sequence[str]) -> list[PrunedWeight]:
        layers = list(all_layers(model))
        wrappers = [layer for layer in layers if isinstance(layer, PruneRecurrent)]
        plain = [layer.name for layer in layers
                 if isinstance(layer, PruneLowMagnitude) and not isinstance(layer, PruneRecurrent)]
        return entries_of(wrappers, roles, plain)

    def pruned_weights(self, model) -> list[PrunedWeight]:
        return pruned_weights(model)

    def pruning_step(self, entries: Sequence[PrunedWeight]) -> int:
        """The wrappers' pruning step (they advance together): optimizer steps so far."""
        wrappers = {id(e.wrapper): e.wrapper for e in entries}
        return max(int(w.pruning_step.numpy()) for w in wrappers.values())

    def steps_per_execution(self, model) -> int:
        steps = getattr(model, "_steps_per_execution", None)
        return int(steps.numpy()) if steps is not None else 1

    def trainable_values(self, model) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in model.trainable_weights]

    def restore_trainable(self, model, values: Sequence[np.ndarray]) -> None:
        for variable, value in zip(model.trainable_weights, values, strict=True):
            variable.assign(value)

    def check_step_callback(self, entries: Sequence[PrunedWeight],
                            siblings: list[Any] | None) -> None:
        """Raise when ``UpdatePruningStep`` is missing, for a new model and a resumed one.

        A new model's ``pruning_step`` is still -1 at the first batch.  A resumed model's step is
        already >= 0, so the step cannot tell; the fit's callback list can.
        """
        wrappers = {id(e.wrapper): e.wrapper for e in entries}
        if any(int(w.pruning_step.numpy()) < 0 for w in wrappers.values()):
            raise ValueError(MISSING_UPDATE_STEP)
        if siblings is not None and not any(is_step_callback(c) for c in siblings):
            raise ValueError(
                MISSING_UPDATE_STEP + " (This model was resumed from a saved pruning step; "
                "without the callback its weights are not re-masked at epoch ends.)"
            )


def is_step_callback(callback: Any) -> bool:
    """TF-MOT's ``UpdatePruningStep`` or ours (which delegates to it for Keras 2)."""
    return isinstance(callback, TfmotUpdatePruningStep) or getattr(
        callback, "is_update_pruning_step", False)


KERAS2 = Keras2Adapter()
