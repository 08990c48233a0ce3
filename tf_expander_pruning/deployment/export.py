"""Ship pruned recurrent models: TFLite conversion, LiteRT/TFLM checks, C arrays, honest sizes.

Why the unusual machinery (see docs/deploy.md):

* ``TFLiteConverter.from_keras_model`` fails on recurrent models; a *fixed-shape* concrete
  function converts (LSTM fuses to one ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op, GRU/SimpleRNN become
  a ``WHILE`` loop).
* Full-int8 calibration of that ``WHILE`` loop segfaults inside the converter and takes the whole
  Python process with it.  So int8 conversion runs in a child process, and GRU/SimpleRNN layers
  are rebuilt with ``unroll=True`` (same weights) before int8 conversion, which works.
* The LiteRT and TFLM runtimes also run in child processes: TFLM segfaults when the arena is too
  small, and measuring the smallest arena that works means trying arenas that are too small.
  The runtime child does not import TensorFlow, so it starts in well under a second.
* The fused LSTM keeps its state in *variable tensors* that persist across ``invoke()`` calls; the
  runtimes are reset before every sample, or the second sample starts from the first's state.

Public API: :func:`to_tflite`, :func:`verify`, :func:`to_c_array`, :func:`size_report`,
:func:`compact`, :func:`deployment_table`, plus the helpers :func:`list_ops`,
:func:`tflm_supported_ops`, :func:`quantization_of`, :func:`measure_tflm_arena`,
:func:`parameter_counts` and :func:`strip`.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.core import keras_compat
from tf_expander_pruning.core.keras_compat import keras, tf
from tf_expander_pruning.core.layers import all_layers as _all_layers  # nested models included

__all__ = [
    "QUANTIZATIONS",
    "RUNTIMES",
    "ExportError",
    "ChildProcessCrash",
    "UnsupportedError",
    "VerifyReport",
    "CArray",
    "SizeReport",
    "DeploymentTable",
    "to_tflite",
    "verify",
    "to_c_array",
    "size_report",
    "compact",
    "deployment_table",
    "list_ops",
    "measure_tflm_arena",
    "parameter_counts",
    "tflm_supported_ops",
    "quantization_of",
    "strip",
]

QUANTIZATIONS = (None, "dynamic", "float16", "int8")
RUNTIMES = ("litert", "tflm")

# Generous wall-clock limit for a child (int8 conversion imports TensorFlow: ~5-20 s when busy).
_CHILD_TIMEOUT_S = 900


class ExportError(RuntimeError):
    """A conversion or runtime step failed; the message says which step and what to do."""


class ChildProcessCrash(ExportError):
    """A child process running a converter or runtime step died from a signal (e.g. SIGSEGV).

    The parent (your Python process) is unaffected.  ``signal_name`` and ``stderr_tail`` say how.
    """

    def __init__(self, message: str, *, signal_name: str, stderr_tail: str) -> None:
        super().__init__(message)
        self.signal_name = signal_name
        self.stderr_tail = stderr_tail


class UnsupportedError(ExportError, ValueError):
    """A known-unsupported combination (e.g. a dynamic-range model on TFLM)."""


# --------------------------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TF_USE_LEGACY_KERAS", "1")
    return env


def _tail(text: str, lines: int = 12) -> str:
    kept = [line for line in (text or "").splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def _run_child(
    source: str,
    argv: Sequence[str] = (),
    *,
    what: str,
    hint: str,
    timeout: float = _CHILD_TIMEOUT_S,
) -> subprocess.CompletedProcess:
    """Run ``python -c source argv...`` and turn a crash or failure into a Python exception.

    A child is used (not multiprocessing) so the runtime child need not import this package,
    which would import TensorFlow; it also makes a segfault just a negative return code.

    Raises:
        ChildProcessCrash: the child died from a signal; the message names ``what`` and ``hint``.
        ExportError: the child exited with an error or timed out.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", source, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_child_env(),
        )
    except subprocess.TimeoutExpired as error:
        raise ExportError(f"{what} did not finish within {timeout:.0f} s. {hint}") from error
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        raise ChildProcessCrash(
            f"{what} crashed its child process with {name} (your Python process is fine). "
            f"{hint}\n--- last child output ---\n{_tail(done.stderr)}",
            signal_name=name,
            stderr_tail=_tail(done.stderr),
        )
    if done.returncode != 0:
        raise ExportError(f"{what} failed. {hint}\n--- last child output ---\n{_tail(done.stderr)}")
    return done


# The int8 converter child: runs int8_convert.py as a script (only TensorFlow and NumPy, no
# tf_keras, no package import); the in-process path calls the same function.
_CONVERT_CHILD = (
    "import runpy; runpy.run_path("
    f"{str(Path(__file__).with_name('int8_convert.py'))!r}, run_name='__main__')"
)

# The runtime child: LiteRT or TFLM only (fast start, no TensorFlow).  Modes:
#   run   -> invoke every sample (runtime reset before each: the fused LSTM keeps state in
#            variable tensors), save raw outputs to out.npy
#   probe -> TFLM only: allocate with the given arena and invoke once; exit 0 if that worked
_RUNTIME_CHILD = r"""
import json, sys
import numpy as np
cfg = json.load(open(sys.argv[1]))
model = open(cfg["model"], "rb").read()
inputs = np.load(cfg["inputs"])
if cfg["runtime"] == "tflm":
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(model, arena_size=int(cfg["arena"]))
    outs = []
    for sample in inputs:
        it.reset()
        it.set_input(sample, 0)
        it.invoke()
        outs.append(np.array(it.get_output(0)))
        if cfg["mode"] == "probe":
            break
else:
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    src = it.get_input_details()[0]["index"]
    dst = it.get_output_details()[0]["index"]
    outs = []
    for sample in inputs:
        it.reset_all_variables()
        it.set_tensor(src, sample)
        it.invoke()
        outs.append(np.array(it.get_tensor(dst)))
if cfg["mode"] == "run":
    np.save(cfg["out"], np.stack(outs))
"""


