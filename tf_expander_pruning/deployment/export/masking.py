"""Masked sequences (``Masking`` or ``Embedding(mask_zero=True)`` before SimpleRNN/LSTM/GRU).

Keras computes a boolean mask from the input and skips padded steps (the states carry over).
The converter turns that into ``SELECT``/``GATHER`` on ``BOOL`` tensors, which TFLM cannot run,
and full-int8 calibration of it crashes.  So a masked model is exported as its own unrolled step
graph (:mod:`.cell_steps`) with the mask as a second, float input: signature inputs ``x``
``(batch, T, F)`` (token ids ``(batch, T)`` after an Embedding) and ``mask`` ``(batch, T)``
(1 = real step, 0 = padding; what Keras's ``compute_mask`` gives), output ``y``.  A padded step
keeps the states: ``s = s_old + m * (s_new - s_old)``.  In int8 the mask input quantises 0 and 1
exactly.  :func:`~tf_expander_pruning.export.verify` computes the mask with Keras and feeds it.
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.core.keras_compat import keras, tf
from tf_expander_pruning.deployment.export.converter import convert_module, serving_module
from tf_expander_pruning.deployment.export.flatbuffer import signature_positions, tensor_info
from tf_expander_pruning.deployment.export.preparation import linear_chain
from tf_expander_pruning.deployment.export.step_plan import run_step, step_plan

__all__ = ["mask_layers", "keras_mask", "masked_tflite", "mask_plan"]


def mask_layers(model) -> list:
    """The layers of ``model`` that make a mask (Masking, Embedding with ``mask_zero``)."""
    return [
        layer for layer in model.layers
        if isinstance(layer, keras.layers.Masking)
        or (isinstance(layer, keras.layers.Embedding) and layer.mask_zero)
    ]


def keras_mask(model, x: np.ndarray) -> np.ndarray:
    """The float ``(samples, T)`` mask Keras computes for ``x`` (1 = real step)."""
    (layer,) = mask_layers(model)[:1] or (None,)
    if layer is None:
        return np.ones(x.shape[:2], np.float32)
    return np.asarray(layer.compute_mask(tf.constant(x)), dtype=np.float32)


def _function(model, plan, input_shape: list[int]):
    batch, steps = input_shape[0], input_shape[1]
    dtype = tf.int32 if plan.embedding is not None else tf.float32
    sizes = [size for cell in plan.cells for size in cell.state_sizes]
    specs = [tf.TensorSpec(input_shape, dtype, name="x"),
             tf.TensorSpec([batch, steps], tf.float32, name="mask")]

    def serve(x, mask):
        if plan.embedding is not None:
            x = plan.embedding(x)
        states = [tf.zeros([batch, size]) for size in sizes]
        outputs = []
        for t, x_t in enumerate(tf.unstack(x, axis=1)):
            y, states = run_step(plan, x_t, states, mask[:, t:t + 1])
            outputs.append(y)
        return {"y": tf.stack(outputs, axis=1) if plan.every_step else outputs[-1]}

    return tf.function(serve, input_signature=specs)


def masked_tflite(model, *, quantization, representative_data, batch_size: int,
                  isolate: bool, input_shape: list[int]) -> bytes:
    """The masked-sequence flatbuffer of ``model`` (stripped, float32): see the module doc."""
    (mask_layer,) = mask_layers(model)[:1]
    try:
        linear_chain(model, "masked-sequence export")
        plan = step_plan(model, "masked-sequence export")
    except ValueError as error:
        raise ValueError(
            f"Layer {mask_layer.name!r} ({type(mask_layer).__name__}) makes a mask; masked "
            "models are exported as an unrolled step graph with the mask as an input, and "
            f"this model cannot be: {error} Way out: remove the mask and feed fixed-length "
            "sequences (handle the padding explicitly), or use the sparse C path "
            "(tf-expander codegen)."
        ) from error
    module = serving_module(model, _function(model, plan, input_shape))
    representative = None
    if quantization == "int8":
        data = representative_data
        if isinstance(data, tuple) and len(data) == 2:
            data = data[0]
        data = np.asarray(data)[:200]
        data = data.astype(np.int32 if plan.embedding is not None else np.float32)
        usable = max(1, len(data) // batch_size) * batch_size
        data = np.concatenate([data] * batch_size)[:usable]
        mask = keras_mask(model, data)
        representative = {"x": data.reshape(-1, batch_size, *data.shape[1:]),
                          "mask": mask.reshape(-1, batch_size, mask.shape[1])}
    hint = ("The masked-sequence graph uses FULLY_CONNECTED, ADD, MUL, SUB, LOGISTIC, TANH, "
            "UNPACK and PACK only; streaming=True (skip padded frames) is the other way out.")
    return convert_module(module, quantization, representative, hint=hint, isolate=isolate)


def mask_plan(tflite_bytes: bytes) -> dict | None:
    """Positions and tensors of ``x`` and ``mask`` in a masked-sequence flatbuffer, or ``None``."""
    inputs, _ = signature_positions(tflite_bytes)
    if set(inputs) != {"x", "mask"}:
        return None
    return {"x": inputs["x"], "mask": inputs["mask"],
            "x_info": tensor_info(tflite_bytes, "input", inputs["x"]),
            "mask_info": tensor_info(tflite_bytes, "input", inputs["mask"])}
