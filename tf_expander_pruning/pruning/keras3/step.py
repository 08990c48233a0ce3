"""When a step happens on Keras 3: the callback that counts optimizer steps and updates masks.

TF-MOT advances its pruning step and updates masks inside the traced train step.  On Keras 3
the step is counted in Python (the wrappers' saved ``pruning_step`` at the start of the fit, 0
for a new model as TF-MOT sets it, plus one per optimizer step; the wrappers' ``current_step``
holds it during the fit and the variable is written at mask updates and epoch ends) and,
before the batch whose step a schedule fires at, the masks are updated from here (TF-MOT's
timing: the update of step ``s`` happens at the start of batch ``s``, which trains with the new
mask).  Batches at which no schedule can fire cost a little arithmetic and
touch no variable, which matters on JAX, where reading a variable mid-epoch copies the whole
state back from the jitted train step.
"""

from __future__ import annotations

import keras
import numpy as np

from tf_expander_pruning.core.layers import all_layers
from tf_expander_pruning.pruning.keras3.schedule import is_turn, step_rule
from tf_expander_pruning.pruning.keras3.wrapper import PruneRecurrent

__all__ = ["Keras3PruningStep"]


class Keras3PruningStep(keras.callbacks.Callback):
    """Counts the pruning step and runs the schedules' mask updates for a Keras 3 fit."""

    def __init__(self) -> None:
        super().__init__()
        self.step = 0
        self.wrappers: list[PruneRecurrent] = []
        self.rules: list = []

    def on_train_begin(self, logs=None) -> None:
        model = self.model  # on JAX this attaches the state to the variables
        self.wrappers = [layer for layer in all_layers(model) if isinstance(layer, PruneRecurrent)]
        self.rules = [step_rule(r.schedule.base_schedule) for w in self.wrappers
                      for r in w.matrices()]
        saved = [int(np.asarray(w.pruning_step.numpy())) for w in self.wrappers]
        self.step = max(0, max(saved, default=0))  # a new model's -1 becomes 0, as in TF-MOT
        self._write_step()

    def _due(self, low: int, high: int) -> list[int]:
        """Steps in [low, high] at which some schedule may fire."""
        return [step for step in range(low, high + 1)
                if any(is_turn(rule, step) for rule in self.rules)]

    def on_train_batch_begin(self, batch, logs=None) -> None:
        # Only a batch-begin hook: Keras 3 then keeps dispatching batch ends asynchronously
        # (a batch-end hook makes it wait for every step).  With steps_per_execution > 1 one
        # hook covers that many optimizer steps.
        span = max(1, int(getattr(self._model, "steps_per_execution", 1) or 1))
        low, self.step = self.step + 1, self.step + span
        for wrapper in self.wrappers:  # the step this batch ends at, as TF-MOT's counter
            wrapper.current_step = self.step
        due = self._due(low, self.step)
        if not due:
            return
        self.model  # noqa: B018 - on JAX: attach the fit's state before writing variables
        listeners = {id(item): item for w in self.wrappers for item in w.listeners}.values()
        for listener in listeners:
            listener.before_mask_update()
        for step in due:
            for wrapper in self.wrappers:
                wrapper.update_masks(step)
        for wrapper in self.wrappers:
            wrapper.pruning_step.assign(self.step)
        for listener in listeners:
            listener.after_mask_update(self.step)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.model  # noqa: B018
        self._write_step()

    def on_train_end(self, logs=None) -> None:
        self.model  # noqa: B018
        self._write_step()
        for wrapper in self.wrappers:
            wrapper.current_step = None  # from here on the variable holds the step

    def _write_step(self) -> None:
        for wrapper in self.wrappers:
            wrapper.pruning_step.assign(self.step)
            wrapper.current_step = self.step
