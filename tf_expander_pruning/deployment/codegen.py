"""Sparse C99 inference code for pruned recurrent Keras models (microcontroller deployment).

TFLite and TFLM store pruned recurrent weights densely, so on a device the pruning saves nothing.
:func:`to_c` turns the *stripped* model into a dependency-free C99 source/header pair whose weight
matrices are stored in whichever of dense, CSR or blocked CSR (1x4 blocks) is smallest, matrix by
matrix, and :func:`verify` compiles that C with the system compiler and compares it with Keras.

Numerics (see docs/codegen.md for the full description):

* ``quantization="float32"``: float weights, float arithmetic.  Agrees with Keras to ~1e-6.
* ``quantization="int8"``: weights are int8 with one symmetric scale per output row (per
  channel); at every matrix-vector product the input vector (x_t, h_{t-1}, ...) is quantised to
  int8 with a per-vector dynamic scale (max-abs / 127), the dot products accumulate in int32 and the
  int32 result is rescaled to float by ``row_scale * vector_scale``.  Biases, gate arithmetic, cell
  state and activations stay float32 (this targets MCUs with an FPU, e.g. Cortex-M4F/M7).
* ``tanh`` is Eigen's 13/6 rational approximation on [-7.9053, 7.9053] (saturating outside),
  ``sigmoid(x) = 0.5 + 0.5 tanh(x / 2)`` and ``exp`` (softmax) is a range-reduced degree-7
  polynomial.  Their maximum absolute errors against the exact functions, measured over the whole
  float range that matters, are bounded by :data:`TANH_MAX_ABS_ERROR`,
  :data:`SIGMOID_MAX_ABS_ERROR` and :data:`EXP_MAX_REL_ERROR` (checked by the tests).

There is no heap: every buffer is a ``static`` array whose size is known at generation time.
``CModel.ram_bytes`` is the sum of those arrays and ``CModel.flash_bytes`` the sum of the ``const``
arrays (weights, indices, row pointers, scales, biases); both are also written into the header.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tf_expander_pruning.core import keras_compat
from tf_expander_pruning.core.keras_compat import keras

__all__ = [
    "to_c",
    "verify",
    "compile_model",
    "pack_matrix",
    "CModel",
    "CompiledModel",
    "PackedMatrix",
    "VerifyReport",
    "ACTIVATION_C",
    "TANH_MAX_ABS_ERROR",
    "SIGMOID_MAX_ABS_ERROR",
    "EXP_MAX_REL_ERROR",
    "SUPPORTED_LAYERS",
]

#: Documented worst-case absolute error of the generated ``tanh`` (float32 evaluation) against
#: the exact tanh, over all float inputs.  Measured max is 3.9e-7 (float32 rounding dominates).
TANH_MAX_ABS_ERROR = 1e-6
#: ``sigmoid(x) = 0.5 + 0.5 * tanh(x / 2)``: half the tanh error plus a rounding (measured 2.3e-7).
SIGMOID_MAX_ABS_ERROR = 5e-7
#: Worst-case relative error of the generated ``exp`` on [-87, 88] (softmax only; measured 1.0e-7).
EXP_MAX_REL_ERROR = 5e-7

SUPPORTED_LAYERS = (
    "InputLayer, SimpleRNN, LSTM, GRU (reset_after True or False), "
    "Bidirectional(SimpleRNN|LSTM|GRU, merge_mode concat|sum|ave|mul), "
    "Dense (linear|relu|tanh|sigmoid|softmax), Dropout"
)
_RECURRENT_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid")
_DENSE_ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softmax")
_FORMATS = ("auto", "dense", "csr", "bcsr")
_BLOCK = 4  # blocked CSR: 1 x 4 blocks of consecutive input columns

# The activation code shared by every generated model.  ``PFX`` is replaced by the model name.
# Why these: no libm needed (a bare-metal toolchain may not have one), branch-light, and the
# error bounds above are far below int8 quantisation noise and well inside the 1e-4 float target.
ACTIVATION_C = r"""
/* tanh: Eigen's rational approximation x*P(x^2)/Q(x^2), exact to float rounding on
 * [-7.9053, 7.9053]; outside, tanh is within 2.7e-7 of +-1.  Max abs error < TANH_MAX_ABS_ERROR. */
