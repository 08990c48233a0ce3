"""The small recurrent classifier the demo and the tuner train: build, compile, score.

One recurrent layer and a dense output (logits, or probabilities for the paper's experiments),
trained with Adam on sparse categorical cross-entropy.  Shared so that the demo, the tuner, keyword
spotting, the experiments and the tests build the very same model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tf_expander_pruning.core.cells import kind_by_key
from tf_expander_pruning.core.keras_compat import keras

__all__ = ["recurrent_classifier", "compile_classifier", "accuracy"]


def recurrent_classifier(cell: str, units: int, *, input_shape: Sequence[int] | None = None,
                         classes: int = 10, name: str | None = None,
                         layer_name: str | None = None, output_activation: str | None = None):
    """``[Input] -> <cell>(units) -> Dense(classes)`` as an uncompiled tf_keras ``Sequential``.

    The one small classifier of the package: the demo, the tuner, keyword spotting and the
    paper's experiments build it here.

    Args:
        cell: ``"lstm"``, ``"gru"`` or ``"simplernn"``.
        units: recurrent units.
        input_shape: ``(time, features)``; omitted, the model is built on its first call.
        classes: outputs of the dense layer (named ``"output"``).
        name: the model's name; default ``"<cell>_<units>"``.
        layer_name: the recurrent layer's name; default the cell key (the experiments use
            ``"rnn"``).
        output_activation: ``None`` for logits (the default), ``"softmax"`` for
            probabilities (the paper's experiments). :func:`compile_classifier` picks the
            matching loss.
    """
    kind = kind_by_key(cell)
    if output_activation not in (None, "softmax"):
        raise ValueError(f"`output_activation` must be None (logits) or 'softmax'; got "
                         f"{output_activation!r}.")
    layer = getattr(keras.layers, kind.layer)
    stack = [keras.Input(tuple(input_shape))] if input_shape is not None else []
    stack += [layer(int(units), name=layer_name or kind.key),
              keras.layers.Dense(int(classes), activation=output_activation, name="output")]
    return keras.Sequential(stack, name=name or f"{kind.key}_{int(units)}")


def compile_classifier(model, learning_rate: float = 3e-3):
    """Compile ``model`` with Adam and sparse categorical cross-entropy; returns it.

    The loss reads logits, or probabilities when the last layer ends in a softmax (a
    :func:`recurrent_classifier` with ``output_activation="softmax"``).
    """
    last = getattr(model.layers[-1], "layer", model.layers[-1])  # through a pruning wrapper
    probabilities = getattr(last, "activation", None) is keras.activations.softmax
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities),
                  metrics=["accuracy"])
    return model


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> float:
    """Fraction of ``x`` whose argmax output (logit or probability) is the label ``y``.

    Direct calls, not ``model.predict``: predict traces a new tf.function per model, and a search
    scores many models (TensorFlow then warns about retracing).
    """
    hits = 0
    for start in range(0, len(x), batch_size):
        logits = np.asarray(model(x[start:start + batch_size], training=False))
        hits += int(np.sum(np.argmax(logits, axis=-1) == y[start:start + batch_size]))
    return hits / len(x)
