"""Walking a Keras model's layers and measuring masks: facts every layer of the package shares.

Duck-typed (a nested model is any layer with ``.layers``), so it works on Keras 2 and Keras 3
models and needs no TensorFlow import of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["all_layers", "mask_sparsity", "class_names", "keras_generation", "is_keras_model"]


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


def class_names(obj) -> tuple[str, ...]:
    """Names of the classes along ``type(obj)``'s MRO (how a Keras 2 or 3 class is recognised
    without importing either Keras)."""
    return tuple(base.__name__ for base in type(obj).__mro__)


def keras_generation(obj) -> int | None:
    """2 for a tf_keras (Keras 2) object, 3 for a Keras 3 one, ``None`` for anything else."""
    for base in type(obj).__mro__:
        module = base.__module__ or ""
        if module == "tf_keras" or module.startswith("tf_keras."):
            return 2
        if module == "keras" or module.startswith("keras."):
            return 3
    return None


def is_keras_model(obj) -> bool:
    """True for a Keras 2 or Keras 3 model (Sequential, functional or subclassed)."""
    return keras_generation(obj) is not None and "Model" in class_names(obj)
