"""Helpers shared by the command-line sub-commands."""

from __future__ import annotations

import importlib
from pathlib import Path

from tf_expander_pruning.core.keras_compat import keras


def custom_objects() -> dict:
    """Keras custom objects of this package (schedules, pruning wrappers) and TF-MOT's."""
    # TF-MOT's public API does not export the wrapper class (``tfmot.sparsity.keras`` has no
    # ``PruneLowMagnitude``: asking for it raised AttributeError and broke every load).
    from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
        PruneLowMagnitude,
    )

    objects = {"PruneLowMagnitude": PruneLowMagnitude}
    for module_name in ("pruning.schedules", "pruning"):  # importing registers them
        importlib.import_module(f"tf_expander_pruning.{module_name}")
    objects.update(keras.utils.get_custom_objects())
    return objects


def load_model(path: str | Path):
    """Load a ``.keras``, ``.h5`` or SavedModel directory, pruning wrappers included.

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: the file exists but is not a loadable Keras model (corrupted, truncated,
            or saved by Keras 3).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model at {str(path)!r}.")
    if path.is_file() and path.suffix not in (".keras", ".h5", ".hdf5"):
        raise ValueError(
            f"{str(path)!r}: expected a .keras or .h5 file or a SavedModel directory."
        )
    import tensorflow_model_optimization as tfmot

    # Built outside the try below: a fault of ours must not be reported as a corrupted file.
    objects = custom_objects()
    try:
        # prune_scope registers TF-MOT's wrapper only thread-locally, so load inside it.
        with tfmot.sparsity.keras.prune_scope(), keras.utils.custom_object_scope(objects):
            return keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad file; say what it means
        raise ValueError(
            f"Could not load a Keras model from {str(path)!r} ({type(error).__name__}: "
            f"{error}). Is the file complete, and was it saved with tf_keras (Keras 2)?"
        ) from error
