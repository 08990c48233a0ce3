"""Reading a TFLite flatbuffer in pure Python (`core.tflite_schema`: tflite-micro's schema module).

Ops, tensor types and quantisation parameters, the signature names of inputs and outputs, and
the ops TFLM's resolver registers.  No TensorFlow import.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.core.tflite_schema import tflite_schema

__all__ = [
    "check_bytes",
    "list_ops",
    "tflm_supported_ops",
    "tensor_info",
    "signature_positions",
    "quantization_of",
]


def _root(data: bytes):
    return tflite_schema().Model.GetRootAsModel(data, 0)


def check_bytes(tflite_bytes) -> bytes:
    """``tflite_bytes`` as ``bytes``, or a TypeError/ValueError naming the argument."""
    if not isinstance(tflite_bytes, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"`tflite_bytes` must be the bytes returned by to_tflite(), got "
            f"{type(tflite_bytes).__name__}."
        )
    data = bytes(tflite_bytes)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError("`tflite_bytes` is not a TFLite flatbuffer (no 'TFL3' identifier).")
    return data


def _builtin_names() -> dict[int, str]:
    ops = tflite_schema().BuiltinOperator
    return {value: name for name, value in vars(ops).items() if not name.startswith("_")}


def _opcode(model, op) -> int:
    code = model.OperatorCodes(op.OpcodeIndex())
    return max(code.BuiltinCode(), code.DeprecatedBuiltinCode())


def list_ops(tflite_bytes: bytes) -> list[str]:
    """Sorted builtin (or ``CUSTOM:name``) op names used anywhere in the flatbuffer.

    All subgraphs are included, so the body of a ``WHILE`` loop counts too.
    """
    data = check_bytes(tflite_bytes)
    fb, names, model = tflite_schema(), _builtin_names(), _root(data)
    ops: set[str] = set()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            builtin = _opcode(model, op)
            if builtin == fb.BuiltinOperator.CUSTOM:
                ops.add(f"CUSTOM:{model.OperatorCodes(op.OpcodeIndex()).CustomCode().decode()}")
            else:
                ops.add(names.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(ops)


# Builtin ops registered by the TFLM Python runtime (tflite-micro from PyPI, read from the
# ``Register_*`` symbols of its ``_runtime.so`` on 2026-11-25).  Used only if that binary cannot
# be read; the final word is always TFLM itself (verify(..., runtime="tflm") allocates).
_TFLM_OPS_FALLBACK = frozenset(
    """ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL
    BATCH_TO_SPACE_ND BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS
    CUMSUM DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV DYNAMIC_UPDATE_SLICE ELU
    EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER
    GATHER_ND GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS
    LESS_EQUAL LOG LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX MAXIMUM MAX_POOL_2D
    MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE READ_VARIABLE
    REDUCE_ALL REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR
    REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH
    SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH
    TRANSPOSE TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE
    ZEROS_LIKE""".split()
)
_tflm_ops_cache: frozenset[str] | None = None


def tflm_supported_ops() -> frozenset[str]:
    """Builtin op names the installed TFLM Python runtime's op resolver registers.

    tflite-micro has no Python API listing its resolver, so this reads the ``Register_<OP>``
    kernel symbols from its ``_runtime.so`` and keeps the names that are TFLite builtin
    operators.  Falls back to the list above when the binary cannot be read.
    """
    global _tflm_ops_cache
    if _tflm_ops_cache is None:
        ops: set[str] = set()
        try:
            import tflite_micro

            binary = Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "_runtime.so"
            symbols = re.findall(rb"Register_([A-Z][A-Z0-9_]*?)Ev", binary.read_bytes())
            ops = {s.decode() for s in symbols} & set(_builtin_names().values())
        except (ImportError, OSError):
            ops = set()
        _tflm_ops_cache = frozenset(ops) if len(ops) > 20 else _TFLM_OPS_FALLBACK
    return _tflm_ops_cache


_DTYPES = {"FLOAT32": np.float32, "INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16,
           "INT32": np.int32, "INT64": np.int64, "BOOL": np.bool_}


def tensor_info(tflite_bytes: bytes, which: str, position: int = 0) -> dict[str, Any]:
    """Shape, NumPy dtype, scale and zero point of input/output number ``position``.

    ``which`` is ``"input"`` or ``"output"``; ``position`` counts in the main subgraph's order
    (the order LiteRT's ``get_input_details`` and TFLM's ``set_input`` use).
    """
    fb = tflite_schema()
    graph = _root(tflite_bytes).Subgraphs(0)
    index = graph.Inputs(position) if which == "input" else graph.Outputs(position)
    tensor = graph.Tensors(index)
    type_names = {value: name for name, value in vars(fb.TensorType).items()
                  if not name.startswith("_")}
    quant = tensor.Quantization()
    scale, zero = 0.0, 0
    if quant is not None and quant.ScaleLength():
        scale, zero = float(quant.Scale(0)), int(quant.ZeroPoint(0))
    return {
        "shape": [int(d) for d in tensor.ShapeAsNumpy()],
        "dtype": _DTYPES.get(type_names.get(tensor.Type(), ""), np.float32),
        "scale": scale,
        "zero_point": zero,
    }


def signature_positions(tflite_bytes: bytes) -> tuple[dict[str, int], dict[str, int]]:
    """``({input name: position}, {output name: position})`` from the first SignatureDef.

    Empty dicts if the flatbuffer has no signature (a model converted from a concrete function).
    """
    model = _root(tflite_bytes)
    if not model.SignatureDefsLength():
        return {}, {}
    graph, signature = model.Subgraphs(0), model.SignatureDefs(0)
    graph_inputs = [graph.Inputs(i) for i in range(graph.InputsLength())]
    graph_outputs = [graph.Outputs(i) for i in range(graph.OutputsLength())]
    inputs = {}
    for i in range(signature.InputsLength()):
        entry = signature.Inputs(i)
        inputs[entry.Name().decode()] = graph_inputs.index(entry.TensorIndex())
    outputs = {}
    for i in range(signature.OutputsLength()):
        entry = signature.Outputs(i)
        outputs[entry.Name().decode()] = graph_outputs.index(entry.TensorIndex())
    return inputs, outputs


def quantization_of(tflite_bytes: bytes) -> str:
    """How a flatbuffer stores and computes, read from its tensor types and ops.

    * ``"int8"``: integer inputs or outputs (full-integer model, runs in TFLM; token-id
      inputs of an ``Embedding`` stay int32).
    * ``"float16"``: float16 weights dequantised at run time (LiteRT only).
    * ``"dynamic"``: hybrid: int8 weights feed compute ops directly, activations float
      (LiteRT only; TFLM has no hybrid kernels).
    * ``"weights-int8"``: int8 weights whose only consumers are ``DEQUANTIZE`` ops, so all
      compute is float.  This is what the legacy dynamic-range quantizer makes of a fused LSTM;
      it runs in TFLM (the dequantised weights then live in the arena).
    * ``"float32"``: no quantised tensors (called ``"fp32"`` before issue 23).
    """
    data = check_bytes(tflite_bytes)
    fb = tflite_schema()
    model = _root(data)
    graph0 = model.Subgraphs(0)
    integer = (fb.TensorType.INT8, fb.TensorType.UINT8, fb.TensorType.INT16)
    boundary = [graph0.Inputs(i) for i in range(graph0.InputsLength())]
    boundary += [graph0.Outputs(i) for i in range(graph0.OutputsLength())]
    if any(graph0.Tensors(index).Type() in integer for index in boundary):
        return "int8"
    types, hybrid, int8_weights = set(), False, False
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        types.update(graph.Tensors(t).Type() for t in range(graph.TensorsLength()))
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            for i in range(op.InputsLength()):
                index = op.Inputs(i)
                if index < 0 or graph.Tensors(index).Type() != fb.TensorType.INT8:
                    continue
                int8_weights = True
                hybrid = hybrid or _opcode(model, op) != fb.BuiltinOperator.DEQUANTIZE
    if fb.TensorType.FLOAT16 in types:
        return "float16"
    if hybrid:
        return "dynamic"
    if int8_weights:
        return "weights-int8"
    return "float32"
