"""The TFLite converter calls: a traced function to float32/dynamic/float16, a module to int8.

Full-int8 conversion goes through a SavedModel and :mod:`.int8_child`, in a child process by
default (one that lives on between conversions, :mod:`.converter_service`), because calibrating
a ``WHILE`` loop can segfault the converter.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from tf_expander_pruning.core.keras_compat import tf
from tf_expander_pruning.core.quantization import TFLITE_QUANTIZATIONS, normalize_quantization
from tf_expander_pruning.deployment.export.converter_service import convert_int8_in_child
from tf_expander_pruning.deployment.export.errors import ExportError
from tf_expander_pruning.deployment.export.flatbuffer import quantization_of

__all__ = ["QUANTIZATIONS", "check_quantization", "convert_concrete", "convert_int8_module",
           "convert_module", "serving_module"]

#: What ``to_tflite`` takes (:mod:`tf_expander_pruning.core.quantization` is the vocabulary).
QUANTIZATIONS = TFLITE_QUANTIZATIONS


def check_quantization(quantization, argument: str = "quantization") -> str:
    """The canonical spelling of a TFLite ``quantization`` (old spellings warn); ValueError
    naming ``argument`` unless it is one of :data:`QUANTIZATIONS`."""
    return normalize_quantization(quantization, argument, QUANTIZATIONS)


def serving_module(model, serve):
    """A ``tf.Module`` with ``serve`` and the variables of ``model``, and nothing else.

    The converter saves what it is given as a SavedModel.  Given the Keras model itself, the
    save also traces every layer's call functions for Keras serialization: measured 5-9 s for a
    Bidirectional LSTM(32), against 0.1-0.4 s with only the variables, for the same flatbuffer
    (``python benchmarks/conversion.py``).  The variables must be reachable from the root so
    that the functions can capture them.
    """
    module = tf.Module()
    module.model_variables = list(model.variables)
    module.serve = serve
    return module


def _float_converter(concrete, trackable, quantization):
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable)
    if quantization in ("dynamic", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter


def convert_concrete(concrete, trackable, quantization: str) -> bytes:
    """``"float32"``, ``"dynamic"`` or ``"float16"`` flatbuffer of a concrete function."""
    try:
        data = bytes(_float_converter(concrete, trackable, quantization).convert())
        if quantization == "dynamic" and quantization_of(data) == "float32":
            # The MLIR dynamic-range quantizer leaves the fused LSTM's weights in float
            # (measured: same bytes as float32).  The legacy quantizer stores them as int8
            # with DEQUANTIZE ops, which really shrinks the file (and runs in TFLM).
            # A converter object converts once: build a fresh one.
            converter = _float_converter(concrete, trackable, quantization)
            converter.experimental_new_dynamic_range_quantizer = False
            data = bytes(converter.convert())
        return data
    except Exception as error:  # the converter raises many types; say which step failed
        raise ExportError(
            f"TFLite conversion ({quantization}) failed: {error}"
        ) from error


def _save(module, folder: str) -> str:
    saved = os.path.join(folder, "saved_model")
    tf.saved_model.save(
        module, saved, signatures={"serving_default": module.serve.get_concrete_function()}
    )
    return saved


def convert_module(module, quantization: str, representative=None, *, hint: str = "",
                   isolate: bool = True) -> bytes:
    """Any quantisation of ``module.serve`` through a SavedModel (keeps the signature names).

    Used where the flatbuffer's input/output names matter (several inputs and outputs: the
    streaming and masked-sequence models).
    """
    if quantization == "int8":
        return convert_int8_module(module, representative, hint=hint, isolate=isolate)
    with tempfile.TemporaryDirectory(prefix="tfexp_sm_") as tmp:
        converter = tf.lite.TFLiteConverter.from_saved_model(_save(module, tmp))
        if quantization in ("dynamic", "float16"):
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        try:
            return bytes(converter.convert())
        except Exception as error:  # the converter raises many types; say which step failed
            raise ExportError(
                f"TFLite conversion ({quantization}) failed: {error}"
            ) from error


def convert_int8_module(module, representative, *, hint: str, isolate: bool,
                        activations: str = "int8") -> bytes:
    """Full-int8 flatbuffer of ``module.serve`` (a ``tf.function`` with an input signature).

    ``module`` must hold the model's variables so the SavedModel reaches them: build it with
    :func:`serving_module`.  ``representative`` is an array (one input) or ``{input name: array}``.
    ``activations="int16"``: TFLite's 16x8 mode (int8 weights, int16 activations and boundary
    tensors).
    """
    with tempfile.TemporaryDirectory(prefix="tfexp_int8_") as tmp:
        saved = _save(module, tmp)
        out_path = os.path.join(tmp, "model.tflite")
        if isinstance(representative, dict):
            rep_path = os.path.join(tmp, "rep.npz")
            np.savez(rep_path, **representative)
        else:
            rep_path = os.path.join(tmp, "rep.npy")
            np.save(rep_path, representative)
        if isolate:
            convert_int8_in_child(saved, rep_path, out_path, hint=hint, activations=activations)
            return Path(out_path).read_bytes()
        from tf_expander_pruning.deployment.export.int8_child import convert_int8

        return convert_int8(saved, representative, activations)