# --------------------------------------------------------------------------------------------
# Model preparation
# --------------------------------------------------------------------------------------------

_LOOP_LAYERS = ("GRU", "SimpleRNN")  # convert to a WHILE loop whose int8 calibration segfaults


def _has_pruning_wrappers(model) -> bool:
    return any(
        any(cls.__name__ == "PruneLowMagnitude" for cls in type(layer).__mro__)
        for layer in _all_layers(model)
    )


def strip(model):
    """Return ``model`` without pruning wrappers (masks already applied to the weights).

    Uses :func:`tf_expander_pruning.pruning.strip_pruning`, which removes our wrappers and
    TF-MOT's, nested models included.  A model without wrappers is returned unchanged.
    """
    keras_compat.check_model(model)
    if not _has_pruning_wrappers(model):
        return model
    from tf_expander_pruning.pruning.wrapper import strip_pruning

    return strip_pruning(model)


def _recurrent_layers(model) -> list:
    """All recurrent layers (Bidirectional as one), looking inside nested models."""
    return [
        layer
        for layer in _all_layers(model)
        if isinstance(layer, (keras.layers.Bidirectional, keras.layers.RNN))
    ]


def _loop_layer_names(model) -> list[str]:
    names = []
    for layer in _recurrent_layers(model):
        inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
        if type(inner).__name__ in _LOOP_LAYERS and not inner.unroll:
            names.append(f"{layer.name} ({type(inner).__name__})")
    return names


def _input_spec(model, representative_data, batch_size: int) -> list[int]:
    if len(model.inputs) != 1:
        raise ValueError(
            f"`model` has {len(model.inputs)} inputs; export supports one (batch, time, "
            "features) input. Wrap the model so it takes one tensor."
        )
    shape = list(model.inputs[0].shape)[1:]
    if any(dim is None for dim in shape):
        if representative_data is None:
            raise ValueError(
                f"`model` input shape {tuple(model.inputs[0].shape)} has unknown dimensions; "
                "TFLite needs fixed shapes. Build the model with keras.Input(shape=(T, F)) or "
                "pass `representative_data` (its shape fixes T and F)."
            )
        shape = list(np.asarray(representative_data).shape[1:])
    return [batch_size, *[int(dim) for dim in shape]]


def _unrolled(model, input_shape: list[int]):
    """Same model, GRU/SimpleRNN layers rebuilt with ``unroll=True`` and the same weights."""

    def clone(layer):
        config = layer.get_config()
        if type(layer).__name__ in _LOOP_LAYERS:
            config["unroll"] = True
        elif isinstance(layer, keras.layers.Bidirectional):
            for key in ("layer", "backward_layer"):
                sub = config.get(key)
                if sub and sub.get("class_name") in _LOOP_LAYERS:
                    sub["config"]["unroll"] = True
        return layer.__class__.from_config(config)

    new_input = keras.Input(shape=tuple(input_shape[1:]))
    rebuilt = keras.models.clone_model(model, input_tensors=new_input, clone_function=clone)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def _concrete_function(model, input_shape: list[int]):
    fn = tf.function(lambda x: model(x, training=False))
    return fn.get_concrete_function(tf.TensorSpec(input_shape, tf.float32))


def _check_quantization(quantization) -> None:
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATIONS}, got {quantization!r}."
        )


def _representative_array(representative_data, batch_size: int, input_shape) -> np.ndarray:
    """(n, batch, T, F) float32 calibration samples from an array or ``(x, y)`` pair."""
    if isinstance(representative_data, tuple) and len(representative_data) == 2:
        representative_data = representative_data[0]
    try:
        data = np.asarray(representative_data, dtype=np.float32)
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


