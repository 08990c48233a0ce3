"""What the TFLM harness needs from a ``.tflite`` flatbuffer: ops and input/output tensors.

Read with the flatbuffer schema that ships with ``tflite-micro`` (no TensorFlow import).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tf_expander_pruning.core.tflite_schema import tflite_schema

__all__ = ["TensorInfo", "ModelInfo", "read_model", "RESOLVER_METHODS"]

#: Builtin op -> ``MicroMutableOpResolver`` method, for every kernel in third_party/tflm.
RESOLVER_METHODS = {
    "FULLY_CONNECTED": "AddFullyConnected", "UNIDIRECTIONAL_SEQUENCE_LSTM":
    "AddUnidirectionalSequenceLSTM", "ADD": "AddAdd", "MUL": "AddMul", "LOGISTIC": "AddLogistic",
    "TANH": "AddTanh", "QUANTIZE": "AddQuantize", "DEQUANTIZE": "AddDequantize",
    "RESHAPE": "AddReshape", "SOFTMAX": "AddSoftmax", "STRIDED_SLICE": "AddStridedSlice",
    "CONCATENATION": "AddConcatenation", "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV",
    "PACK": "AddPack", "UNPACK": "AddUnpack", "SUB": "AddSub",
}

_DTYPES = {"FLOAT32": np.float32, "INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16,
           "INT32": np.int32}


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output: shape, dtype and (per-tensor) quantisation."""

    index: int
    shape: tuple[int, ...]
    dtype: type
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.dtype != np.float32 and self.scale != 0.0

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def quantize(self, values: np.ndarray) -> np.ndarray:
        """Values in this tensor's dtype: quantised if the tensor is quantised, else cast."""
        values = np.asarray(values)
        if values.dtype == self.dtype:
            return values
        if not self.quantized:
            return values.astype(self.dtype)
        limits = np.iinfo(self.dtype)
        q = np.round(values.astype(np.float64) / self.scale) + self.zero_point
        return np.clip(q, limits.min, limits.max).astype(self.dtype)

    def dequantize(self, values: np.ndarray) -> np.ndarray:
        """float32 values of raw tensor contents."""
        if not self.quantized:
            return values.astype(np.float32)
        return ((values.astype(np.float64) - self.zero_point) * self.scale).astype(np.float32)


@dataclass(frozen=True)
class ModelInfo:
    ops: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


def _tensor(schema, graph, index: int, names: dict[int, str]) -> TensorInfo:
    tensor = graph.Tensors(index)
    kind = names[tensor.Type()]
    if kind not in _DTYPES:
        raise ValueError(f"Model tensor {index} has type {kind}; the TFLM harness handles "
                         f"{', '.join(_DTYPES)} inputs and outputs.")
    quant = tensor.Quantization()
    scale, zero = 0.0, 0
    if quant is not None and quant.ScaleLength() > 0:
        scale, zero = float(quant.Scale(0)), int(quant.ZeroPoint(0))
    return TensorInfo(index, tuple(int(d) for d in tensor.ShapeAsNumpy()), _DTYPES[kind],
                      scale, zero)


def read_model(tflite_bytes: bytes) -> ModelInfo:
    """Ops of every subgraph and the main subgraph's inputs/outputs, in interpreter order."""
    if not isinstance(tflite_bytes, (bytes, bytearray)):
        raise TypeError(f"`tflite_bytes` must be bytes, got {type(tflite_bytes).__name__}.")
    if len(tflite_bytes) < 8 or bytes(tflite_bytes[4:8]) != b"TFL3":
        raise ValueError("`tflite_bytes` is not a TFLite flatbuffer (no 'TFL3' identifier).")
    fb = tflite_schema()
    model = fb.Model.GetRootAsModel(bytes(tflite_bytes), 0)
    op_names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    type_names = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
    ops = set()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            code = model.OperatorCodes(graph.Operators(o).OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            ops.add(op_names.get(builtin, f"BUILTIN_{builtin}"))
    graph = model.Subgraphs(0)
    inputs = tuple(_tensor(fb, graph, int(i), type_names) for i in graph.InputsAsNumpy())
    outputs = tuple(_tensor(fb, graph, int(i), type_names) for i in graph.OutputsAsNumpy())
    return ModelInfo(tuple(sorted(ops)), inputs, outputs)