static float PFX_tanh(float x) {
    float x2, p, q;
    if (x > 7.90531110763549805f) x = 7.90531110763549805f;
    if (x < -7.90531110763549805f) x = -7.90531110763549805f;
    if (x > -0.0004f && x < 0.0004f) return x;
    x2 = x * x;
    p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

static float PFX_sigmoid(float x) { return 0.5f + 0.5f * PFX_tanh(0.5f * x); }

static float PFX_hard_sigmoid(float x) {
    float y = 0.2f * x + 0.5f;
    return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
}

static float PFX_relu(float x) { return x > 0.0f ? x : 0.0f; }

static float PFX_linear(float x) { return x; }

/* exp: x = k ln2 + r, |r| <= ln2/2, exp(r) by its degree-7 Taylor polynomial (remainder < 6e-9
 * relative), 2^k through the float exponent bits.  Inputs are clamped to [-87, 88]. */
static float PFX_exp(float x) {
    union { float f; uint32_t u; } scale;
    float kf, r, p;
    int k;
    if (x > 88.0f) x = 88.0f;
    if (x < -87.0f) x = -87.0f;
    kf = x * 1.44269504088896341f;
    k = (int)(kf + (kf >= 0.0f ? 0.5f : -0.5f));
    r = x - (float)k * 0.693145751953125f;
    r = r - (float)k * 1.428606765330187045e-06f;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667163e-1f + r * (4.1666667908e-2f
        + r * (8.3333337680e-3f + r * (1.3888889225e-3f + r * 1.9841270114e-4f))))));
    scale.u = (uint32_t)(k + 127) << 23;
    return p * scale.f;
}
"""


# --------------------------------------------------------------------------------------------
# Matrix packing
# --------------------------------------------------------------------------------------------


def _index_dtype(max_value: int) -> np.dtype:
    """Smallest unsigned type holding ``max_value`` (indices are < cols, pointers <= nnz)."""
    if max_value <= 0xFF:
        return np.dtype(np.uint8)
    if max_value <= 0xFFFF:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


_C_TYPES = {
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.uint16): "uint16_t",
    np.dtype(np.uint32): "uint32_t",
    np.dtype(np.int8): "int8_t",
    np.dtype(np.float32): "float",
}


@dataclass
class PackedMatrix:
    """One weight matrix as stored in C: ``rows`` = output units, ``cols`` = input units.

    The C orientation is the transpose of the Keras kernel (Keras computes ``x @ W``; C computes
    ``y[r] += sum_c M[r, c] x[c]`` row by row).  ``format`` is ``dense`` (values row-major),
    ``csr`` (``values[nnz]``, column ``indices[nnz]``, row pointers ``indptr[rows + 1]``) or
    ``bcsr`` (1x4 blocks: ``values[nblocks * 4]``, block column ``indices[nblocks]`` = first
    column / 4, ``indptr[rows + 1]`` counting blocks).
    """

    name: str
    layer: str
    role: str
    rows: int
    cols: int
    format: str
    values: np.ndarray
    indices: np.ndarray | None
    indptr: np.ndarray | None
    scales: np.ndarray | None
    nnz: int
    candidate_bytes: dict = field(default_factory=dict)

    @property
    def weight_bytes(self) -> int:
        """Bytes of values + indices + row pointers (what the format choice minimises)."""
        total = self.values.nbytes
        if self.indices is not None:
            total += self.indices.nbytes + self.indptr.nbytes
        return total

    @property
    def scale_bytes(self) -> int:
        return 0 if self.scales is None else self.scales.nbytes

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nnz / float(self.rows * self.cols)

    def dense(self) -> np.ndarray:
        """Rebuild the (dequantised) float matrix from the stored arrays (for tests and checks)."""
        values = self.values.astype(np.float64)
        if self.format == "dense":
            out = values.reshape(self.rows, self.cols)
        else:
            out = np.zeros((self.rows, self.cols))
            width = 1 if self.format == "csr" else _BLOCK
            for r in range(self.rows):
                for k in range(int(self.indptr[r]), int(self.indptr[r + 1])):
                    c0 = int(self.indices[k]) * width
                    out[r, c0 : c0 + width] = values[k * width : (k + 1) * width]
        if self.scales is not None:
            out = out * self.scales.astype(np.float64)[:, None]
        return out


def _format_sizes(data: np.ndarray) -> dict:
    rows, cols = data.shape
    item = data.dtype.itemsize
    nz = data != 0
    nnz = int(nz.sum())
    sizes = {
        "dense": rows * cols * item,
        "csr": nnz * item
        + nnz * _index_dtype(cols - 1).itemsize
        + (rows + 1) * _index_dtype(nnz).itemsize,
    }
    if cols % _BLOCK == 0:
        nblocks = int(nz.reshape(rows, cols // _BLOCK, _BLOCK).any(axis=2).sum())
        sizes["bcsr"] = (
            nblocks * _BLOCK * item
            + nblocks * _index_dtype(cols // _BLOCK - 1).itemsize
            + (rows + 1) * _index_dtype(nblocks).itemsize
        )
    return sizes


def pack_matrix(
    matrix: np.ndarray,
    quantization: str = "int8",
    sparse_format: str = "auto",
    *,
    name: str = "m",
    layer: str = "",
    role: str = "",
) -> PackedMatrix:
    """Quantise (optionally) and compress one C-oriented matrix ``(rows=out, cols=in)``.

    ``sparse_format="auto"`` picks the format with the fewest bytes of values + indices + row
    pointers (ties go to dense, the fastest); ``"dense"``, ``"csr"`` or ``"bcsr"`` force one
    (``bcsr`` falls back to ``csr`` when ``cols`` is not a multiple of 4).
    For int8 each row r gets ``scale[r] = max|M[r]| / 127`` and ``q = round(M / scale[r])``;
    weights that round to 0 are dropped from the sparse formats (they contribute nothing).
    """
    if quantization not in ("int8", "float32"):
        raise ValueError(f"quantization must be 'int8' or 'float32', got {quantization!r}")
    if sparse_format not in _FORMATS:
        raise ValueError(f"sparse_format must be one of {_FORMATS}, got {sparse_format!r}")
    m = np.asarray(matrix, dtype=np.float32)
    rows, cols = m.shape
    scales = None
    if quantization == "int8":
        amax = np.abs(m).max(axis=1)
        scales = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        data = np.clip(np.round(m / scales[:, None]), -127, 127).astype(np.int8)
    else:
        data = m
    sizes = _format_sizes(data)
    if sparse_format == "auto":
        fmt = min(("dense", "csr", "bcsr"), key=lambda f: sizes.get(f, np.inf))
    elif sparse_format == "bcsr" and "bcsr" not in sizes:
        fmt = "csr"
    else:
        fmt = sparse_format
    nz = data != 0
    if fmt == "dense":
        values, indices, indptr = data.reshape(-1).copy(), None, None
        nnz = int(nz.sum())
    elif fmt == "csr":
        counts = nz.sum(axis=1)
        nnz = int(counts.sum())
        r_idx, c_idx = np.nonzero(nz)  # row-major order, as CSR needs
        values = data[r_idx, c_idx]
        indices = c_idx.astype(_index_dtype(cols - 1))
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(_index_dtype(nnz))
    else:
        blocks = data.reshape(rows, cols // _BLOCK, _BLOCK)
        bnz = nz.reshape(rows, cols // _BLOCK, _BLOCK).any(axis=2)
        r_idx, b_idx = np.nonzero(bnz)
        values = blocks[r_idx, b_idx].reshape(-1)
        indices = b_idx.astype(_index_dtype(cols // _BLOCK - 1))
        nblocks = len(b_idx)
        indptr = np.concatenate([[0], np.cumsum(bnz.sum(axis=1))]).astype(_index_dtype(nblocks))
        nnz = int(nz.sum())
    return PackedMatrix(
        name=name,
        layer=layer,
        role=role,
        rows=rows,
        cols=cols,
        format=fmt,
        values=np.ascontiguousarray(values),
        indices=indices,
        indptr=indptr,
        scales=scales,
        nnz=nnz,
        candidate_bytes=sizes,
    )


# --------------------------------------------------------------------------------------------
# Model walk
# --------------------------------------------------------------------------------------------


@dataclass
class _Cell:
    """One direction of one recurrent layer."""

    kind: str  # simple_rnn | lstm | gru
    prefix: str
    layer: str
    units: int
    n_in: int
    activation: str
    recurrent_activation: str
    reset_after: bool
    mats: dict  # role -> PackedMatrix
    bias: np.ndarray | None  # input-side bias (all gates)
    bias_rec: np.ndarray | None  # GRU reset_after: recurrent bias


@dataclass
class _Recurrent:
    name: str
    cells: list  # [fwd] or [fwd, bwd]
    return_sequences: bool
    merge_mode: str | None  # None for unidirectional

    @property
    def width(self) -> int:
        u = self.cells[0].units
        return 2 * u if self.merge_mode == "concat" else u


@dataclass
class _Dense:
    name: str
    prefix: str
    units: int
    activation: str
    mat: PackedMatrix
    bias: np.ndarray | None


def _act_name(fn) -> str:
    name = getattr(fn, "__name__", None) or str(fn)
    return "linear" if name in ("linear", "identity") else name


def _strip(model):
    """Remove pruning wrappers (ours and TF-MOT's); a model without them is returned as is."""
    from tf_expander_pruning.deployment.export import strip

    return strip(model)


def _check_chain(model) -> list:
    """The layers of a single-input linear chain, without InputLayer; ValueError otherwise."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(model, keras.Sequential):
        previous = model.inputs
        if len(previous) != 1 or len(model.outputs) != 1:
            raise ValueError("to_c supports single-input, single-output models only.")
        for layer in layers:
            inbound = layer.input
            if isinstance(inbound, list | tuple) or inbound is not previous[0]:
                raise ValueError(
                    f"Layer {layer.name!r} is not fed by the previous layer: to_c supports a "
                    "linear chain of layers (Sequential or an equivalent functional model)."
                )
            previous = [layer.output]
    return layers


def _unsupported(layer, why: str = "") -> ValueError:
    if "PruneLowMagnitude" in type(layer).__name__ and not why:
        why = ("a pruning wrapper that could not be stripped; if it was loaded from a SavedModel, "
               "load it inside `tfmot.sparsity.keras.prune_scope()` or strip before saving")
    extra = f" ({why})" if why else ""
    return ValueError(
        f"Layer {layer.name!r} of type {type(layer).__name__} is not supported by codegen{extra}. "
        f"Supported: {SUPPORTED_LAYERS}."
    )


def _cell_from_layer(layer, prefix: str, n_in: int, quantization: str, sparse_format: str):
    kinds = {
        keras.layers.SimpleRNN: "simple_rnn",
        keras.layers.LSTM: "lstm",
        keras.layers.GRU: "gru",
    }
    kind = next((k for cls, k in kinds.items() if type(layer) is cls), None)
    if kind is None:
        raise _unsupported(layer)
    if getattr(layer, "stateful", False):
        raise _unsupported(layer, "stateful=True")
    act = _act_name(layer.activation)
    rec_act = _act_name(getattr(layer, "recurrent_activation", None) or layer.activation)
    for a in (act, rec_act):
        if a not in _RECURRENT_ACTIVATIONS:
            raise _unsupported(layer, f"activation {a!r}; supported {_RECURRENT_ACTIVATIONS}")
    units = int(layer.units)
    weights = layer.get_weights()
    kernel, rec = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else None
    reset_after = bool(getattr(layer, "reset_after", False)) if kind == "gru" else False

    def pack(m, role):
        return pack_matrix(
            m.T, quantization, sparse_format, name=f"{prefix}_{role}", layer=layer.name, role=role
        )

    mats = {"W": pack(kernel, "W")}
    bias_in, bias_rec = bias, None
    if kind == "gru" and not reset_after:
        # (r * h) U_h needs its own product after the reset gate is known.
        mats["Uzr"] = pack(rec[:, : 2 * units], "Uzr")
        mats["Uh"] = pack(rec[:, 2 * units :], "Uh")
    else:
        mats["U"] = pack(rec, "U")
    if kind == "gru" and reset_after and bias is not None:
        bias_in, bias_rec = bias[0], bias[1]

    def to32(b):
        return None if b is None else np.asarray(b, np.float32).reshape(-1)

    return _Cell(
        kind=kind,
        prefix=prefix,
        layer=layer.name,
        units=units,
        n_in=n_in,
        activation=act,
        recurrent_activation=rec_act,
        reset_after=reset_after,
        mats=mats,
        bias=to32(bias_in),
        bias_rec=to32(bias_rec),
    )


def _parse(model, quantization: str, sparse_format: str):
    layers = _check_chain(model)
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 3 or shape[2] is None:
        raise ValueError(
            f"to_c needs a model input of shape (batch, time, features) with known features; "
            f"got {shape}."
        )
    timesteps, width = shape[1], int(shape[2])
    recurrent: list[_Recurrent] = []
    dense: list[_Dense] = []
    for layer in layers:
        if isinstance(layer, keras.layers.Dropout):
            continue  # identity at inference
        prefix = f"L{len(recurrent) + len(dense)}"
        if isinstance(layer, keras.layers.Bidirectional):
            if dense:
                raise _unsupported(layer, "recurrent layers after a Dense layer")
            if layer.merge_mode not in ("concat", "sum", "ave", "mul"):
                raise _unsupported(layer, f"merge_mode={layer.merge_mode!r}")
            fwd, bwd = layer.forward_layer, layer.backward_layer
            cells = [
                _cell_from_layer(fwd, prefix + "f", width, quantization, sparse_format),
                _cell_from_layer(bwd, prefix + "b", width, quantization, sparse_format),
            ]
            rec = _Recurrent(layer.name, cells, bool(layer.return_sequences), layer.merge_mode)
        elif isinstance(layer, keras.layers.RNN):
            if dense:
                raise _unsupported(layer, "recurrent layers after a Dense layer")
            if layer.go_backwards:
                raise _unsupported(layer, "go_backwards=True outside Bidirectional")
            cell = _cell_from_layer(layer, prefix, width, quantization, sparse_format)
            rec = _Recurrent(layer.name, [cell], bool(layer.return_sequences), None)
        elif type(layer) is keras.layers.Dense:
            if not recurrent:
                raise _unsupported(layer, "a Dense layer before any recurrent layer")
            act = _act_name(layer.activation)
            if act not in _DENSE_ACTIVATIONS:
                raise _unsupported(layer, f"activation {act!r}; supported {_DENSE_ACTIVATIONS}")
            weights = layer.get_weights()
            mat = pack_matrix(
                weights[0].T, quantization, sparse_format, name=f"{prefix}_W", layer=layer.name,
                role="W",
            )
            bias = np.asarray(weights[1], np.float32) if len(weights) > 1 else None
            dense.append(_Dense(layer.name, prefix, int(layer.units), act, mat, bias))
            width = int(layer.units)
            continue
        else:
            raise _unsupported(layer)
        recurrent.append(rec)
        width = rec.width
    if not recurrent:
        raise ValueError(f"The model has no recurrent layer. Supported: {SUPPORTED_LAYERS}.")
    for rec in recurrent[:-1]:
        if not rec.return_sequences:
            raise ValueError(
                f"Recurrent layer {rec.name!r} feeds another recurrent layer but has "
                "return_sequences=False."
            )
    if recurrent[-1].return_sequences:
        raise ValueError(
            f"The last recurrent layer {recurrent[-1].name!r} has return_sequences=True; to_c "
            "generates models that output one vector per sequence (set return_sequences=False)."
        )
    return timesteps, int(shape[2]), recurrent, dense


# --------------------------------------------------------------------------------------------
# C emission
# --------------------------------------------------------------------------------------------


def _fmt_array(values: np.ndarray) -> str:
    if values.dtype == np.float32:
        items = [f"{float(v):.9g}f" for v in values]
        items = [s if ("." in s or "e" in s or "inf" in s or "nan" in s) else s[:-1] + ".0f"
                 for s in items]
    else:
        items = [str(int(v)) for v in values]
    if not items:
        items = ["0"]
    per_line = 12 if values.dtype == np.float32 else 24
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n    " + ",\n    ".join(lines) + "\n}"


class _Emitter:
    def __init__(self, name: str, quantization: str):
        self.name = name
        self.q = quantization
        self.const_lines: list[str] = []
        self.flash: dict[str, int] = {}
        self.ram: dict[str, int] = {}
        self.helpers: set[str] = set()
        self.acts: set[str] = set()

    def const(self, ident: str, arr: np.ndarray) -> str:
        full = f"{self.name}_{ident}"
        ctype = _C_TYPES[arr.dtype]
        n = max(1, arr.size)
        self.const_lines.append(
            f"static const {ctype} {full}[{n}] = {_fmt_array(arr.reshape(-1))};"
        )
        self.flash[full] = n * arr.dtype.itemsize
        return full

    def buffer(self, ident: str, ctype: str, n: int) -> str:
        full = f"{self.name}_{ident}"
        self.ram[full] = (n, ctype)
        return full

    def act(self, name: str, expr: str) -> str:
        self.acts.add(name)
        return f"{self.name}_{name}({expr})"

    def matrix(self, m: PackedMatrix) -> dict:
        """Emit a matrix's arrays; return names for :meth:`matvec`."""
        out = {"m": m, "val": self.const(f"{m.name}_val", m.values)}
        if m.indices is not None:
            out["idx"] = self.const(f"{m.name}_idx", m.indices)
            out["ptr"] = self.const(f"{m.name}_ptr", m.indptr)
        if m.scales is not None:
            out["scale"] = self.const(f"{m.name}_scale", m.scales)
        return out

    def helper_name(self, m: PackedMatrix) -> str:
        vt = "i8" if self.q == "int8" else "f32"
        if m.format == "dense":
            key = f"dense_{vt}"
        else:
            key = (f"{m.format}_{vt}_{_C_TYPES[m.indices.dtype][:-2]}"
                   f"_{_C_TYPES[m.indptr.dtype][:-2]}")
        self.helpers.add(key)
        return f"{self.name}_mv_{key}"

    def matvec(self, arrays: dict, x: str, y: str, xs: str | None = None) -> str:
        """``y += M x`` (int8: x is the int8 vector and ``xs`` its scale)."""
        m = arrays["m"]
        fn = self.helper_name(m)
        args = [str(m.rows)]
        if m.format == "dense":
            args.append(str(m.cols))
        args.append(arrays["val"])
        if m.format != "dense":
            args += [arrays["idx"], arrays["ptr"]]
        if self.q == "int8":
            args += [arrays["scale"], x, xs]
        else:
            args.append(x)
        args.append(y)
        return f"{fn}({', '.join(args)});"

    def helper_source(self, key: str) -> str:
        p = self.name
        parts = key.split("_")
        fmt, vt = parts[0], parts[1]
        int8 = vt == "i8"
        vtype = "int8_t" if int8 else "float"
        xtype = "int8_t" if int8 else "float"
        acc = "int32_t" if int8 else "float"
        tail = (f"const float *scale, const {xtype} *x, float xs, float *y" if int8
                else "const float *x, float *y")
        finish = "y[r] += (float)acc * (scale[r] * xs);" if int8 else "y[r] += acc;"
        mul = "(int32_t)" if int8 else ""
        if fmt == "dense":
            return (
                f"static void {p}_mv_{key}(int rows, int cols, const {vtype} *val, {tail}) {{\n"
                f"    int r, c;\n"
                f"    for (r = 0; r < rows; ++r) {{\n"
                f"        const {vtype} *row = val + (long)r * cols;\n"
                f"        {acc} acc = 0;\n"
                f"        for (c = 0; c < cols; ++c) acc += {mul}row[c] * x[c];\n"
                f"        {finish}\n"
                f"    }}\n}}\n"
            )
        itype, ptype = parts[2] + "_t", parts[3] + "_t"
        if fmt == "csr":
            inner = f"acc += {mul}val[k] * x[idx[k]];"
        else:
            inner = (
                f"const {vtype} *v = val + (long)k * {_BLOCK}; "
                f"const {xtype} *xb = x + (int)idx[k] * {_BLOCK};\n"
                f"            acc += {mul}v[0] * xb[0] + {mul}v[1] * xb[1] + {mul}v[2] * xb[2]"
                f" + {mul}v[3] * xb[3];"
            )
        return (
            f"static void {p}_mv_{key}(int rows, const {vtype} *val, const {itype} *idx,"
            f" const {ptype} *ptr, {tail}) {{\n"
            f"    int r;\n"
            f"    for (r = 0; r < rows; ++r) {{\n"
            f"        {acc} acc = 0;\n"
            f"        long k;\n"
            f"        for (k = (long)ptr[r]; k < (long)ptr[r + 1]; ++k) {{\n"
            f"            {inner}\n"
            f"        }}\n"
            f"        {finish}\n"
            f"    }}\n}}\n"
        )


def _generate(name: str, quantization: str, timesteps, n_features: int, recurrent, dense,
              max_steps: int | None):
    e = _Emitter(name, quantization)
    p = name
    int8 = quantization == "int8"
    fns: list[str] = []  # step functions
    body: list[str] = []  # predict body
    resets: list[str] = []

    # Shared scratch sizes.
    max_gate = max(c.units * {"lstm": 4, "gru": 3, "simple_rnn": 1}[c.kind]
                   for r in recurrent for c in r.cells)
    max_vec = max([n_features] + [c.units for r in recurrent for c in r.cells]
                  + [r.width for r in recurrent] + [d.units for d in dense])
    za = e.buffer("za", "float", max_gate)
    any_gru = any(c.kind == "gru" for r in recurrent for c in r.cells)
    zb = e.buffer("zb", "float", max_gate) if any_gru else None
    any_gru_ra_false = any(c.kind == "gru" and not c.reset_after
                           for r in recurrent for c in r.cells)
    rh = e.buffer("rh", "float", max_vec) if any_gru_ra_false else None
    qbuf = e.buffer("q", "int8_t", max_vec) if int8 else None

    def prod(arrays, vec: str, n: int, y: str) -> list[str]:
        if int8:
            return [f"xs = {p}_quantize({vec}, {n}, {qbuf});",
                    e.matvec(arrays, qbuf, y, "xs")]
        return [e.matvec(arrays, vec, y)]

    def init_bias(bias, n: int, ident: str, target: str) -> list[str]:
        if bias is None:
            return [f"for (j = 0; j < {n}; ++j) {target}[j] = 0.0f;"]
        b = e.const(ident, bias)
        return [f"for (j = 0; j < {n}; ++j) {target}[j] = {b}[j];"]

    for rec in recurrent:
        for cell in rec.cells:
            u = cell.units
            h = e.buffer(f"{cell.prefix}_h", "float", u)
            resets.append(f"for (j = 0; j < {u}; ++j) {h}[j] = 0.0f;")
            c_state = None
            if cell.kind == "lstm":
                c_state = e.buffer(f"{cell.prefix}_c", "float", u)
                resets.append(f"for (j = 0; j < {u}; ++j) {c_state}[j] = 0.0f;")
            arrays = {role: e.matrix(m) for role, m in cell.mats.items()}
            ra, act = cell.recurrent_activation, cell.activation
            lines = [f"/* {cell.kind} {cell.layer!r}: {u} units, {cell.n_in} inputs */",
                     f"static void {p}_{cell.prefix}_step(const float *x) {{",
                     "    int j;"]
            if int8:
                lines.append("    float xs;")
            L = []
            n_gate = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell.kind] * u
            L += init_bias(cell.bias, n_gate, f"{cell.prefix}_b", za)
            L += prod(arrays["W"], "x", cell.n_in, za)
            if cell.kind == "simple_rnn":
                L += prod(arrays["U"], h, u, za)
                L.append(f"for (j = 0; j < {u}; ++j) {h}[j] = {e.act(act, f'{za}[j]')};")
            elif cell.kind == "lstm":
                L += prod(arrays["U"], h, u, za)
                L += [
                    f"for (j = 0; j < {u}; ++j) {{",
                    f"    float i_g = {e.act(ra, f'{za}[j]')};",
                    f"    float f_g = {e.act(ra, f'{za}[{u} + j]')};",
                    f"    float c_g = {e.act(act, f'{za}[{2 * u} + j]')};",
                    f"    float o_g = {e.act(ra, f'{za}[{3 * u} + j]')};",
                    f"    {c_state}[j] = f_g * {c_state}[j] + i_g * c_g;",
                    f"    {h}[j] = o_g * {e.act(act, f'{c_state}[j]')};",
                    "}",
                ]
            elif cell.reset_after:
                L += init_bias(cell.bias_rec, n_gate, f"{cell.prefix}_br", zb)
                L += prod(arrays["U"], h, u, zb)
                L += [
                    f"for (j = 0; j < {u}; ++j) {{",
                    f"    float z_g = {e.act(ra, f'{za}[j] + {zb}[j]')};",
                    f"    float r_g = {e.act(ra, f'{za}[{u} + j] + {zb}[{u} + j]')};",
                    f"    float hh = {e.act(act, f'{za}[{2 * u} + j] + r_g * {zb}[{2 * u} + j]')};",
                    f"    {h}[j] = z_g * {h}[j] + (1.0f - z_g) * hh;",
                    "}",
                ]
            else:
                L += prod(arrays["Uzr"], h, u, za)
                L += [
                    f"for (j = 0; j < {u}; ++j) {{",
                    f"    {zb}[j] = {e.act(ra, f'{za}[j]')};",
                    f"    {rh}[j] = {e.act(ra, f'{za}[{u} + j]')} * {h}[j];",
                    "}",
                ]
                L += prod(arrays["Uh"], rh, u, f"{za} + {2 * u}")
                L += [
                    f"for (j = 0; j < {u}; ++j) {{",
                    f"    float hh = {e.act(act, f'{za}[{2 * u} + j]')};",
                    f"    {h}[j] = {zb}[j] * {h}[j] + (1.0f - {zb}[j]) * hh;",
                    "}",
                ]
            lines += ["    " + s for s in L] + ["}"]
            fns.append("\n".join(lines))

    # ---- the predict body: stream chains of unidirectional layers, buffer around Bidirectional.
    need_buffers = any(r.merge_mode for r in recurrent[1:]) or any(
        r.merge_mode and r.return_sequences for r in recurrent)
    if need_buffers and not max_steps:
        raise ValueError(
            "This model has a Bidirectional layer that needs whole-sequence buffers, but the "
            "number of time steps is unknown: pass max_steps= to to_c."
        )
    # Two ping-pong sequence buffers, registered after the plan so each gets the width it needs
    # (an unused one is not emitted at all).
    seq_bufs = [f"{p}_seq0", f"{p}_seq1"]
    seq_widths = [0, 0]
    src, src_w = "input", n_features  # random-access source of the next layer
    final = None
    i = 0
    n_buf = 0
    while i < len(recurrent):
        rec = recurrent[i]
        last = i == len(recurrent) - 1
        if rec.merge_mode is None:
            chain = []
            while i < len(recurrent) and recurrent[i].merge_mode is None:
                chain.append(recurrent[i])
                i += 1
            ends = i == len(recurrent)
            body.append("for (t = 0; t < n_steps; ++t) {")
            body.append(f"    const float *v = {src} + (long)t * {src_w};")
            for r in chain:
                cell = r.cells[0]
                body.append(f"    {p}_{cell.prefix}_step(v);")
                body.append(f"    v = {p}_{cell.prefix}_h;")
            if not ends:
                out = seq_bufs[n_buf % 2]
                w = chain[-1].width
                seq_widths[n_buf % 2] = max(seq_widths[n_buf % 2], w)
                n_buf += 1
                body.append(f"    for (j = 0; j < {w}; ++j) {out}[(long)t * {w} + j] = v[j];")
                src, src_w = out, w
            body.append("}")
            if ends:
                final = f"{p}_{chain[-1].cells[0].prefix}_h"
            continue
        fwd, bwd = rec.cells
        u = fwd.units
        hf, hb = f"{p}_{fwd.prefix}_h", f"{p}_{bwd.prefix}_h"
        if rec.return_sequences:
            out = seq_bufs[n_buf % 2]
            w = rec.width
            seq_widths[n_buf % 2] = max(seq_widths[n_buf % 2], w)
            n_buf += 1
            merge = {"sum": "{o} += {b}", "ave": "{o} = 0.5f * ({o} + {b})",
                     "mul": "{o} *= {b}"}.get(rec.merge_mode)
            body += [
                "for (t = 0; t < n_steps; ++t) {",
                f"    {p}_{fwd.prefix}_step({src} + (long)t * {src_w});",
                f"    for (j = 0; j < {u}; ++j) {out}[(long)t * {w} + j] = {hf}[j];",
                "}",
                "for (t = n_steps - 1; t >= 0; --t) {",
                f"    {p}_{bwd.prefix}_step({src} + (long)t * {src_w});",
            ]
            if rec.merge_mode == "concat":
                body.append(
                    f"    for (j = 0; j < {u}; ++j) {out}[(long)t * {w} + {u} + j] = {hb}[j];"
                )
            else:
                o = f"{out}[(long)t * {w} + j]"
                merged = merge.format(o=o, b=f"{hb}[j]")
                body.append(f"    for (j = 0; j < {u}; ++j) {merged};")
            body.append("}")
            src, src_w = out, w
        else:
            assert last
            fin = e.buffer("final", "float", rec.width)
            body += [
                "for (t = 0; t < n_steps; ++t) "
                + f"{p}_{fwd.prefix}_step({src} + (long)t * {src_w});",
                "for (t = n_steps - 1; t >= 0; --t) "
                + f"{p}_{bwd.prefix}_step({src} + (long)t * {src_w});",
            ]
            if rec.merge_mode == "concat":
                body += [f"for (j = 0; j < {u}; ++j) {{ {fin}[j] = {hf}[j]; "
                         f"{fin}[{u} + j] = {hb}[j]; }}"]
            else:
                expr = {"sum": f"{hf}[j] + {hb}[j]", "ave": f"0.5f * ({hf}[j] + {hb}[j])",
                        "mul": f"{hf}[j] * {hb}[j]"}[rec.merge_mode]
                body.append(f"for (j = 0; j < {u}; ++j) {fin}[j] = {expr};")
            final = fin
        i += 1

    for k, w in enumerate(seq_widths):
        if w:
            e.buffer(f"seq{k}", "float", max_steps * w)

    # ---- dense head
    width = recurrent[-1].width
    vec = final
    # Ping-pong buffers for hidden Dense layers (the last one writes straight into output).
    hidden = [d.units for d in dense[:-1]]
    dense_bufs = [e.buffer(f"d{k}", "float", max(hidden)) for k in range(min(2, len(hidden)))]
    for k, d in enumerate(dense):
        arrays = e.matrix(d.mat)
        out = "output" if k == len(dense) - 1 else dense_bufs[k % 2]
        body.append(f"/* Dense {d.name!r}: {width} -> {d.units}, {d.activation} */")
        if d.bias is None:
            body.append(f"for (j = 0; j < {d.units}; ++j) {out}[j] = 0.0f;")
        else:
            b = e.const(f"{d.prefix}_b", d.bias)
            body.append(f"for (j = 0; j < {d.units}; ++j) {out}[j] = {b}[j];")
        body += prod(arrays, vec, width, out)
        if d.activation == "softmax":
            body += [
                "{",
                f"    float mx = {out}[0], sum = 0.0f;",
                f"    for (j = 1; j < {d.units}; ++j) if ({out}[j] > mx) mx = {out}[j];",
                f"    for (j = 0; j < {d.units}; ++j) {{",
                f"        {out}[j] = {e.act('exp', f'{out}[j] - mx')};",
                f"        sum += {out}[j];",
                "    }",
                f"    for (j = 0; j < {d.units}; ++j) {out}[j] /= sum;",
                "}",
            ]
        elif d.activation != "linear":
            body.append(f"for (j = 0; j < {d.units}; ++j) {out}[j] = "
                        f"{e.act(d.activation, f'{out}[j]')};")
        vec, width = out, d.units
    n_out = width
    if not dense:
        body.append(f"for (j = 0; j < {n_out}; ++j) output[j] = {final}[j];")

    # ---- assemble
    flash_bytes = sum(e.flash.values())
    ctype_size = {"float": 4, "int8_t": 1}
    ram = {k: n * ctype_size[ct] for k, (n, ct) in e.ram.items()}
    ram_bytes = sum(ram.values())
    guard = f"{p.upper()}_H_"
    P = p.upper()
    limit = max_steps if need_buffers else 0
    header = f"""/* Generated by tf_expander_pruning.codegen: {quantization}, one sequence per call.
 * Flash (const weights, indices, scales, biases): {flash_bytes} bytes.
 * Static RAM (states and scratch, no heap):        {ram_bytes} bytes.
 */
#ifndef {guard}
#define {guard}

#ifdef __cplusplus
extern "C" {{
#endif

#define {P}_N_FEATURES {n_features}
#define {P}_N_OUTPUTS {n_out}
#define {P}_TIMESTEPS {timesteps or 0} /* the Keras model's time steps (0 = any) */
#define {P}_MAX_STEPS {limit} /* longest sequence accepted (0 = no limit) */
#define {P}_FLASH_BYTES {flash_bytes}
#define {P}_RAM_BYTES {ram_bytes}

/* Run the model on input[n_steps * {P}_N_FEATURES] (time-major, row per step) and write
 * output[{P}_N_OUTPUTS].  Returns 0, or -1 if n_steps is < 1 or > {P}_MAX_STEPS (when nonzero).
 * Not reentrant: state lives in static buffers. */
int {p}_predict(const float *input, int n_steps, float *output);

#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"""
    src_lines = [
        f"/* Generated by tf_expander_pruning.codegen ({quantization}). C99, no heap, no libm. */",
        f'#include "{p}.h"',
        "#include <stdint.h>",
        "",
        "/* ---- weights (flash) ---- */",
        *e.const_lines,
        "",
        "/* ---- static RAM ---- */",
    ]
    for k, (n, ct) in e.ram.items():
        src_lines.append(f"static {ct} {k}[{n}]; /* {ram[k]} bytes */")
    src_lines.append("")
    act_src = ACTIVATION_C.replace("PFX", p)
    # Only emit what is used so -Wunused-function stays quiet.
    needed = set(e.acts)
    if "sigmoid" in needed:
        needed.add("tanh")
    blocks = act_src.split("\nstatic float ")
    src_lines.append(blocks[0])
    for blk in blocks[1:]:
        fname = blk.split("(", 1)[0][len(p) + 1 :]
        if fname in needed:
            src_lines.append("static float " + blk.rstrip() + "\n")
    if int8:
        src_lines.append(
            f"""/* Symmetric per-vector int8 quantisation; returns the scale (0: zero vector). */
static float {p}_quantize(const float *x, int n, int8_t *q) {{
    int i;
    float amax = 0.0f, inv;
    for (i = 0; i < n; ++i) {{
        float a = x[i] < 0.0f ? -x[i] : x[i];
        if (a > amax) amax = a;
    }}
    if (amax == 0.0f) {{
        for (i = 0; i < n; ++i) q[i] = 0;
        return 0.0f;
    }}
    inv = 127.0f / amax;
    for (i = 0; i < n; ++i) {{
        float v = x[i] * inv;
        int r = (int)(v >= 0.0f ? v + 0.5f : v - 0.5f);
        q[i] = (int8_t)(r > 127 ? 127 : (r < -127 ? -127 : r));
    }}
    return amax / 127.0f;
}}
"""
        )
    for key in sorted(e.helpers):
        src_lines.append(e.helper_source(key))
    src_lines += fns
    src_lines.append("")
    predict = [
        f"int {p}_predict(const float *input, int n_steps, float *output) {{",
        "    int j, t;",
    ]
    if int8:
        predict.append("    float xs;")
    if limit:
        predict.append(f"    if (n_steps < 1 || n_steps > {limit}) return -1;")
    else:
        predict.append("    if (n_steps < 1) return -1;")
    predict += ["    " + s for s in resets]
    predict += ["    " + s for s in body]
    predict += ["    return 0;", "}", ""]
    source = "\n".join(src_lines) + "\n" + "\n".join(predict)
    return header, source, flash_bytes, ram_bytes, ram, dict(e.flash), n_out


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


