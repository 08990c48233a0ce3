"""Full-int8 TFLite conversion of a SavedModel (TensorFlow and NumPy only).

``export.to_tflite`` runs this file as a script in a child process (``runpy``, so this package,
its tf_keras and TF-MOT imports are not loaded there, and a converter crash only kills the
child), or calls :func:`convert_int8` in-process with ``isolate=False``: one set of converter
settings for both.

    python _int8_convert.py SAVED_MODEL REPRESENTATIVE.npy OUT.tflite
"""

from __future__ import annotations

import sys

import numpy as np
import tensorflow as tf


def convert_int8(saved_model: str, representative: np.ndarray) -> bytes:
    """Flatbuffer of ``saved_model`` with int8 weights, activations, input and output.

    ``representative``: calibration samples, shape ``(n, *input_shape)`` with a batch axis
    of 1 per sample as the serving signature expects.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([sample] for sample in representative)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


if __name__ == "__main__":
    saved_model, representative_path, out_path = sys.argv[1:4]
    with open(out_path, "wb") as handle:
        handle.write(convert_int8(saved_model, np.load(representative_path)))
