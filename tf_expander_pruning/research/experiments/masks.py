"""Masks of the curves experiment: magnitude and random pruning of the kept weights, and a Keras
callback that holds masks fixed during fine-tuning."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["magnitude_prune", "random_prune", "MaskCallback"]


def _remove_kept(mask: np.ndarray, fraction: float, choose) -> np.ndarray:
    """float32 copy of ``mask`` with ``round(fraction * kept)`` kept entries set to 0.

    ``choose(kept, count)`` picks which of the flat indices ``kept`` to remove.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"`fraction` must be in [0, 1], got {fraction!r}.")
    kept = np.flatnonzero(mask.reshape(-1))
    count = int(round(fraction * kept.size))
    new = mask.reshape(-1).astype(np.float32).copy()
    if count:
        new[choose(kept, count)] = 0.0
    return new.reshape(mask.shape)


def magnitude_prune(weight: np.ndarray, mask: np.ndarray, fraction: float) -> np.ndarray:
    """New mask with ``round(fraction * remaining)`` more entries removed, smallest ``|w|`` first.

    Args:
        weight: weight matrix, any shape.
        mask: 0/1 array of the same shape (1 = kept).
        fraction: share of the currently kept entries to remove, in [0, 1].

    Ties are broken by position (stable sort), so the result is deterministic.
    """
    weight = np.asarray(weight)
    mask = np.asarray(mask)
    if weight.shape != mask.shape:
        raise ValueError(f"`mask` shape {mask.shape} != `weight` shape {weight.shape}.")
    magnitudes = np.abs(weight.reshape(-1))
    return _remove_kept(
        mask, fraction,
        lambda kept, count: kept[np.argsort(magnitudes[kept], kind="stable")[:count]],
    )


def random_prune(mask: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """New mask with ``round(fraction * remaining)`` kept entries removed uniformly at random."""
    return _remove_kept(
        np.asarray(mask), fraction,
        lambda kept, count: rng.choice(kept, size=count, replace=False),
    )


class MaskCallback:
    """Keras callback factory holding fixed masks: weights are multiplied by their mask before
    training and after every batch, so pruned weights stay exactly zero during fine-tuning.

    Build with ``MaskCallback.create(variables)`` where ``variables`` maps a name to a
    ``tf.Variable``; set masks with ``callback.set_mask(name, array)``.  Masks live in
    ``tf.Variable`` s so changing them does not retrace the training function.
    """

    @staticmethod
    def create(variables: dict[str, Any]):
        """Return a ``keras.callbacks.Callback`` with all-ones masks for ``variables``."""
        from tf_expander_pruning.core.keras_compat import keras, tf


        class _Masks(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.variables = dict(variables)
                self.masks = {
                    name: tf.Variable(tf.ones_like(var), trainable=False, name=f"mask_{name}")
                    for name, var in self.variables.items()
                }

            def set_mask(self, name: str, mask: np.ndarray) -> None:
                self.masks[name].assign(np.asarray(mask, np.float32))
                self.apply()

            def mask(self, name: str) -> np.ndarray:
                return self.masks[name].numpy()

            def apply(self) -> None:
                for name, var in self.variables.items():
                    var.assign(var * self.masks[name])

            def on_train_begin(self, logs=None):
                self.apply()

            def on_train_batch_end(self, batch, logs=None):
                # Adam's moments would otherwise revive pruned weights after every step.
                self.apply()

        return _Masks()