def to_tflite(
    model,
    *,
    quantization: str | None = None,
    representative_data=None,
    batch_size: int = 1,
    unroll: bool | None = None,
    isolate: bool = True,
) -> bytes:
    """Convert a (pruned) recurrent tf_keras model to a TFLite flatbuffer.

    Pruning wrappers are stripped first (see :func:`strip`).  The model is traced as a
    fixed-shape concrete function ``[batch_size, T, F]`` because that is what converts for
    SimpleRNN, LSTM, GRU, Bidirectional and stacked layers.

    Args:
        model: a tf_keras model with one ``(batch, time, features)`` input.
        quantization: ``None`` (fp32), ``"dynamic"`` (int8 weights, float activations: hybrid
            kernels for GRU/SimpleRNN/Dense, LiteRT only; for fused LSTMs the legacy quantizer's
            int8 weights + DEQUANTIZE, which TFLM runs too: see :func:`quantization_of`),
            ``"float16"`` (fp16 weights; LiteRT only) or ``"int8"`` (full integer with int8
            input/output, for TFLM; needs ``representative_data``).
        representative_data: calibration inputs ``(samples, T, F)`` (or an ``(x, y)`` pair).
        batch_size: the fixed batch dimension of the flatbuffer (1 for microcontrollers).
        unroll: rebuild GRU/SimpleRNN with ``unroll=True`` before converting.  ``None`` (default)
            unrolls only for int8, where the loop form crashes the converter.  ``False`` forces
            the loop form (you will get a :class:`ChildProcessCrash` naming the layer).
        isolate: run the int8 conversion in a child process (default).  Only turn off if you
            know the conversion cannot crash (e.g. pure LSTM models); it saves ~5-20 s.

    Returns:
        The flatbuffer bytes.

    Raises:
        ValueError / TypeError: bad arguments (the message names the argument).
        ChildProcessCrash: the converter crashed; the message names the layers and the fix.
        ExportError: the converter failed with an error.
    """
    keras_compat.check_model(model)
    _check_quantization(quantization)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}.")
    if quantization == "int8" and representative_data is None:
        raise ValueError(
            "`representative_data` is required for quantization='int8': pass ~100 typical "
            "inputs of shape (samples, time, features), e.g. the training split."
        )
    model = strip(model)
    input_shape = _input_spec(model, representative_data, batch_size)
    if unroll is None:
        unroll = quantization == "int8"
    if unroll and _loop_layer_names(model):
        model = _unrolled(model, input_shape)
    concrete = _concrete_function(model, input_shape)

    if quantization != "int8":
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
        if quantization == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif quantization == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        try:
            data = bytes(converter.convert())
            if quantization == "dynamic" and quantization_of(data) == "fp32":
                # The MLIR dynamic-range quantizer leaves the fused LSTM's weights in float
                # (measured: same bytes as fp32).  The legacy quantizer stores them as int8
                # with DEQUANTIZE ops, which really shrinks the file (and runs in TFLM).
                # A converter object converts once: build a fresh one.
                converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.experimental_new_dynamic_range_quantizer = False
                data = bytes(converter.convert())
            return data
        except Exception as error:  # the converter raises many types; say which step failed
            raise ExportError(
                f"TFLite conversion ({quantization or 'fp32'}) failed: {error}"
            ) from error

    rep = _representative_array(representative_data, batch_size, input_shape)
    loops = _loop_layer_names(model)
    hint = (
        "Full-int8 calibration of the WHILE loop of "
        + ", ".join(loops)
        + " is a known TFLite converter crash. Fix: leave `unroll=None` (GRU/SimpleRNN are "
        "rebuilt with unroll=True, same weights) or use quantization=None/'dynamic'."
        if loops
        else "Try quantization=None or 'dynamic' to see whether the model converts at all."
    )
    with tempfile.TemporaryDirectory(prefix="tfexp_int8_") as tmp:
        saved = os.path.join(tmp, "saved_model")
        module = tf.Module()
        module.model = model  # keep the variables reachable from the SavedModel root
        module.serve = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec(input_shape, tf.float32)],
        )
        tf.saved_model.save(
            module, saved, signatures={"serving_default": module.serve.get_concrete_function()}
        )
        rep_path = os.path.join(tmp, "rep.npy")
        out_path = os.path.join(tmp, "model.tflite")
        np.save(rep_path, rep)
        if isolate:
            _run_child(
                _CONVERT_CHILD,
                [saved, rep_path, out_path],
                what="int8 TFLite conversion (calibration)",
                hint=hint,
            )
            return Path(out_path).read_bytes()
        from tf_expander_pruning.deployment.int8_convert import convert_int8

        return convert_int8(saved, rep)


# --------------------------------------------------------------------------------------------
# Flatbuffer inspection (pure Python: the schema module that ships with tflite-micro)
# --------------------------------------------------------------------------------------------


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def _check_bytes(tflite_bytes) -> bytes:
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
    ops = _schema().BuiltinOperator
    return {value: name for name, value in vars(ops).items() if not name.startswith("_")}


