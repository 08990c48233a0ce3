"""Reading a model file saved by Keras 3 for analysis (``tf-expander inspect``).

Keras 3 (``import keras``, the default Keras since TF 2.16) writes ``.keras`` archives that
tf_keras cannot load.  Analysis needs only the weights and the layer structure, which Keras 3
itself reads; pruning still needs a tf_keras model.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

__all__ = ["saved_keras_version", "load_keras3_model"]


def saved_keras_version(path: str | os.PathLike) -> str | None:
    """The Keras version that wrote ``path`` (a ``.keras`` archive or ``.h5`` file), or ``None``
    when it cannot be told (a SavedModel directory, another file, a damaged archive)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return None
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                metadata = json.loads(archive.read("metadata.json"))
        except (KeyError, ValueError, OSError, zipfile.BadZipFile):
            return None
        version = metadata.get("keras_version")
        return str(version) if version is not None else None
    if path.endswith((".h5", ".hdf5")):
        return _h5_keras_version(path)
    return None


def _h5_keras_version(path: str) -> str | None:
    try:
        import h5py

        with h5py.File(path, "r") as handle:
            version = handle.attrs.get("keras_version")
    except (ImportError, OSError):
        return None
    if isinstance(version, bytes):
        version = version.decode()
    return str(version) if version is not None else None


def load_keras3_model(path: str | os.PathLike) -> Any:
    """Load a model saved by Keras 3 with Keras 3 (``compile=False``).

    Raises:
        ValueError: Keras 3 is not installed, or it cannot load the file.
    """
    try:
        import keras
    except ImportError as error:
        raise ValueError(
            f"{os.fspath(path)!r} was saved by Keras 3, which is not installed here "
            "(`pip install keras>=3`)."
        ) from error
    if not str(getattr(keras, "__version__", "")).startswith("3"):
        raise ValueError(
            f"{os.fspath(path)!r} was saved by Keras 3, but `import keras` gives Keras "
            f"{keras.__version__}."
        )
    try:
        return keras.saving.load_model(os.fspath(path), compile=False)
    except Exception as error:  # Keras raises many types for a bad file; say what it means
        raise ValueError(
            f"Could not load a Keras model from {os.fspath(path)!r} with Keras 3 "
            f"({type(error).__name__}: {error})."
        ) from error
