"""``UpdatePruningStep``: the one step callback for both Keras.

For a Keras 2 model it *is* TF-MOT's ``UpdatePruningStep`` (a subclass that changes nothing);
for a Keras 3 model it hands every hook to
:class:`~tf_expander_pruning.pruning.keras3.step.Keras3PruningStep`, which counts the step and
updates the masks on schedule.  The choice is made in ``set_model``, when Keras hands the
callback its model.
"""

from __future__ import annotations

from tf_expander_pruning.core.layers import keras_generation

# isort: split
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_callbacks import (
    UpdatePruningStep as TfmotUpdatePruningStep,
)

__all__ = ["UpdatePruningStep"]


class UpdatePruningStep(TfmotUpdatePruningStep):
    """Advance the pruning step of every pruned layer and update masks on schedule.

    Pass it to ``model.fit(callbacks=[...])`` of any model from
    :func:`~tf_expander_pruning.pruning.prune_rnn`, Keras 2 or Keras 3 (TensorFlow, JAX or
    PyTorch backend).  For Keras 2 it behaves exactly as ``tfmot.sparsity.keras.
    UpdatePruningStep``.
    """

    is_update_pruning_step = True

    def __init__(self) -> None:
        super().__init__()
        self._keras3 = None

    def set_model(self, model) -> None:
        if keras_generation(model) == 3:
            if self._keras3 is None:
                from tf_expander_pruning.pruning.keras3.step import Keras3PruningStep

                self._keras3 = Keras3PruningStep()
            self._keras3.set_model(model)
            self.model = model
            return
        self._keras3 = None
        super().set_model(model)

    def set_params(self, params) -> None:
        super().set_params(params)
        if self._keras3 is not None:
            self._keras3.set_params(params)

    def on_train_begin(self, logs=None) -> None:
        if self._keras3 is not None:
            return self._keras3.on_train_begin(logs)
        return super().on_train_begin(logs)

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if self._keras3 is not None:
            return self._keras3.on_train_batch_begin(batch, logs)
        return super().on_train_batch_begin(batch, logs)

    def on_epoch_end(self, batch, logs=None) -> None:
        if self._keras3 is not None:
            return self._keras3.on_epoch_end(batch, logs)
        return super().on_epoch_end(batch, logs)

    def on_train_end(self, logs=None) -> None:
        if self._keras3 is not None:
            return self._keras3.on_train_end(logs)
        return super().on_train_end(logs)