@dataclass
class CModel:
    """Generated C for one model.  ``header``/``source`` are the text of ``NAME.h``/``NAME.c``.

    Sizes: ``flash_bytes`` = every ``const`` array (weight values, indices, row pointers, int8
    row scales, biases); ``weight_bytes`` = values + indices + row pointers only;
    ``ram_bytes`` = every ``static`` buffer (recurrent states, gate scratch, int8 vector scratch,
    sequence buffers for Bidirectional, Dense ping-pong buffers).  The code itself (text) is not
    counted in either (it is a few kB and compiler dependent).
    """

    name: str
    quantization: str
    header: str
    source: str
    flash_bytes: int
    weight_bytes: int
    ram_bytes: int
    ram_buffers: dict
    flash_arrays: dict
    matrices: list
    n_features: int
    n_outputs: int
    timesteps: int | None
    max_steps: int

    def write(self, directory: str | os.PathLike) -> list[Path]:
        """Write ``NAME.h`` and ``NAME.c`` into ``directory`` (created); return their paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        h, c = out / f"{self.name}.h", out / f"{self.name}.c"
        h.write_text(self.header)
        c.write_text(self.source)
        return [h, c]

    def summary(self) -> str:
        """Human-readable table of matrices, formats and sizes."""
        lines = [
            f"{self.name}: {self.quantization}, flash {self.flash_bytes} B "
            f"(weights+indices {self.weight_bytes} B), static RAM {self.ram_bytes} B",
            f"  {'matrix':<18}{'layer':<16}{'shape':>10}{'sparsity':>10}{'format':>7}"
            f"{'bytes':>8}  (dense / csr / bcsr)",
        ]
        for m in self.matrices:
            cands = " / ".join(str(m.candidate_bytes.get(f, "-")) for f in ("dense", "csr", "bcsr"))
            lines.append(
                f"  {m.name:<18}{m.layer[:15]:<16}{f'{m.rows}x{m.cols}':>10}"
                f"{m.sparsity:>10.1%}{m.format:>7}{m.weight_bytes:>8}  ({cands})"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def to_c(
    model,
    *,
    quantization: str = "int8",
    name: str = "model",
    sparse_format: str = "auto",
    max_steps: int | None = None,
) -> CModel:
    """Generate a dependency-free C99 header/source pair running ``model`` on one sequence.

    Args:
        model: a tf_keras model: a linear chain of SimpleRNN/LSTM/GRU/Bidirectional layers (all
            but the last with ``return_sequences=True``) and Dense layers.  Pruning wrappers are
            stripped first.
        quantization: ``"int8"`` (per-row weight scales, int32 accumulation) or ``"float32"``.
        name: C identifier prefix; files are ``NAME.h``/``NAME.c`` and the entry point
            ``int NAME_predict(const float *input, int n_steps, float *output)``.
        sparse_format: ``"auto"`` (smallest per matrix) or force ``"dense"``, ``"csr"``, ``"bcsr"``.
        max_steps: longest sequence, needed only for sequence buffers around Bidirectional
            layers; defaults to the model's fixed time dimension.

    Returns:
        :class:`CModel` with ``header``, ``source``, ``write(directory)``, ``flash_bytes``,
        ``weight_bytes``, ``ram_bytes`` and the per-matrix ``matrices``.

    Raises:
        ValueError: an unsupported layer or configuration (the message names the layer).
    """
    keras_compat.check_model(model)
    if quantization not in ("int8", "float32"):
        raise ValueError(f"quantization must be 'int8' or 'float32', got {quantization!r}")
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"name must be a C identifier, got {name!r}")
    if sparse_format not in _FORMATS:
        raise ValueError(f"sparse_format must be one of {_FORMATS}, got {sparse_format!r}")
    model = _strip(model)
    timesteps, n_features, recurrent, dense = _parse(model, quantization, sparse_format)
    steps = max_steps or timesteps
    header, source, flash, ram, ram_buffers, flash_arrays, n_out = _generate(
        name, quantization, timesteps, n_features, recurrent, dense, steps
    )
    matrices = [m for r in recurrent for c in r.cells for m in c.mats.values()]
    matrices += [d.mat for d in dense]
    need_buffers = any(name_.endswith("_seq0") for name_ in ram_buffers)
    return CModel(
        name=name,
        quantization=quantization,
        header=header,
        source=source,
        flash_bytes=flash,
        weight_bytes=sum(m.weight_bytes for m in matrices),
        ram_bytes=ram,
        ram_buffers=ram_buffers,
        flash_arrays=flash_arrays,
        matrices=matrices,
        n_features=n_features,
        n_outputs=n_out,
        timesteps=timesteps,
        max_steps=int(steps) if need_buffers else 0,
    )


# --------------------------------------------------------------------------------------------
# Compilation and verification
# --------------------------------------------------------------------------------------------

_HARNESS = """#include "{name}.h"
/* Test/benchmark harness: runs a batch (optionally several times) in one call. */
int {name}_run_batch(const float *x, int n_seq, int n_steps, int repeats, float *y) {{
    int rep, i;
    for (rep = 0; rep < repeats; ++rep)
        for (i = 0; i < n_seq; ++i)
            if ({name}_predict(x + (long)i * n_steps * {upper}_N_FEATURES, n_steps,
                               y + (long)i * {upper}_N_OUTPUTS) != 0)
                return -1;
    return 0;
}}
"""


def _compiler() -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise FileNotFoundError(
            f"No C compiler {cc!r} on PATH: install gcc (e.g. apt-get install gcc) or set CC."
        )
    return cc


class CompiledModel:
    """A :class:`CModel` compiled into a shared library and loaded with ctypes."""

    def __init__(self, c_model: CModel, directory: str | os.PathLike | None = None,
                 flags: tuple[str, ...] = ("-O2",)):
        self.c_model = c_model
        self._tmp = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tep_codegen_")
            directory = self._tmp.name
        self.directory = Path(directory)
        c_model.write(self.directory)
        harness = self.directory / f"{c_model.name}_harness.c"
        harness.write_text(_HARNESS.format(name=c_model.name, upper=c_model.name.upper()))
        self.library = self.directory / f"lib{c_model.name}.so"
        cmd = [_compiler(), "-std=c99", *flags, "-Wall", "-Wextra", "-fPIC", "-shared",
               "-o", str(self.library), str(self.directory / f"{c_model.name}.c"), str(harness)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"C compilation failed ({' '.join(cmd)}):\n{proc.stderr}")
        self.warnings = proc.stderr
        self._lib = ctypes.CDLL(str(self.library))
        fn = getattr(self._lib, f"{c_model.name}_run_batch")
        fp = ctypes.POINTER(ctypes.c_float)
        fn.argtypes = [fp, ctypes.c_int, ctypes.c_int, ctypes.c_int, fp]
        fn.restype = ctypes.c_int
        self._run = fn

    def _call(self, x: np.ndarray, repeats: int) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] != self.c_model.n_features:
            raise ValueError(
                f"inputs must be (batch, time, {self.c_model.n_features}), got {x.shape}"
            )
        y = np.zeros((x.shape[0], self.c_model.n_outputs), np.float32)
        fp = ctypes.POINTER(ctypes.c_float)
        rc = self._run(x.ctypes.data_as(fp), x.shape[0], x.shape[1], repeats, y.ctypes.data_as(fp))
        if rc != 0:
            raise ValueError(
                f"The C model rejected n_steps={x.shape[1]} (max {self.c_model.max_steps})."
            )
        return y

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run the C model on a batch ``(batch, time, features)``; returns ``(batch, outputs)``."""
        return self._call(x, 1)

    def seconds_per_sequence(self, x: np.ndarray, repeats: int = 10) -> float:
        """Wall time of one C inference (batch run ``repeats`` times inside C, best of 3)."""
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            self._call(x, repeats)
            best = min(best, time.perf_counter() - start)
        return best / (repeats * len(x))

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def compile_model(c_model: CModel, directory: str | os.PathLike | None = None,
                  flags: tuple[str, ...] = ("-O2",)) -> CompiledModel:
    """Compile ``c_model`` with the system C compiler (``$CC`` or ``cc``) into a shared library."""
    return CompiledModel(c_model, directory, flags)


