"""The small recurrent classifier the demo and the tuner train: build, compile, score.

One recurrent layer (named after its cell key) and a dense output of logits, trained with Adam on
sparse categorical cross-entropy.  Shared so that the demo, the tuner and the tests build the very
same model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tf_expander_pruning.core.cells import kind_by_key
from tf_expander_pruning.core.keras_compat import keras

__all__ = ["recurrent_classifier", "compile_classifier", "accuracy"]


def recurrent_classifier(cell: str, units: int, *, input_shape: Sequence[int] | None = None,
                         classes: int = 10, name: str | None = None):
    """``[Input] -> <cell>(units) -> Dense(classes)`` as an uncompiled tf_keras ``Sequential``.

    Args:
        cell: ``"lstm"``, ``"gru"`` or ``"simplernn"`` (the layer is named after it).
        units: recurrent units.
        input_shape: ``(time, features)``; omitted, the model is built on its first call.
        classes: logits of the output layer (named ``"output"``).
        name: the model's name; default ``"<cell>_<units>"``.
    """
    kind = kind_by_key(cell)
    layer = getattr(keras.layers, kind.layer)
    stack = [keras.Input(tuple(input_shape))] if input_shape is not None else []
    stack += [layer(int(units), name=kind.key), keras.layers.Dense(int(classes), name="output")]
    return keras.Sequential(stack, name=name or f"{kind.key}_{int(units)}")


def compile_classifier(model, learning_rate: float = 3e-3):
    """Compile ``model`` (logits) with Adam and sparse categorical cross-entropy; returns it."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> float:
    """Fraction of ``x`` whose argmax logit is the label ``y``.

    Direct calls, not ``model.predict``: predict traces a new tf.function per model, and a search
    scores many models (TensorFlow then warns about retracing).
    """
    hits = 0
    for start in range(0, len(x), batch_size):
        logits = np.asarray(model(x[start:start + batch_size], training=False))
        hits += int(np.sum(np.argmax(logits, axis=-1) == y[start:start + batch_size]))
    return hits / len(x)
