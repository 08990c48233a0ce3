"""Collects what the generated C is made of: const arrays (flash), static buffers (RAM), kernels,
activations, and the arithmetic of one numeric mode as C expressions.

Three modes share one code path (the cell emitters only ask for expressions):

* ``float32``: float weights and values.
* ``int8``: int8 weights, float values; each vector is quantised to int8 at every product.
* ``integer``: int8 weights, Q16 int32 values, int16 vectors at every product; no float.
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.deployment.codegen import activations, kernels
from tf_expander_pruning.deployment.codegen.packing import (
    C_TYPES,
    PackedMatrix,
    quantize_multiplier,
)

__all__ = ["Emitter", "fmt_array"]

_KERNEL_MODE = {"float32": "f32", "int8": "i8", "integer": "q"}
_C_SIZES = {"float": 4, "int32_t": 4, "int16_t": 2, "int8_t": 1, "uint8_t": 1}


def fmt_array(values: np.ndarray) -> str:
    """A C initialiser ``{...}`` for a 1-D array (float literals keep 9 significant digits)."""
    if values.dtype == np.float32:
        items = [f"{float(v):.9g}f" for v in values]
        items = [s if ("." in s or "e" in s or "inf" in s or "nan" in s) else s[:-1] + ".0f"
                 for s in items]
    else:
        items = [str(int(v)) for v in values]
    if not items:
        items = ["0"]
    per_line = 12 if values.dtype == np.float32 else 24
    lines = [", ".join(items[i: i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n    " + ",\n    ".join(lines) + "\n}"


class Emitter:
    """Accumulates arrays, buffers and helper names for one generated model."""

    def __init__(self, name: str, mode: str, input_scale: float | None = None):
        self.name = name
        self.mode = mode
        self.input_scale = input_scale
        self.const_lines: list[str] = []
        self.flash: dict[str, int] = {}
        self.ram: dict[str, tuple[int, str]] = {}
        self.kernels: set[str] = set()
        self.acts: set[str] = set()

    # ---- numeric mode -----------------------------------------------------------------
    @property
    def integer(self) -> bool:
        return self.mode == "integer"

    @property
    def vtype(self) -> str:
        """C type of activations, states and outputs."""
        return "int32_t" if self.integer else "float"

    @property
    def qtype(self) -> str | None:
        """C type of the quantised vector scratch (``None`` for float32)."""
        return {"float32": None, "int8": "int8_t", "integer": "int16_t"}[self.mode]

    def lit(self, value: float) -> str:
        """A real constant as a C literal of the value type."""
        if self.integer:
            return str(int(round(value * activations.Q_ONE)))
        text = f"{value:.9g}"
        return text + ("f" if "." in text or "e" in text else ".0f")

    def mul(self, a: str, b: str) -> str:
        return f"{self.name}_qmul({a}, {b})" if self.integer else f"{a} * {b}"

    def act(self, name: str, expr: str) -> str:
        self.acts.add(name)
        return f"{self.name}_{name}({expr})"

    def values(self, array: np.ndarray) -> np.ndarray:
        """A float array in the value type (Q16 int32 in integer mode)."""
        array = np.asarray(array, np.float32).reshape(-1)
        if not self.integer:
            return array
        return np.round(array.astype(np.float64) * activations.Q_ONE).astype(np.int32)

    # ---- storage ------------------------------------------------------------------------
    def const(self, ident: str, arr: np.ndarray) -> str:
        full = f"{self.name}_{ident}"
        ctype = C_TYPES.get(arr.dtype) or {np.dtype(np.int32): "int32_t"}[arr.dtype]
        n = max(1, arr.size)
        self.const_lines.append(
            f"static const {ctype} {full}[{n}] = {fmt_array(arr.reshape(-1))};")
        self.flash[full] = n * arr.dtype.itemsize
        return full

    def buffer(self, ident: str, ctype: str, n: int) -> str:
        full = f"{self.name}_{ident}"
        self.ram[full] = (n, ctype)
        return full

    def ram_bytes(self) -> dict[str, int]:
        return {k: n * _C_SIZES[ct] for k, (n, ct) in self.ram.items()}

    def matrix(self, m: PackedMatrix, reads_input: bool = False) -> dict:
        """Emit a matrix's arrays; return the names :meth:`matvec` needs.

        Integer mode: the per-row scale becomes an int32 multiplier and a shift; a matrix fed
        by the int8 model input also folds in the input scale and the Q16 factor (its vector
        has no shift of its own).
        """
        out = {"m": m, "val": self.const(f"{m.name}_val", m.values)}
        if m.indices is not None:
            out["idx"] = self.const(f"{m.name}_idx", m.indices)
        if m.indptr is not None:
            out["ptr"] = self.const(f"{m.name}_ptr", m.indptr)
        if self.integer:
            scale = m.scales.astype(np.float64)
            if reads_input:
                scale = scale * self.input_scale * activations.Q_ONE
            mult, shift = quantize_multiplier(scale)
            out["mult"] = self.const(f"{m.name}_mult", mult)
            out["shift"] = self.const(f"{m.name}_shift", shift.astype(np.int8))
        elif m.scales is not None:
            out["scale"] = self.const(f"{m.name}_scale", m.scales)
        return out

    # ---- products -----------------------------------------------------------------------
    def matvec(self, arrays: dict, x: str, y: str, xs: str | None = None) -> str:
        """``y += M x`` (int8: ``x`` is the quantised vector and ``xs`` its scale or shift)."""
        m = arrays["m"]
        mode = _KERNEL_MODE[self.mode]
        itype = C_TYPES[m.indices.dtype] if m.indices is not None else None
        ptype = C_TYPES[m.indptr.dtype] if m.indptr is not None else None
        key = kernels.kernel_key(m.format, mode, itype, ptype)
        self.kernels.add(key)
        args = [str(m.rows)]
        if m.format in ("dense", "bitmap"):
            args.append(str(m.cols))
        args.append(arrays["val"])
        args += [arrays[k] for k in ("idx", "ptr") if k in arrays]
        if self.integer:
            args += [arrays["mult"], arrays["shift"], x, xs]
        elif self.mode == "int8":
            args += [arrays["scale"], x, xs]
        else:
            args.append(x)
        args.append(y)
        return f"{self.name}_mv_{key}({', '.join(args)});"

    def product(self, arrays: dict, vec: str, n: int, y: str, raw_input: bool = False) -> list[str]:
        """Lines computing ``y += M vec`` (quantising ``vec`` first in the int8 modes).

        ``raw_input``: ``vec`` is the caller's int8 input (integer mode): widened, not rescaled.
        """
        q = f"{self.name}_q"
        if self.mode == "float32":
            return [self.matvec(arrays, vec, y)]
        if self.mode == "int8":
            return [f"xs = {self.name}_quantize({vec}, {n}, {q});",
                    self.matvec(arrays, q, y, "xs")]
        if raw_input:
            return [f"for (j = 0; j < {n}; ++j) {q}[j] = (int16_t){vec}[j];",
                    self.matvec(arrays, q, y, "0")]
        return [f"sh = {self.name}_quantize({vec}, {n}, {q});", self.matvec(arrays, q, y, "sh")]

    def scale_decl(self) -> list[str]:
        """The local that :meth:`product` assigns (none for float32)."""
        return {"float32": [], "int8": ["float xs;"], "integer": ["int sh;"]}[self.mode]

    def init(self, target: str, n: int, bias: np.ndarray | None, ident: str) -> list[str]:
        """``target[0:n] = bias`` (or zeros)."""
        if bias is None:
            return [f"for (j = 0; j < {n}; ++j) {target}[j] = {self.lit(0.0)};"]
        b = self.const(ident, self.values(bias))
        return [f"for (j = 0; j < {n}; ++j) {target}[j] = {b}[j];"]
