"""Walking a Keras model's layers and measuring masks: facts every layer of the package shares.

Duck-typed (a nested model is any layer with ``.layers``), so it works on Keras 2 and Keras 3
models and needs no TensorFlow import of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["all_layers", "mask_sparsity"]


def all_layers(model) -> Iterator:
    """Every layer of ``model`` in order, descending into nested models (depth first)."""
    for layer in model.layers:
        yield layer
        if isinstance(getattr(layer, "layers", None), (list, tuple)) and hasattr(layer, "inputs"):
            yield from all_layers(layer)


def mask_sparsity(mask) -> float:
    """Fraction of the entries of ``mask`` (array-like) that are zero: the pruned connections."""
    mask = np.asarray(mask)
    if mask.size == 0:
        raise ValueError("mask_sparsity: the mask is empty.")
    return 1.0 - float(np.count_nonzero(mask)) / mask.size
