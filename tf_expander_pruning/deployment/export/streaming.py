"""Streaming TFLite: a one-time-step model whose size and arena do not depend on T.

The flatbuffer's signature has inputs ``x_t`` ``(batch, features)`` (token ids ``(batch,)`` after
an ``Embedding``) and ``state_0 ... state_{k-1}`` (each layer's h, then c for an LSTM), outputs
``y`` (the model's output if the sequence ended at this step) and ``new_state_0 ...``.  Firmware
feeds one frame per call and copies each ``new_state_i`` into ``state_i``; all states start at 0.

int8 (``quantization="int8"``): int8 weights with int16 activations (TFLite's 16x8 mode), so
``x_t``, ``y`` and the states are int16.  An all-int8 step graph adds an int8 rounding to the LSTM
cell state every step and drifts over long streams (docs/deploy.md, "Drift"); int16 states do not.
Each state input is given its output's scale (:mod:`.state_scales`), so firmware copies
``new_state_i`` into ``state_i`` as it is.  ``activations="int8"`` in :func:`streaming_tflite`
still makes the all-int8 graph (for measurements): there the two scales differ and the caller
requantises (``q_in = round((q_out - zp_out) * s_out / s_in) + zp_in``, clipped), as
:func:`~tf_expander_pruning.export.verify` does.
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.core.keras_compat import tf
from tf_expander_pruning.deployment.export.converter import (
    convert_int8_module,
    convert_module,
    serving_module,
)
from tf_expander_pruning.deployment.export.flatbuffer import signature_positions, tensor_info
from tf_expander_pruning.deployment.export.state_scales import share_state_scales
from tf_expander_pruning.deployment.export.step_plan import StepPlan, run_step, step_plan

__all__ = ["streaming_tflite", "stream_plan", "step_function", "calibration_states",
           "ACTIVATIONS"]

ACTIVATIONS = ("int16", "int8")  # of an int8 step model: 16x8 (the default) or all-int8

_MAX_CALIBRATION = 400  # (x_t, states) samples: ranges, not the whole data set


def _state_sizes(plan: StepPlan) -> list[int]:
    return [size for cell in plan.cells for size in cell.state_sizes]


def step_function(model, plan: StepPlan, batch_size: int):
    """A ``tf.function`` ``(x_t, *states) -> {"y", "new_state_i"}`` with a named signature."""
    sizes = _state_sizes(plan)
    features = model.inputs[0].shape[-1]
    if plan.embedding is not None:
        x_spec = tf.TensorSpec([batch_size], tf.int32, name="x_t")
    else:
        x_spec = tf.TensorSpec([batch_size, int(features)], tf.float32, name="x_t")
    specs = [x_spec] + [tf.TensorSpec([batch_size, size], tf.float32, name=f"state_{i}")
                        for i, size in enumerate(sizes)]

    def step(x_t, *states):
        x = plan.embedding(x_t) if plan.embedding is not None else x_t
        y, new_states = run_step(plan, x, list(states))
        outputs = {"y": y}
        outputs.update({f"new_state_{i}": s for i, s in enumerate(new_states)})
        return outputs

    return tf.function(step, input_signature=specs)


def calibration_states(function, plan: StepPlan, sequences: np.ndarray,
                       batch_size: int) -> dict[str, np.ndarray]:
    """``{input name: (n, batch, ...)}``: frames and the states the model reaches on them."""
    sizes = _state_sizes(plan)
    usable = max(1, len(sequences) // batch_size) * batch_size
    sequences = np.concatenate([sequences] * batch_size)[:usable] if len(sequences) < batch_size \
        else sequences[:usable]
    steps = sequences.shape[1]
    per_sequence = max(1, _MAX_CALIBRATION * batch_size // len(sequences))
    keep = set(np.linspace(0, steps - 1, min(steps, per_sequence)).astype(int).tolist())
    samples: dict[str, list] = {"x_t": []}
    samples.update({f"state_{i}": [] for i in range(len(sizes))})
    for start in range(0, len(sequences), batch_size):
        batch = sequences[start:start + batch_size]
        states = [np.zeros((batch_size, size), np.float32) for size in sizes]
        for t in range(steps):
            if t in keep:
                samples["x_t"].append(batch[:, t])
                for i, state in enumerate(states):
                    samples[f"state_{i}"].append(state)
            out = function(tf.constant(batch[:, t]), *[tf.constant(s) for s in states])
            states = [np.asarray(out[f"new_state_{i}"]) for i in range(len(sizes))]
    return {name: np.stack(values)[:_MAX_CALIBRATION] for name, values in samples.items()}


def streaming_tflite(model, *, quantization, representative_data, batch_size: int,
                     isolate: bool, activations: str = "int16") -> bytes:
    """The streaming flatbuffer of ``model`` (stripped, float32); see the module docstring.

    ``activations`` (int8 only): ``"int16"`` (16x8: int8 weights, int16 activations and states;
    no drift over long streams) or ``"int8"`` (every tensor int8; drifts, kept for comparison).
    """
    if activations not in ACTIVATIONS:
        raise ValueError(f"`activations` must be one of {ACTIVATIONS}, got {activations!r}.")
    plan = step_plan(model, "streaming")
    function = step_function(model, plan, batch_size)
    module = serving_module(model, function)
    representative = None
    if quantization == "int8":
        data = representative_data
        if isinstance(data, tuple) and len(data) == 2:
            data = data[0]
        data = np.asarray(data)
        data = data.astype(np.int32 if plan.embedding is not None else np.float32)
        if data.ndim < 2:
            raise ValueError("`representative_data` must be sequences (samples, time, ...) for "
                             f"streaming int8 calibration; got shape {data.shape}.")
        representative = calibration_states(function, plan, data[:100], batch_size)
    hint = "The step graph uses FULLY_CONNECTED, ADD, MUL, SUB, LOGISTIC and TANH only."
    if quantization != "int8":
        return convert_module(module, quantization, representative, hint=hint, isolate=isolate)
    data = convert_int8_module(module, representative, hint=hint, isolate=isolate,
                               activations=activations)
    return share_state_scales(data) if activations == "int16" else data


def stream_plan(tflite_bytes: bytes) -> dict | None:
    """Where ``x_t``, ``y`` and each state sit in a streaming flatbuffer, or ``None``.

    The dict is what the runtime child needs: positions, shapes, dtypes, scales.
    """
    inputs, outputs = signature_positions(tflite_bytes)
    if "x_t" not in inputs or "y" not in outputs:
        return None
    states = []
    for i in range(len(inputs) - 1):
        inp = tensor_info(tflite_bytes, "input", inputs[f"state_{i}"])
        out = tensor_info(tflite_bytes, "output", outputs[f"new_state_{i}"])
        dtype = np.dtype(inp["dtype"]).name
        zero = inp["zero_point"] if dtype in ("int8", "int16") else 0
        states.append({
            "input": inputs[f"state_{i}"], "output": outputs[f"new_state_{i}"],
            "shape": inp["shape"], "dtype": dtype, "zero_value": zero,
            "in_scale": inp["scale"], "in_zero_point": inp["zero_point"],
            "out_scale": out["scale"], "out_zero_point": out["zero_point"],
        })
    y_info = tensor_info(tflite_bytes, "output", outputs["y"])
    return {"x": inputs["x_t"], "y": outputs["y"], "states": states,
            "every_step": False, "y_info": y_info,
            "x_info": tensor_info(tflite_bytes, "input", inputs["x_t"])}
