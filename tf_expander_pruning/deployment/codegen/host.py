"""Compile generated C for the host with the system compiler and call it through ctypes."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from tf_expander_pruning.deployment.codegen.cmodel import CModel

__all__ = ["CompiledModel", "compile_c", "compile_model", "harness_source"]

_HARNESS = """#include "{name}.h"
/* Test/benchmark harness: runs a batch (optionally several times) in one call. */
int {name}_run_batch(const {xt} *x, int n_seq, int n_steps, int repeats, {ot} *y) {{
    int rep, i;
    for (rep = 0; rep < repeats; ++rep)
        for (i = 0; i < n_seq; ++i)
            if ({name}_predict{sfx}(x + (long)i * n_steps * {upper}_N_FEATURES, n_steps,
                               y + (long)i * {upper}_N_OUTPUTS) != 0)
                return -1;
    return 0;
}}
"""

_STREAM = """/* Streaming: reset per sequence, one step per frame; y gets every step's output. */
void {name}_run_stream(const {xt} *x, int n_seq, int n_steps, {ot} *y) {{
    int i, t;
    for (i = 0; i < n_seq; ++i) {{
        {name}_reset();
        for (t = 0; t < n_steps; ++t)
            {name}_step{sfx}(x + ((long)i * n_steps + t) * {upper}_N_FEATURES,
                        y + ((long)i * n_steps + t) * {upper}_N_OUTPUTS);
    }}
}}
"""


def harness_source(c_model: CModel) -> str:
    """C of ``NAME_run_batch`` (and ``NAME_run_stream`` for a streaming model)."""
    xt, ot, sfx = ("int8_t", "int32_t", "_q") if c_model.integer_only else ("float", "float", "")
    fields = dict(name=c_model.name, upper=c_model.name.upper(), xt=xt, ot=ot, sfx=sfx)
    text = _HARNESS.format(**fields)
    if c_model.streaming:
        text += _STREAM.format(**fields)
    return text


def _compiler() -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise FileNotFoundError(
            f"No C compiler {cc!r} on PATH: install gcc (e.g. apt-get install gcc) or set CC."
        )
    return cc


class CompiledModel:
    """A :class:`CModel` compiled into a shared library and loaded with ctypes.

    Float models take and return float32; integer-only models take float inputs too (quantised
    here with the model's ``input_scale``, as the caller's firmware would) and return the Q16
    outputs divided by 65536.
    """

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
        harness.write_text(harness_source(c_model))
        self.library = self.directory / f"lib{c_model.name}.so"
        cmd = [_compiler(), "-std=c99", *flags, "-Wall", "-Wextra", "-fPIC", "-shared",
               "-o", str(self.library), str(self.directory / f"{c_model.name}.c"), str(harness)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"C compilation failed ({' '.join(cmd)}):\n{proc.stderr}")
        self.warnings = proc.stderr
        self._lib = ctypes.CDLL(str(self.library))
        self._xtype = ctypes.c_int8 if c_model.integer_only else ctypes.c_float
        self._ytype = ctypes.c_int32 if c_model.integer_only else ctypes.c_float
        xp, yp = ctypes.POINTER(self._xtype), ctypes.POINTER(self._ytype)
        self._run = getattr(self._lib, f"{c_model.name}_run_batch")
        self._run.argtypes = [xp, ctypes.c_int, ctypes.c_int, ctypes.c_int, yp]
        self._run.restype = ctypes.c_int
        self._stream = None
        if c_model.streaming:
            self._stream = getattr(self._lib, f"{c_model.name}_run_stream")
            self._stream.argtypes = [xp, ctypes.c_int, ctypes.c_int, yp]
            self._stream.restype = None

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] != self.c_model.n_features:
            raise ValueError(
                f"inputs must be (batch, time, {self.c_model.n_features}), got {x.shape}")
        if self.c_model.integer_only:
            return np.ascontiguousarray(self.c_model.quantize_inputs(x))
        return np.ascontiguousarray(x)

    def _outputs(self, y: np.ndarray) -> np.ndarray:
        if self.c_model.integer_only:
            return (y.astype(np.float64) / 65536.0).astype(np.float32)
        return y

    def _call(self, x: np.ndarray, repeats: int) -> np.ndarray:
        xq = self._inputs(x)
        dtype = np.int32 if self.c_model.integer_only else np.float32
        y = np.zeros((xq.shape[0], self.c_model.n_outputs), dtype)
        rc = self._run(xq.ctypes.data_as(ctypes.POINTER(self._xtype)), xq.shape[0], xq.shape[1],
                       repeats, y.ctypes.data_as(ctypes.POINTER(self._ytype)))
        if rc != 0:
            raise ValueError(
                f"The C model rejected n_steps={xq.shape[1]} (max {self.c_model.max_steps}).")
        return self._outputs(y)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run the C model on a batch ``(batch, time, features)``; returns ``(batch, outputs)``."""
        return self._call(x, 1)

    def stream(self, x: np.ndarray) -> np.ndarray:
        """Feed each sequence frame by frame (``reset``, then ``step``): ``(batch, time, out)``."""
        if self._stream is None:
            raise ValueError(f"C model {self.c_model.name!r} cannot stream: a Bidirectional "
                             "layer needs the whole sequence.")
        xq = self._inputs(x)
        dtype = np.int32 if self.c_model.integer_only else np.float32
        y = np.zeros((xq.shape[0], xq.shape[1], self.c_model.n_outputs), dtype)
        self._stream(xq.ctypes.data_as(ctypes.POINTER(self._xtype)), xq.shape[0], xq.shape[1],
                     y.ctypes.data_as(ctypes.POINTER(self._ytype)))
        return self._outputs(y)

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


def compile_c(c_model: CModel, directory: str | os.PathLike | None = None,
              flags: tuple[str, ...] = ("-O2",)) -> CompiledModel:
    """Compile ``c_model`` with the system C compiler (``$CC`` or ``cc``) into a shared library."""
    return CompiledModel(c_model, directory, flags)


def compile_model(c_model: CModel, directory: str | os.PathLike | None = None,
                  flags: tuple[str, ...] = ("-O2",)) -> CompiledModel:
    """Deprecated name of :func:`compile_c` (``compile_model`` reads as a Keras compile)."""
    warnings.warn("`codegen.compile_model` is deprecated; use `codegen.compile_c` (the same "
                  "function).", DeprecationWarning, stacklevel=2)
    return compile_c(c_model, directory, flags)
