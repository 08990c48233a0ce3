"""``to_tflite``: a (pruned) recurrent tf_keras model to a TFLite flatbuffer.

``TFLiteConverter.from_keras_model`` fails on recurrent models; a *fixed-shape* concrete function
converts (LSTM fuses to one ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op, GRU/SimpleRNN become a ``WHILE``
loop).  ``streaming=True`` converts a one-time-step model instead (:mod:`.streaming`).
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.core.keras_compat import tf
from tf_expander_pruning.core.validation import check_flag, check_int
from tf_expander_pruning.deployment.export import layer_forms, masking, preparation
from tf_expander_pruning.deployment.export.converter import (
    check_quantization,
    convert_concrete,
    convert_int8_module,
    serving_module,
)
from tf_expander_pruning.deployment.keras3_twin import as_keras2

__all__ = ["to_tflite", "representative_array", "prepared"]


def representative_array(representative_data, batch_size: int, input_shape) -> np.ndarray:
    """(n, batch, T, F) calibration samples from an array or ``(x, y)`` pair."""
    if isinstance(representative_data, tuple) and len(representative_data) == 2:
        representative_data = representative_data[0]
    try:
        data = np.asarray(representative_data)
        data = data if data.dtype.kind in "iu" else data.astype(np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(
            "`representative_data` must be an array of shape (samples, time, features) "
            "(or an (x, y) pair); got " + type(representative_data).__name__
        ) from error
    if data.ndim != len(input_shape) or list(data.shape[1:]) != list(input_shape[1:]):
        raise ValueError(
            f"`representative_data` has shape {data.shape}; expected (samples, "
            f"{', '.join(str(d) for d in input_shape[1:])}) to match the model input."
        )
    if len(data) == 0:
        raise ValueError("`representative_data` is empty; pass ~100 typical input samples.")
    data = data[:200]  # calibration needs ranges, not the whole set
    usable = (len(data) // batch_size) * batch_size or batch_size
    if len(data) < batch_size:
        data = np.concatenate([data] * (batch_size // len(data) + 1))
    return data[:usable].reshape(-1, batch_size, *data.shape[1:])


def prepared(model, representative_data, batch_size: int, *, unroll: bool,
             fixed_shape: bool = True, traced: bool | None = None):
    """``(model, input_shape)``: stripped, float32 if it was mixed precision, unrolled if asked,
    each recurrent layer in its export form (:mod:`.layer_forms`).

    ``fixed_shape=False`` (streaming: one step has no T) keeps unknown input dimensions.
    ``traced=False`` (default: ``fixed_shape``): the caller builds its own step graph from the
    weights (streaming, masks), so only ``stateful=True`` layers are rebuilt.
    """
    traced = fixed_shape if traced is None else traced
    model = preparation.strip(model)
    if fixed_shape:
        input_shape = preparation.input_spec(model, representative_data, batch_size)
    else:
        input_shape = [batch_size, *model.inputs[0].shape[1:]]
    float32 = bool(preparation.reduced_precision_layers(model))
    unroll = bool(unroll and preparation.loop_layer_names(model))
    if float32 or preparation.needs_rebuild(model, unroll=unroll, traced=traced):
        model = preparation.rebuilt(model, input_shape, unroll=unroll, float32=float32,
                                    traced=traced)
    return model, input_shape


def _int8_hint(model) -> str:
    loops = preparation.loop_layer_names(model)
    if loops:
        return (
            "Full-int8 calibration of the WHILE loop of " + ", ".join(loops) + " is a known "
            "TFLite converter crash. Fix: leave `unroll=None` (recurrent layers are rebuilt with "
            "unroll=True, same weights), or use streaming=True (SimpleRNN/LSTM/GRU) or "
            "quantization='float32' or 'dynamic'."
        )
    custom = [layer.name for layer in layer_forms.custom_cell_layers(model)]
    if custom:
        return (
            f"Layer(s) {', '.join(repr(name) for name in custom)} with a custom cell were "
            "unrolled for int8; if the converter still crashes on the cell's ops, use "
            "quantization='float32' or 'dynamic' (streaming=True takes SimpleRNN, LSTM and GRU "
            "cells only)."
        )
    return ("Try streaming=True (a one-step graph of plain ops) or quantization='float32' or "
            "'dynamic' to see whether the model converts at all.")


def _check_streaming(streaming) -> None:
    if streaming is not None and not isinstance(streaming, (bool, np.bool_)):
        raise TypeError("`streaming` must be True, False or None (None: True for a model with "
                        f"a stateful=True layer), got {streaming!r}.")


def _streaming(model, stateful: list[str], auto: bool, **options) -> bytes:
    """The streaming flatbuffer; for a stateful model chosen by ``streaming=None`` (``auto``),
    a model that cannot stream names the stateful layer and the whole-sequence way out."""
    from tf_expander_pruning.deployment.export.streaming import streaming_tflite

    model, _ = prepared(model, options["representative_data"], options["batch_size"],
                        unroll=False, fixed_shape=False)
    try:
        return streaming_tflite(model, **options)
    except ValueError as error:
        if not (auto and stateful):
            raise
        raise ValueError(
            f"Layer {stateful[0]!r} is stateful=True, so `to_tflite` exports the streaming step "
            "model (inputs x_t and the states, which the caller keeps between calls), and this "
            f"model cannot stream: {error} Way out: streaming=False exports the whole sequence "
            "of the same model made stateless (the state starts at zero on every invoke)."
        ) from error


def _whole_sequence(model, quantization, representative_data, batch_size: int,
                    unroll: bool, isolate: bool) -> bytes:
    """The fixed-shape ``[batch_size, T, F]`` flatbuffer of a model without masks."""
    model, input_shape = prepared(model, representative_data, batch_size, unroll=unroll)
    custom = [layer for layer in layer_forms.custom_cell_layers(model) if not layer.unroll]
    with layer_forms.unrolled(custom if unroll else []):
        dtype = model.inputs[0].dtype if not model.inputs[0].dtype.is_floating else tf.float32
        serve = tf.function(lambda x: model(x, training=False),
                            input_signature=[tf.TensorSpec(input_shape, dtype)])
        module = serving_module(model, serve)
        if quantization != "int8":
            return convert_concrete(serve.get_concrete_function(), module, quantization)
        rep = representative_array(representative_data, batch_size, input_shape)
        return convert_int8_module(module, rep, hint=_int8_hint(model), isolate=isolate)


def to_tflite(
    model,
    *,
    quantization: str = "float32",
    representative_data=None,
    batch_size: int = 1,
    unroll: bool | None = None,
    isolate: bool = True,
    streaming: bool | None = None,
) -> bytes:
    """Convert a (pruned) recurrent tf_keras model to a TFLite flatbuffer.

    Pruning wrappers are stripped first; a model built under ``mixed_float16`` is converted
    from a float32 copy (same weights).  The model is traced as a fixed-shape concrete function
    ``[batch_size, T, F]``, which converts SimpleRNN, LSTM, GRU, Bidirectional and stacks.
    ``LSTM(use_bias=False)`` is converted with a zero bias (so it fuses), ``GRU(reset_after=
    False)`` with ``implementation=1`` (which TFLM can allocate): the same outputs.

    Args:
        model: a tf_keras model with one ``(batch, time, features)`` input, or a Keras 3 model
            (any backend), exported through its tf_keras twin
            (:func:`~tf_expander_pruning.deployment.keras3_twin.keras2_twin`: same weights).
        quantization: ``"float32"`` (default), ``"dynamic"`` (int8 weights, float activations:
            hybrid kernels for GRU/SimpleRNN/Dense, LiteRT only; for fused LSTMs the legacy
            quantizer's int8 weights + DEQUANTIZE, which TFLM runs too: see
            :func:`quantization_of`),
            ``"float16"`` (fp16 weights; LiteRT only) or ``"int8"`` (full integer with int8
            inputs/outputs, for TFLM; needs ``representative_data``).  The old spellings
            ``None`` and ``"fp32"`` mean ``"float32"`` (with a ``DeprecationWarning``).
        representative_data: calibration inputs ``(samples, T, F)`` (or an ``(x, y)`` pair).
        batch_size: the fixed batch dimension of the flatbuffer (1 for microcontrollers).
        unroll: rebuild loop layers (GRU, SimpleRNN, an LSTM that cannot fuse, a custom cell)
            with ``unroll=True`` before converting.  ``None`` (default) unrolls only for int8,
            where the loop form crashes the converter.  ``False`` forces the loop form (you
            will get a :class:`ChildProcessCrash` naming the layer).
        isolate: run the int8 conversion in a child process (default).  Only turn off if you
            know the conversion cannot crash (e.g. pure LSTM models); it saves ~5-20 s.
        streaming: write a one-time-step model instead (inputs ``x_t`` and the states, outputs
            ``y`` and the new states; size and arena independent of T): see docs/deploy.md.
            ``None`` (default): True for a model with a ``stateful=True`` layer (what such a
            model is: the caller keeps the state between calls), else False.

    Returns:
        The flatbuffer bytes.

    Raises:
        ValueError / TypeError: bad arguments, or a model that cannot be exported as asked
            (the message names the argument or the layer and the way out).
        ChildProcessCrash: the converter crashed; the message names the layers and the fix.
        ExportError: the converter failed with an error.
    """
    model = as_keras2(model)
    quantization = check_quantization(quantization)
    check_int(batch_size, "batch_size", minimum=1)
    check_flag(isolate, "isolate")
    _check_streaming(streaming)
    if quantization == "int8" and representative_data is None:
        raise ValueError(
            "`representative_data` is required for quantization='int8': pass ~100 typical "
            "inputs of shape (samples, time, features), e.g. the training split."
        )
    model = preparation.strip(model)
    stateful = layer_forms.stateful_layer_names(model)
    if streaming or (streaming is None and stateful):
        return _streaming(model, stateful, streaming is None, quantization=quantization,
                          representative_data=representative_data, batch_size=batch_size,
                          isolate=isolate)
    if masking.mask_layers(model):
        model, input_shape = prepared(model, representative_data, batch_size, unroll=False,
                                      traced=False)
        return masking.masked_tflite(model, quantization=quantization,
                                     representative_data=representative_data,
                                     batch_size=batch_size, isolate=isolate,
                                     input_shape=input_shape)
    if unroll is None:
        unroll = quantization == "int8"
    return _whole_sequence(model, quantization, representative_data, batch_size, unroll,
                           isolate)