def list_ops(tflite_bytes: bytes) -> list[str]:
    """Sorted builtin (or ``CUSTOM:name``) op names used anywhere in the flatbuffer.

    All subgraphs are included, so the body of a ``WHILE`` loop counts too.
    """
    data = _check_bytes(tflite_bytes)
    fb = _schema()
    names = _builtin_names()
    model = fb.Model.GetRootAsModel(data, 0)
    ops: set[str] = set()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            code = model.OperatorCodes(graph.Operators(o).OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin == fb.BuiltinOperator.CUSTOM:
                ops.add(f"CUSTOM:{code.CustomCode().decode()}")
            else:
                ops.add(names.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(ops)


# Builtin ops registered by the TFLM Python runtime (tflite-micro from PyPI, read from the
# ``Register_*`` symbols of its ``_runtime.so`` on 2026-11-25).  Used only if that binary cannot
# be read; :func:`tflm_supported_ops` prefers the live symbol table.  The final word is always
# TFLM itself: verify(..., runtime="tflm") allocates the model, which fails on a missing op.
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
    kernel symbols from its ``_runtime.so`` (every builtin kernel linked in is registered by its
    all-ops resolver) and keeps the names that are TFLite builtin operators.  Falls back to the
    documented list above when the binary cannot be read.
    """
    global _tflm_ops_cache
    if _tflm_ops_cache is None:
        ops = set()
        try:
            import tflite_micro

            binary = Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "_runtime.so"
            symbols = re.findall(rb"Register_([A-Z][A-Z0-9_]*?)Ev", binary.read_bytes())
            ops = {s.decode() for s in symbols} & set(_builtin_names().values())
        except (ImportError, OSError):
            ops = set()
        _tflm_ops_cache = frozenset(ops) if len(ops) > 20 else _TFLM_OPS_FALLBACK
    return _tflm_ops_cache


def _tensor_info(tflite_bytes: bytes, which: str) -> dict[str, Any]:
    fb = _schema()
    model = fb.Model.GetRootAsModel(tflite_bytes, 0)
    graph = model.Subgraphs(0)
    index = graph.Inputs(0) if which == "input" else graph.Outputs(0)
    tensor = graph.Tensors(index)
    dtypes = {
        fb.TensorType.FLOAT32: np.float32,
        fb.TensorType.INT8: np.int8,
        fb.TensorType.UINT8: np.uint8,
        fb.TensorType.INT16: np.int16,
        fb.TensorType.INT32: np.int32,
    }
    quant = tensor.Quantization()
    scale, zero = 0.0, 0
    if quant is not None and quant.ScaleLength():
        scale, zero = float(quant.Scale(0)), int(quant.ZeroPoint(0))
    return {
        "shape": [int(d) for d in tensor.ShapeAsNumpy()],
        "dtype": dtypes.get(tensor.Type(), np.float32),
        "scale": scale,
        "zero_point": zero,
    }


def quantization_of(tflite_bytes: bytes) -> str:
    """How a flatbuffer stores and computes, read from its tensor types and ops.

    * ``"int8"``: integer input (full-integer model, runs in TFLM).
    * ``"float16"``: float16 weights dequantised at run time (LiteRT only).
    * ``"dynamic"``: hybrid: int8 weights feed compute ops directly, activations float
      (LiteRT only; TFLM has no hybrid kernels).
    * ``"weights-int8"``: int8 weights whose only consumers are ``DEQUANTIZE`` ops, so all
      compute is float.  This is what the legacy dynamic-range quantizer makes of a fused LSTM;
      it runs in TFLM (the dequantised weights then live in the arena).
    * ``"fp32"``: no quantised tensors.
    """
    data = _check_bytes(tflite_bytes)
    fb = _schema()
    if _tensor_info(data, "input")["dtype"] in (np.int8, np.uint8, np.int16):
        return "int8"
    model = fb.Model.GetRootAsModel(data, 0)
    dequantize = fb.BuiltinOperator.DEQUANTIZE
    types, hybrid, int8_weights = set(), False, False
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        types.update(graph.Tensors(t).Type() for t in range(graph.TensorsLength()))
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            for i in range(op.InputsLength()):
                index = op.Inputs(i)
                if index < 0 or graph.Tensors(index).Type() != fb.TensorType.INT8:
                    continue
                int8_weights = True
                hybrid = hybrid or builtin != dequantize
    if fb.TensorType.FLOAT16 in types:
        return "float16"
    if hybrid:
        return "dynamic"
    if int8_weights:
        return "weights-int8"
    return "fp32"


# --------------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class VerifyReport:
    """What running a flatbuffer in one runtime showed, against the Keras model.

    ``max_abs_diff`` compares dequantised runtime outputs with Keras outputs.
    ``max_steps_vs_litert`` (TFLM only) is the largest difference between TFLM and LiteRT outputs
    in output quantisation steps (int8 models) or in absolute value (float models).
    ``arena_bytes`` (TFLM only) is the smallest ``arena_size`` with which TFLM allocated and ran
    the model, found by binary search (16-byte resolution).  ``ops_missing_in_tflm`` lists ops of
    the flatbuffer that TFLM's op resolver lacks.
    """

    runtime: str
    quantization: str
    samples: int
    flatbuffer_bytes: int
    max_abs_diff: float
    argmax_agreement: float
    keras_accuracy: float | None
    runtime_accuracy: float | None
    max_steps_vs_litert: float | None
    arena_bytes: int | None
    ops: list[str]
    ops_missing_in_tflm: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        parts = [
            f"{self.runtime} {self.quantization}: max|diff|={self.max_abs_diff:.3g}",
            f"argmax agreement={self.argmax_agreement:.1%}",
        ]
        if self.runtime_accuracy is not None:
            parts.append(f"accuracy={self.runtime_accuracy:.1%} (Keras {self.keras_accuracy:.1%})")
        if self.max_steps_vs_litert is not None:
            parts.append(f"vs LiteRT={self.max_steps_vs_litert:g}")
        if self.arena_bytes is not None:
            parts.append(f"arena={self.arena_bytes} B")
        return ", ".join(parts)


def _prepare_inputs(data: bytes, inputs: np.ndarray) -> np.ndarray:
    """(n, batch, T, F) in the flatbuffer's input dtype (quantised for int8 models)."""
    info = _tensor_info(data, "input")
    batch = info["shape"][0]
    n = len(inputs)
    pad = (-n) % batch
    if pad:
        inputs = np.concatenate([inputs, np.repeat(inputs[-1:], pad, axis=0)])
    if info["dtype"] != np.float32:
        limits = np.iinfo(info["dtype"])
        q = np.round(inputs / info["scale"]) + info["zero_point"]
        inputs = np.clip(q, limits.min, limits.max).astype(info["dtype"])
    return inputs.reshape(-1, batch, *inputs.shape[1:])


def _dequantize(data: bytes, outputs: np.ndarray, n: int) -> np.ndarray:
    info = _tensor_info(data, "output")
    flat = outputs.reshape(-1, *outputs.shape[2:])[:n]
    if info["dtype"] == np.float32:
        return flat.astype(np.float64)
    return (flat.astype(np.float64) - info["zero_point"]) * info["scale"]


def _run_runtime(data: bytes, batches: np.ndarray, runtime: str, arena: int | None) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="tfexp_rt_") as tmp:
        cfg = {
            "model": os.path.join(tmp, "m.tflite"),
            "inputs": os.path.join(tmp, "x.npy"),
            "out": os.path.join(tmp, "y.npy"),
            "runtime": runtime,
            "mode": "run",
            "arena": arena or 0,
        }
        Path(cfg["model"]).write_bytes(data)
        np.save(cfg["inputs"], batches)
        Path(tmp, "cfg.json").write_text(json.dumps(cfg))
        _run_child(
            _RUNTIME_CHILD,
            [os.path.join(tmp, "cfg.json")],
            what=f"Running the model in {'TFLM' if runtime == 'tflm' else 'LiteRT'}",
            hint="Check the op list (verify().ops) and the quantisation.",
        )
        return np.load(cfg["out"])


def _arena_works(data: bytes, sample: np.ndarray, arena: int, tmp: str) -> bool:
    cfg = {
        "model": os.path.join(tmp, "m.tflite"),
        "inputs": os.path.join(tmp, "x.npy"),
        "runtime": "tflm",
        "mode": "probe",
        "arena": arena,
    }
    if not os.path.exists(cfg["model"]):
        Path(cfg["model"]).write_bytes(data)
        np.save(cfg["inputs"], sample[None])
    path = os.path.join(tmp, f"probe_{arena}.json")
    Path(path).write_text(json.dumps(cfg))
    # Too-small arenas either raise or segfault inside TFLM: both just mean "does not fit".
    done = subprocess.run(
        [sys.executable, "-c", _RUNTIME_CHILD, path],
        capture_output=True,
        timeout=_CHILD_TIMEOUT_S,
        env=_child_env(),
    )
    return done.returncode == 0


def measure_tflm_arena(tflite_bytes: bytes, sample: np.ndarray, *, resolution: int = 16) -> int:
    """Smallest TFLM ``arena_size`` (bytes, to ``resolution``) that allocates and runs once.

    Binary search; each probe is a child process because TFLM may segfault on a short arena.
    ``sample`` is one input batch in the flatbuffer's input dtype.
    """
    data = _check_bytes(tflite_bytes)
    with tempfile.TemporaryDirectory(prefix="tfexp_arena_") as tmp:
        high = max(4096, 4 * len(data))
        while not _arena_works(data, sample, high, tmp):
            high *= 4
            if high > 1 << 30:
                raise ExportError(
                    "TFLM could not run the model with a 1 GiB arena; check "
                    "verify(..., runtime='tflm') for the reason (unsupported op?)."
                )
        low = 0  # invariant: low fails (or is 0), high works
        while high - low > resolution:
            mid = (low + high) // 2 // resolution * resolution
            if mid <= low:
                break
            if _arena_works(data, sample, mid, tmp):
                high = mid
            else:
                low = mid
        return high


def _compare_outputs(reference, outputs, labels=None):
    """``(max |outputs - reference|, argmax agreement, reference accuracy, outputs accuracy)``.

    ``reference`` and ``outputs`` are ``(samples, classes)``; the accuracies are ``None`` without
    ``labels``.  Shared by this module's and :mod:`tf_expander_pruning.codegen`'s ``verify``.
    """
    expected, predicted = np.argmax(reference, axis=1), np.argmax(outputs, axis=1)
    max_abs_diff = float(np.max(np.abs(outputs - reference)))
    agreement = float(np.mean(predicted == expected))
    if labels is None:
        return max_abs_diff, agreement, None, None
    labels = np.asarray(labels).reshape(-1)
    return (max_abs_diff, agreement, float(np.mean(expected == labels)),
            float(np.mean(predicted == labels)))


def verify(
    tflite_bytes: bytes,
    model,
    inputs,
    *,
    runtime: str = "litert",
    labels=None,
    measure_arena: bool = True,
) -> VerifyReport:
    """Run ``tflite_bytes`` in LiteRT or TFLM and compare with ``model`` (Keras) on ``inputs``.

    Args:
        tflite_bytes: from :func:`to_tflite`.
        model: the Keras model it came from (pruning wrappers are fine).
        inputs: float array ``(samples, T, F)``; int8 models get them quantised here.
        runtime: ``"litert"`` (``ai_edge_litert``) or ``"tflm"`` (the TFLM Python runtime).
        labels: optional integer labels, to report Keras and runtime accuracy.
        measure_arena: for TFLM, binary-search the smallest arena (a few seconds).

    Raises:
        UnsupportedError: a dynamic-range (hybrid) model on TFLM, or ops TFLM lacks.
        ChildProcessCrash / ExportError: the runtime crashed or failed.
    """
    keras_compat.check_model(model)
    data = _check_bytes(tflite_bytes)
    if runtime not in RUNTIMES:
        raise ValueError(f"`runtime` must be one of {RUNTIMES}, got {runtime!r}.")
    x = np.asarray(inputs, dtype=np.float32)
    info = _tensor_info(data, "input")
    if x.ndim != len(info["shape"]) or list(x.shape[1:]) != info["shape"][1:]:
        raise ValueError(
            f"`inputs` has shape {x.shape}; the flatbuffer expects (samples, "
            f"{', '.join(str(d) for d in info['shape'][1:])})."
        )
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(x):
            raise ValueError(f"`labels` has {len(labels)} entries for {len(x)} `inputs`.")
    kind = quantization_of(data)
    ops = list_ops(data)
    missing = [op for op in ops if op not in tflm_supported_ops()]
    if runtime == "tflm" and kind == "dynamic":
        raise UnsupportedError(
            "Dynamic-range (hybrid: int8 weights, float activations) models do not run in TFLM. "
            "Convert with quantization='int8' (and representative_data) or quantization=None."
        )
    if runtime == "tflm" and missing:
        raise UnsupportedError(
            f"TFLM's op resolver lacks {', '.join(missing)}; this model cannot run on TFLM. "
            "For loops (WHILE) try unroll=True in to_tflite."
        )

    reference = keras_compat.check_model(strip(model)).predict(x, verbose=0, batch_size=256)
    reference = np.asarray(reference, dtype=np.float64).reshape(len(x), -1)
    batches = _prepare_inputs(data, x)
    arena = steps = None
    if runtime == "tflm":
        # Run first with a generous arena so a real failure (e.g. an unsupported tensor type)
        # is reported as itself, not as "no arena was big enough".
        try:
            raw = _run_runtime(data, batches, "tflm", max(1 << 22, 16 * len(data)))
        except ExportError as error:
            if kind == "float16":
                raise UnsupportedError(
                    "float16 models do not run in TFLM (its DEQUANTIZE kernel has no float16 "
                    "input). Use quantization='int8' or None for microcontrollers.\n" + str(error)
                ) from error
            raise
        if measure_arena:
            arena = measure_tflm_arena(data, batches[0])
        # Quantisation steps between runtimes: raw int8 outputs differ by whole steps; for
        # float outputs this is the absolute difference.
        other = _run_runtime(data, batches, "litert", None)
        steps = float(np.max(np.abs(raw.astype(np.float64) - other.astype(np.float64))))
    else:
        raw = _run_runtime(data, batches, "litert", None)
    out = _dequantize(data, raw, len(x)).reshape(len(x), -1)
    max_abs_diff, agreement, keras_acc, runtime_acc = _compare_outputs(reference, out, labels)
    return VerifyReport(
        runtime=runtime,
        quantization=kind,
        samples=len(x),
        flatbuffer_bytes=len(data),
        max_abs_diff=max_abs_diff,
        argmax_agreement=agreement,
        keras_accuracy=keras_acc,
        runtime_accuracy=runtime_acc,
        max_steps_vs_litert=steps,
        arena_bytes=arena,
        ops=ops,
        ops_missing_in_tflm=missing,
    )


# --------------------------------------------------------------------------------------------
# C array
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class CArray:
    """A C header/source pair holding a flatbuffer, in the style of ``xxd -i``.

    ``header`` declares ``extern const unsigned char <name>[];`` and
    ``extern const unsigned int <name>_len;``; ``source`` defines them with the array 16-byte
    aligned (TFLM requires aligned flatbuffers).  :meth:`write` saves ``<name>.h``/``<name>.cc``.
    """

    name: str
    header: str
    source: str
    length: int

    def write(self, directory: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``<name>.h`` and ``<name>.cc`` into ``directory`` (created if missing)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        header, source = folder / f"{self.name}.h", folder / f"{self.name}.cc"
        header.write_text(self.header)
        source.write_text(self.source)
        return header, source


_C_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def to_c_array(tflite_bytes: bytes, name: str) -> CArray:
    """C header/source for a TFLM firmware project (``#include "<name>.h"``).

    The source compiles as C and as C++ (``alignas`` is avoided; GCC/Clang attribute syntax is
    used, with an MSVC branch).
    """
    data = _check_bytes(tflite_bytes)
    if not isinstance(name, str) or not _C_NAME.match(name):
        raise ValueError(
            f"`name` must be a C identifier (letters, digits, underscores; not starting with a "
            f"digit), got {name!r}."
        )
    guard = f"{name.upper()}_H_"
    header = (
        f"/* Generated by tf_expander_pruning.deployment.export.to_c_array: TFLite flatbuffer "
        f"({len(data)} bytes). */\n"
        f"#ifndef {guard}\n#define {guard}\n\n"
        "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
        f"extern const unsigned char {name}[];\n"
        f"extern const unsigned int {name}_len;\n\n"
        "#ifdef __cplusplus\n}\n#endif\n\n"
        f"#endif  /* {guard} */\n"
    )
    rows = []
    for start in range(0, len(data), 12):
        chunk = data[start : start + 12]
        rows.append("  " + ", ".join(f"0x{byte:02x}" for byte in chunk))
    source = (
        f'#include "{name}.h"\n\n'
        "/* TFLM reads the flatbuffer in place: keep it 16-byte aligned. */\n"
        "#if defined(_MSC_VER)\n#define TFEXP_ALIGN16 __declspec(align(16))\n"
        "#else\n#define TFEXP_ALIGN16 __attribute__((aligned(16)))\n#endif\n\n"
        f"TFEXP_ALIGN16 const unsigned char {name}[] = {{\n"
        + ",\n".join(rows)
        + "\n};\n"
        f"const unsigned int {name}_len = {len(data)};\n"
    )
    return CArray(name=name, header=header, source=source, length=len(data))


# --------------------------------------------------------------------------------------------
# compact: physically remove hidden units that pruning disconnected
# --------------------------------------------------------------------------------------------

_RNN_GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}
_PASSTHROUGH = ("Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout")


def _linear_chain(model) -> list:
    """The model's layers in order if it is a plain stack (each layer feeds only the next)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for previous, layer in zip(layers, layers[1:], strict=False):
        inbound = [node.inbound_layers for node in layer._inbound_nodes]
        flat = [i for group in inbound for i in (group if isinstance(group, list) else [group])]
        if flat and flat[-1] is not previous:
            raise ValueError(
                "`model` must be a plain stack of layers (Sequential or a functional chain) for "
                f"compact(); layer {layer.name!r} does not take {previous.name!r} as its input."
            )
    return layers


def _gate_columns(units: int, gates: int, keep: np.ndarray) -> np.ndarray:
    return np.concatenate([gate * units + keep for gate in range(gates)])


def compact(model, *, return_report: bool = False):
    """Remove hidden units of SimpleRNN/LSTM/GRU layers that pruning disconnected, exactly.

    A unit ``j`` of a recurrent layer is removed when it cannot influence the output:

    * **no outgoing edges**: row ``j`` of ``recurrent_kernel`` (all gates) and row ``j`` of the
      next layer's kernel are zero.  Removing it is exact.
    * **no incoming edges** (column ``j`` of ``kernel`` and ``recurrent_kernel`` zero in every
      gate), no outgoing recurrent edges, and the layer returns only its last state into a
      ``Dense`` layer: its output is then an input-independent constant (it depends on the bias
      only), which is folded into the ``Dense`` bias.  Exact too.

    A unit with no incoming edges that still feeds other units (recurrently, or through a
    ``return_sequences`` output) is *kept*: its output varies with time, so no constant can
    replace it.  Magnitude pruning at ordinary sparsity rarely zeroes a whole row of an
    LSTM's 4*units-wide recurrent kernel, so expect few removals unless pruning was structured or
    extreme; the report says what happened.

    Supported: plain stacks (Sequential or functional chains) of SimpleRNN/LSTM/GRU, Dropout and
    Dense.  Bidirectional and other layers are copied unchanged (their units are not removed).
    Pruning wrappers are stripped first.

    Returns:
        A new model (same input shape and outputs within float rounding), or
        ``(model, report)`` with ``return_report=True``: per recurrent layer
        ``{"units_before", "units_after", "removed_dead", "removed_constant"}``.
    """
    keras_compat.check_model(model)
    model = strip(model)
    layers = _linear_chain(model)
    weights = [[np.array(w) for w in layer.get_weights()] for layer in layers]
    configs = [layer.get_config() for layer in layers]
    report: dict[str, dict[str, int]] = {}
    dropped_inputs: np.ndarray | None = None  # rows to drop from the next consumer's kernel
    for index, layer in enumerate(layers):
        kind = type(layer).__name__
        if dropped_inputs is not None and kind not in _PASSTHROUGH:
            weights[index][0] = np.delete(weights[index][0], dropped_inputs, axis=0)
            dropped_inputs = None
        if kind not in _RNN_GATES or getattr(layer, "stateful", False):
            continue
        consumer = next(
            (j for j in range(index + 1, len(layers))
             if type(layers[j]).__name__ not in _PASSTHROUGH),
            None,
        )
        consumer_kind = type(layers[consumer]).__name__ if consumer is not None else None
        if consumer_kind not in (*_RNN_GATES, "Dense"):
            continue  # removing units would change what an unknown consumer (or the output) sees
        units, gates = layer.units, _RNN_GATES[kind]
        kernel, recurrent = weights[index][0], weights[index][1]
        next_kernel = weights[consumer][0]
        no_out = [
            not recurrent[j].any() and not next_kernel[j].any() for j in range(units)
        ]
        no_in = []
        for j in range(units):
            columns_j = [gate * units + j for gate in range(gates)]
            no_in.append(not kernel[:, columns_j].any() and not recurrent[:, columns_j].any())
        foldable = (
            consumer_kind == "Dense"
            and not layer.return_sequences
            and not getattr(layer, "return_state", False)
        )
        constant = [
            foldable and no_in[j] and not no_out[j] and not recurrent[j].any()
            for j in range(units)
        ]
        remove = np.array([j for j in range(units) if no_out[j] or constant[j]], dtype=int)
        if len(remove) == units:  # keep one unit so the layer still exists
            remove = remove[1:]
        if any(constant[j] for j in remove):
            # These units' final state depends only on the bias: read it from the layer itself.
            shape = (1, *[int(d) for d in layer.input_shape[1:]])
            final = np.asarray(layer(np.zeros(shape, np.float32)))[0]
            for j in remove:
                if constant[j]:
                    weights[consumer][1] = weights[consumer][1] + final[j] * next_kernel[j]
        keep = np.setdiff1d(np.arange(units), remove)
        columns = _gate_columns(units, gates, keep)
        new = list(weights[index])
        new[0] = new[0][:, columns]
        new[1] = new[1][keep][:, columns]
        if layer.use_bias:
            new[2] = new[2][..., columns]
        weights[index] = new
        configs[index]["units"] = int(len(keep))
        dropped_inputs = remove if len(remove) else None
        report[layer.name] = {
            "units_before": int(units),
            "units_after": int(len(keep)),
            "removed_dead": int(sum(1 for j in remove if no_out[j])),
            "removed_constant": int(sum(1 for j in remove if constant[j] and not no_out[j])),
        }
    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]))
    x = inputs
    rebuilt = []
    for layer, config in zip(layers, configs, strict=True):
        new_layer = layer.__class__.from_config(config)
        x = new_layer(x)
        rebuilt.append(new_layer)
    result = keras.Model(inputs, x, name=f"{model.name}_compact")
    for new_layer, layer_weights in zip(rebuilt, weights, strict=True):
        new_layer.set_weights(layer_weights)
    return (result, report) if return_report else result


# --------------------------------------------------------------------------------------------
# Sizes and the deployment table
# --------------------------------------------------------------------------------------------


def _gzip_size(data: bytes) -> int:
    # mtime=0 keeps the number reproducible
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def parameter_counts(model) -> dict[str, int]:
    """``{"total": all weights, "nonzero": weights != 0}`` of the stripped model."""
    keras_compat.check_model(model)
    values = [np.asarray(w) for w in strip(model).get_weights()]
    return {
        "total": int(sum(v.size for v in values)),
        "nonzero": int(sum(np.count_nonzero(v) for v in values)),
    }


@dataclasses.dataclass
class SizeReport:
    """Parameter counts and, per quantisation, flatbuffer/gzip bytes and TFLM arena bytes.

    ``rows``: one dict per quantisation with ``quantization``, ``flatbuffer_bytes``,
    ``gzip_bytes``, ``tflm_arena_bytes`` (``None`` where the model does not run in TFLM) and
    ``note``.  Sizes are measured from the real flatbuffers, never estimated from sparsity.
    """

    total_parameters: int
    nonzero_parameters: int
    rows: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        lines = [
            f"parameters: {self.total_parameters} total, {self.nonzero_parameters} nonzero "
            f"({1 - self.nonzero_parameters / max(self.total_parameters, 1):.1%} zero)",
            f"{'quantization':<13}{'bytes':>10}{'gzip':>10}{'TFLM arena':>12}  note",
        ]
        for row in self.rows:
            size, packed, arena = (
                "n/a" if row[key] is None else row[key]
                for key in ("flatbuffer_bytes", "gzip_bytes", "tflm_arena_bytes")
            )
            lines.append(
                f"{row['quantization']:<13}{size:>10}{packed:>10}{arena:>12}  {row['note']}"
            )
        return "\n".join(lines)


def _tflm_note(kind: str) -> str:
    """Why a stored form (see :func:`quantization_of`) has no TFLM figures, or what it is."""
    if kind == "dynamic":
        return "hybrid model: does not run in TFLM"
    if kind == "float16":
        return "float16: does not run in TFLM"
    if kind == "weights-int8":
        return "int8 weights + DEQUANTIZE, float compute"
    return ""


def size_report(
    model,
    *,
    representative_data=None,
    quantizations: Sequence[str | None] = (None, "dynamic", "int8"),
    batch_size: int = 1,
    measure_arena: bool = True,
) -> SizeReport:
    """Honest sizes of ``model`` for each quantisation (int8 needs ``representative_data``).

    Note that ``Optimize.EXPERIMENTAL_SPARSITY`` is not used: it does not shrink LSTM weights
    (measured), so zeros cost as much as any weight in the flatbuffer; gzip shows what sparsity
    could save with compression, and :func:`compact` what removing dead units saves.
    """
    keras_compat.check_model(model)
    for quantization in quantizations:
        _check_quantization(quantization)
    counts = parameter_counts(model)
    rows = []
    for quantization in quantizations:
        name = quantization or "fp32"
        if quantization == "int8" and representative_data is None:
            rows.append({"quantization": name, "flatbuffer_bytes": None, "gzip_bytes": None,
                         "tflm_arena_bytes": None, "note": "skipped: needs representative_data"})
            continue
        data = to_tflite(model, quantization=quantization,
                         representative_data=representative_data, batch_size=batch_size)
        kind = quantization_of(data)
        arena, note = None, _tflm_note(kind)
        if quantization == "dynamic" and kind == "fp32":
            note = "no weight tensor large enough to quantise: same as fp32"
        if measure_arena and kind in ("fp32", "int8", "weights-int8"):
            info = _tensor_info(data, "input")
            sample = np.zeros(info["shape"], dtype=info["dtype"])
            arena = measure_tflm_arena(data, sample)
        rows.append({"quantization": name, "flatbuffer_bytes": len(data),
                     "gzip_bytes": _gzip_size(data), "tflm_arena_bytes": arena, "note": note})
    return SizeReport(counts["total"], counts["nonzero"], rows)


@dataclasses.dataclass
class DeploymentTable:
    """Rows of the size/accuracy table (one per model x quantisation) and its printable text."""

    rows: list[dict[str, Any]]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "text": self.text}

    def __str__(self) -> str:
        return self.text


def _fmt(value, pattern: str) -> str:
    return "n/a" if value is None else format(value, pattern)


def deployment_table(
    model,
    x_test,
    y_test,
    *,
    representative_data,
    dense_model=None,
    quantizations: Sequence[str | None] = (None, "dynamic", "int8"),
    runtimes: Sequence[str] = RUNTIMES,
) -> DeploymentTable:
    """Convert, run and measure ``model`` (and ``dense_model`` if given) for the README/demo.

    For every model x quantisation: nonzero parameters, flatbuffer and gzip bytes, TFLM arena,
    and test accuracy in Keras, LiteRT and TFLM (``n/a`` where a runtime cannot run it, e.g.
    dynamic-range models in TFLM).  ``representative_data`` is the int8 calibration input
    (e.g. the training split).  Returns rows (dicts) and a Markdown table (``.text``).
    """
    keras_compat.check_model(model)
    if dense_model is not None:
        keras_compat.check_model(dense_model, "dense_model")
    for runtime in runtimes:
        if runtime not in RUNTIMES:
            raise ValueError(f"`runtimes` entries must be in {RUNTIMES}, got {runtime!r}.")
    x_test = np.asarray(x_test, dtype=np.float32)
    y_test = np.asarray(y_test).reshape(-1)
    rows: list[dict[str, Any]] = []
    models = [("dense", dense_model), ("pruned", model)] if dense_model is not None else [
        ("model", model)]
    for label, current in models:
        current = strip(current)  # once here, not again in every to_tflite/verify call below
        counts = parameter_counts(current)
        for quantization in quantizations:
            data = to_tflite(current, quantization=quantization,
                             representative_data=representative_data)
            stored_as = quantization_of(data)
            row: dict[str, Any] = {
                "model": label,
                "quantization": quantization or "fp32",
                "stored_as": stored_as,
                "nonzero_parameters": counts["nonzero"],
                "total_parameters": counts["total"],
                "flatbuffer_bytes": len(data),
                "gzip_bytes": _gzip_size(data),
                "keras_accuracy": None,
                "litert_accuracy": None,
                "tflm_accuracy": None,
                "tflm_arena_bytes": None,
                "tflm_steps_vs_litert": None,
                "note": _tflm_note(stored_as),
            }
            for runtime in runtimes:
                try:
                    report = verify(data, current, x_test, runtime=runtime, labels=y_test)
                except UnsupportedError:
                    continue  # the note (from the stored form) says why
                row["keras_accuracy"] = report.keras_accuracy
                row[f"{runtime}_accuracy"] = report.runtime_accuracy
                if runtime == "tflm":
                    row["tflm_arena_bytes"] = report.arena_bytes
                    row["tflm_steps_vs_litert"] = report.max_steps_vs_litert
            rows.append(row)
    header = (
        "| model | quant | nonzero params | bytes | gzip bytes | TFLM arena | Keras acc | "
        "LiteRT acc | TFLM acc | note |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
    )
    lines = [header]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['quantization']} | {row['nonzero_parameters']} | "
            f"{row['flatbuffer_bytes']} | {row['gzip_bytes']} | "
            f"{_fmt(row['tflm_arena_bytes'], 'd')} | {_fmt(row['keras_accuracy'], '.2%')} | "
            f"{_fmt(row['litert_accuracy'], '.2%')} | "
            f"{_fmt(row['tflm_accuracy'], '.2%')} | {row['note']} |"
        )
    return DeploymentTable(rows=rows, text="\n".join(lines))