@dataclass
class VerifyReport:
    """Result of :func:`verify`: C vs Keras on the same inputs, plus the C sizes."""

    quantization: str
    n_sequences: int
    max_abs_diff: float
    argmax_agreement: float
    flash_bytes: int
    weight_bytes: int
    ram_bytes: int
    keras_accuracy: float | None = None
    c_accuracy: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        s = (f"{self.quantization} C vs Keras on {self.n_sequences} sequences: max |diff| "
             f"{self.max_abs_diff:.3g}, argmax agreement {self.argmax_agreement:.2%}; flash "
             f"{self.flash_bytes} B (weights+indices {self.weight_bytes} B), static RAM "
             f"{self.ram_bytes} B")
        if self.c_accuracy is not None:
            s += f"; accuracy Keras {self.keras_accuracy:.2%}, C {self.c_accuracy:.2%}"
        return s


def verify(
    model,
    inputs: np.ndarray,
    *,
    quantization: str = "int8",
    labels: np.ndarray | None = None,
    name: str = "model",
    sparse_format: str = "auto",
    c_model: CModel | None = None,
) -> VerifyReport:
    """Generate (or take) the C for ``model``, compile it, run it on ``inputs`` and compare.

    Returns a :class:`VerifyReport` with ``max_abs_diff`` (C vs Keras outputs),
    ``argmax_agreement``, ``flash_bytes``, ``weight_bytes``, ``ram_bytes`` and, when ``labels``
    are given, the accuracy of Keras and of the C model.
    """
    keras_compat.check_model(model)
    stripped = _strip(model)
    if c_model is None:
        c_model = to_c(stripped, quantization=quantization, name=name, sparse_format=sparse_format)
    x = np.asarray(inputs, dtype=np.float32)
    expected = np.asarray(stripped.predict(x, verbose=0), dtype=np.float64)
    compiled = compile_model(c_model)
    try:
        got = compiled.predict(x).astype(np.float64)
    finally:
        compiled.close()
    from tf_expander_pruning.deployment.report import compare_outputs as _compare_outputs

    max_abs_diff, agreement, keras_accuracy, c_accuracy = _compare_outputs(expected, got, labels)
    return VerifyReport(
        quantization=c_model.quantization,
        n_sequences=len(x),
        max_abs_diff=max_abs_diff,
        argmax_agreement=agreement,
        flash_bytes=c_model.flash_bytes,
        weight_bytes=c_model.weight_bytes,
        ram_bytes=c_model.ram_bytes,
        keras_accuracy=keras_accuracy,
        c_accuracy=c_accuracy,
    )
