"""One scale per streaming state, so that feeding a state back is a copy.

The converter calibrates a state input (``state_i``) and the state output that feeds it
(``new_state_i``) separately, so their scales differ slightly and the caller would have to
requantise between calls.  In a 16x8 step model both are symmetric int16 (zero point 0); here the
input takes the output's scale, written into the flatbuffer in place.  Nothing else changes: the
kernels that read ``state_i`` compute their multipliers from its scale when the interpreter is
prepared.  The input's range then equals the output's, which is all the values it can receive.
"""

from __future__ import annotations

from tf_expander_pruning.core.tflite_schema import tflite_schema
from tf_expander_pruning.deployment.export.flatbuffer import check_bytes

__all__ = ["share_state_scales", "state_pairs"]


def _signature_tensors(model) -> tuple[dict[str, int], dict[str, int]]:
    if not model.SignatureDefsLength():
        raise ValueError("The flatbuffer has no signature: it is not a streaming step model.")
    signature = model.SignatureDefs(0)
    inputs = {signature.Inputs(i).Name().decode(): signature.Inputs(i).TensorIndex()
              for i in range(signature.InputsLength())}
    outputs = {signature.Outputs(i).Name().decode(): signature.Outputs(i).TensorIndex()
               for i in range(signature.OutputsLength())}
    return inputs, outputs


def state_pairs(tflite_bytes: bytes) -> list[tuple[int, int]]:
    """``[(state_i tensor index, new_state_i tensor index), ...]`` of a streaming flatbuffer."""
    model = tflite_schema().Model.GetRootAs(check_bytes(tflite_bytes), 0)
    inputs, outputs = _signature_tensors(model)
    pairs = []
    while f"state_{len(pairs)}" in inputs:
        i = len(pairs)
        if f"new_state_{i}" not in outputs:
            raise ValueError(f"The flatbuffer has input state_{i} but no output new_state_{i}.")
        pairs.append((inputs[f"state_{i}"], outputs[f"new_state_{i}"]))
    return pairs


def share_state_scales(tflite_bytes: bytes) -> bytes:
    """``tflite_bytes`` with every int16 ``state_i`` quantised like its ``new_state_i``.

    Raises a ValueError for a state that is not symmetric int16 per-tensor quantised (a 16x8
    model's states always are).
    """
    schema = tflite_schema()
    data = bytearray(check_bytes(tflite_bytes))
    model = schema.Model.GetRootAs(data, 0)
    graph = model.Subgraphs(0)
    for index, (state_in, state_out) in enumerate(state_pairs(bytes(data))):
        tensors = graph.Tensors(state_in), graph.Tensors(state_out)
        quants = [tensor.Quantization() for tensor in tensors]
        if (any(t.Type() != schema.TensorType.INT16 for t in tensors)
                or any(q is None or q.ScaleLength() != 1 or q.ZeroPoint(0) != 0
                       for q in quants)):
            raise ValueError(f"state_{index} / new_state_{index} are not symmetric int16 "
                             "tensors with one scale each; only a 16x8 step model shares them.")
        quants[0].ScaleAsNumpy()[0] = quants[1].Scale(0)  # a view into `data`: written in place
    return bytes(data)
