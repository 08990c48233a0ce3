"""The one place that decides which Keras this package uses: Keras 2 (``tf_keras``).

TF-MOT only works with Keras 2.  ``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is
imported so that ``tf.keras`` resolves to ``tf_keras`` too; importing this module does that.
Every public function that accepts a model calls :func:`check_model` so a Keras 3 model fails
early with an explanation instead of deep inside TF-MOT.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from tf_expander_pruning.core.layers import keras_generation  # noqa: E402

__all__ = ["tf", "keras", "tfmot", "check_model", "check_layer", "KERAS3_HINT"]

KERAS3_HINT = (
    "tf_expander_pruning works with Keras 2 models (the `tf_keras` package), because "
    "TensorFlow Model Optimization does. Build the model with `import tf_keras as keras` "
    "(or `from tf_expander_pruning import keras`), or set the environment variable "
    "TF_USE_LEGACY_KERAS=1 before TensorFlow is first imported and use `tf.keras`. "
    "(Analysis alone, `weight_graphs`, `summary` and `tf-expander inspect`, reads Keras 3 "
    "models as they are.)"
)


def _tfmot():
    import tensorflow_model_optimization as _tfmot_module

    return _tfmot_module


class _LazyTfmot:
    """Defers importing TF-MOT (slow) until it is used."""

    def __getattr__(self, name):
        return getattr(_tfmot(), name)


tfmot = _LazyTfmot()


def check_model(model: Any, argument: str = "model") -> keras.Model:
    """Return ``model`` if it is a tf_keras model; raise a helpful ``TypeError`` otherwise."""
    if isinstance(model, keras.Model):
        return model
    if keras_generation(model) == 3:
        raise TypeError(
            f"`{argument}` is a Keras 3 object ({type(model).__module__}.{type(model).__name__}). "
            + KERAS3_HINT
        )
    raise TypeError(
        f"`{argument}` must be a tf_keras Model, got {type(model).__name__}. " + KERAS3_HINT
    )


def check_layer(layer: Any, argument: str = "layer") -> keras.layers.Layer:
    """Return ``layer`` if it is a tf_keras layer; raise a helpful ``TypeError`` otherwise."""
    if isinstance(layer, keras.layers.Layer):
        return layer
    if keras_generation(layer) == 3:
        raise TypeError(
            f"`{argument}` is a Keras 3 layer ({type(layer).__name__}). " + KERAS3_HINT
        )
    raise TypeError(f"`{argument}` must be a tf_keras layer, got {type(layer).__name__}.")
