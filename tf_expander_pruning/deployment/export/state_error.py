"""How far a quantised streaming step model's states stray from float, frame by frame.

For measurements (docs/drift/streaming_drift.py, tests/test_streaming_drift.py): the float32 step
model (the Keras equations, which the streaming tests hold within 1e-5 of Keras) and the
flatbuffer stepped in LiteRT *in this process* (not in the runtime child that ``verify`` uses) are
fed the same streams, and their states are compared after every frame.  One recurrent layer: every
state has the same number of units.
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.core.extras import require
from tf_expander_pruning.core.keras_compat import tf
from tf_expander_pruning.deployment.export.preparation import strip
from tf_expander_pruning.deployment.export.step_plan import step_plan
from tf_expander_pruning.deployment.export.streaming import step_function

__all__ = ["float_states", "stepped_states", "state_errors"]


def float_states(model, x: np.ndarray) -> np.ndarray:
    """``(T, states, samples, units)``: the float32 step model's states after every frame."""
    plan = step_plan(strip(model), "streaming")
    sizes = [size for cell in plan.cells for size in cell.state_sizes]
    function = step_function(model, plan, len(x))
    states = [tf.zeros((len(x), size)) for size in sizes]
    out = []
    for t in range(x.shape[1]):
        result = function(tf.constant(x[:, t]), *states)
        states = [result[f"new_state_{i}"] for i in range(len(sizes))]
        out.append(np.stack([np.asarray(s) for s in states]))
    return np.stack(out)


def _quantise(value: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    if scale == 0:  # a float tensor
        return value.astype(detail["dtype"])
    limits = np.iinfo(detail["dtype"])
    q = np.round(value / scale) + zero
    return np.clip(q, limits.min, limits.max).astype(detail["dtype"])


def _real(value: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    if scale == 0:
        return value.astype(np.float64)
    return (value.astype(np.float64) - zero) * scale


def _state_count(inputs: dict) -> int:
    count = len(inputs) - 1  # x_t and state_0 ... state_{k-1}
    if len({tuple(inputs[f"state_{i}"]["shape"]) for i in range(count)}) != 1:
        raise ValueError("stepped_states compares models whose states all have the same shape "
                         "(one recurrent layer).")
    return count


def stepped_states(data: bytes, x: np.ndarray) -> np.ndarray:
    """``(T, states, samples, units)``: the flatbuffer's dequantised states, stepped in LiteRT.

    Every stream starts from zero states; each state output is dequantised and quantised again
    for its input (a plain copy when the two share a scale, as in the 16x8 step model).
    """
    Interpreter = require("ai_edge_litert.interpreter", extra="deploy",
                          feature="Measuring streaming state error in LiteRT").Interpreter

    runner = Interpreter(model_content=data).get_signature_runner()
    ins, outs = runner.get_input_details(), runner.get_output_details()
    count = _state_count(ins)
    result = np.zeros((x.shape[1], count, len(x), ins["state_0"]["shape"][1]))
    for n in range(len(x)):
        states = [np.zeros(ins[f"state_{i}"]["shape"], np.float64) for i in range(count)]
        for t in range(x.shape[1]):
            feed = {f"state_{i}": _quantise(states[i], ins[f"state_{i}"]) for i in range(count)}
            out = runner(x_t=_quantise(x[n:n + 1, t], ins["x_t"]), **feed)
            states = [_real(out[f"new_state_{i}"], outs[f"new_state_{i}"]) for i in range(count)]
            result[t, :, n] = np.stack(states)[:, 0]
    return result


def state_errors(data: bytes, x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(T, states, samples)``: the largest |state - float state| over the units, per frame.

    ``reference`` is :func:`float_states` of the model on the same ``x``.
    """
    return np.abs(stepped_states(data, x) - reference).max(axis=3)
