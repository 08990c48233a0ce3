"""Full-int8 TFLite conversion of a SavedModel (TensorFlow and NumPy only).

``export.to_tflite`` runs this file as a script in a child process (``runpy``, so this package,
its tf_keras and TF-MOT imports are not loaded there, and a converter crash only kills the
child), or calls :func:`convert_int8` in-process with ``isolate=False``: one set of converter
settings for both.

    python int8_child.py SAVED_MODEL REPRESENTATIVE.npy|.npz OUT.tflite [int8|int16]
    python int8_child.py --serve PREFIX     # requests on stdin, see converter_service.py

A ``.npy`` holds calibration samples for a one-input signature; a ``.npz`` holds one array per
signature input name (a streaming step model: ``x_t`` and the states).
"""

from __future__ import annotations

import sys

import numpy as np
import tensorflow as tf


def convert_int8(saved_model: str, representative, activations: str = "int8") -> bytes:
    """Flatbuffer of ``saved_model`` with int8 weights, activations, inputs and outputs.

    ``representative``: calibration samples, shape ``(n, *input_shape)`` (the serving signature's
    batch axis included), or a dict ``{input name: (n, *shape)}`` for a several-input signature.
    ``activations="int16"``: TFLite's 16x8 mode instead (int8 weights; int16 activations,
    inputs and outputs), which the streaming step model uses for its states.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if isinstance(representative, dict):
        count = len(next(iter(representative.values())))
        converter.representative_dataset = lambda: (
            {name: values[i] for name, values in representative.items()} for i in range(count)
        )
    else:
        converter.representative_dataset = lambda: ([sample] for sample in representative)
    if activations == "int16":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    integer = tf.int16 if activations == "int16" else tf.int8
    converter.inference_input_type = integer
    converter.inference_output_type = integer
    return bytes(converter.convert())


def _load(path: str):
    loaded = np.load(path)
    if path.endswith(".npz"):
        return {name: loaded[name] for name in loaded.files}
    return loaded


def _convert_to_file(saved_model: str, representative_path: str, out_path: str,
                     activations: str = "int8") -> None:
    with open(out_path, "wb") as handle:
        handle.write(convert_int8(saved_model, _load(representative_path), activations))


def _serve(prefix: str) -> None:
    """Answer requests until stdin closes: one JSON line ``[saved, rep, out]`` each, one reply
    line starting with ``prefix`` (``converter_service.REPLY_PREFIX``, given on the command line
    because this file imports no package)."""
    import json
    import traceback

    for line in sys.stdin:
        try:
            _convert_to_file(*json.loads(line))
            reply = {"ok": True}
        except Exception:  # any converter error goes back to the caller as text
            reply = {"ok": False, "error": traceback.format_exc()}
        sys.stdout.write(prefix + json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        _serve(sys.argv[2])
    else:
        _convert_to_file(*sys.argv[1:5])
