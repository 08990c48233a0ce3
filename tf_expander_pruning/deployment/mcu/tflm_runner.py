"""Run a ``.tflite`` model with TFLM's MicroInterpreter on the emulated Cortex-M4 (QEMU)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tf_expander_pruning.core.validation import check_choice, check_int
from tf_expander_pruning.deployment.mcu.modelinfo import RESOLVER_METHODS, ModelInfo, read_model
from tf_expander_pruning.deployment.mcu.program import (
    McuError,
    McuRun,
    compile_flags,
    compile_source,
    resource_dir,
    run_c_program,
)
from tf_expander_pruning.deployment.mcu.tflm_library import KERNELS, TflmLibrary, tflm_library

__all__ = ["Streaming", "TflmRun", "run_tflm", "DEFAULT_ARENA_BYTES"]

#: The defines the library is built with (third_party/tflm/Makefile); the harness must match.
TFLM_DEFINES = ("-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_DISABLE_X86_NEON", "-DNDEBUG",
                "-DTF_LITE_STRIP_ERROR_STRINGS")
#: Arena used when none is given; the run reports the bytes TFLM actually used.
DEFAULT_ARENA_BYTES = 1 << 20


@dataclass(frozen=True)
class Streaming:
    """How to run a one-step model over a sequence (see :func:`run_tflm`).

    ``x_input``: index of the model input that receives ``x_t``.  ``states``: pairs
    ``(output index, input index)``; after each step the output is copied into the input.
    """

    x_input: int = 0
    states: tuple[tuple[int, int], ...] = ()

    @classmethod
    def coerce(cls, value) -> Streaming:
        if isinstance(value, Streaming):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"x_input", "states"}
            if unknown:
                raise ValueError(f"`streaming` has unknown keys {sorted(unknown)}; use "
                                 "'x_input' and 'states'.")
            states = tuple((int(o), int(i)) for o, i in value.get("states", ()))
            return cls(int(value.get("x_input", 0)), states)
        raise TypeError("`streaming` must be None, a Streaming or a dict with 'x_input' and "
                        f"'states', got {type(value).__name__}.")


@dataclass
class TflmRun:
    """Outputs and costs of a TFLM run on the emulated core.

    ``outputs``: float32 ``(samples, ...)`` of the first returned output (dequantised);
    ``all_outputs`` has every returned output.  ``code_bytes``: text (code + constants) of the
    TFLM library members the linker kept (from the link map; harness, libc and model array
    excluded).  ``model_bytes``: the flatbuffer.  ``arena_bytes``: ``arena_used_bytes()`` (the
    smallest arena that works, the arena being 16-byte aligned).
    ``instructions_per_inference``: mean over samples of the instructions retired inside
    ``Invoke()`` (all T steps of a sequence when streaming); ``instructions`` per sample.
    """

    outputs: np.ndarray
    code_bytes: int
    model_bytes: int
    arena_bytes: int
    instructions_per_inference: int
    instructions: list[int] = field(default_factory=list)
    all_outputs: list[np.ndarray] = field(default_factory=list)
    kernels: str = "cmsis-nn"
    run: McuRun | None = None


def _c_bytes(data: bytes) -> str:
    lines = [",".join(str(b) for b in data[i:i + 40]) for i in range(0, len(data), 40)]
    return ",\n".join(lines) or "0"


def _register_ops(info: ModelInfo) -> str:
    missing = [op for op in info.ops if op not in RESOLVER_METHODS]
    if missing:
        raise ValueError(f"The model uses {', '.join(missing)}, which the vendored TFLM "
                         "(third_party/tflm) has no kernel for; it has "
                         f"{', '.join(RESOLVER_METHODS)}.")
    return " ".join(f"(r).{RESOLVER_METHODS[op]}();" for op in info.ops)


def _as_list(inputs, n: int) -> list[np.ndarray]:
    if n == 1 and not isinstance(inputs, (list, tuple)):
        return [np.asarray(inputs)]
    if not isinstance(inputs, (list, tuple)) or len(inputs) != n:
        raise ValueError(f"`inputs` must be a list of {n} arrays (one per fed model input).")
    return [np.asarray(x) for x in inputs]


def _input_data(info: ModelInfo, inputs, stream: Streaming | None) -> tuple[bytes, int, int, list]:
    """Raw input bytes in feeding order, number of samples, steps, and which inputs are fed."""
    n_in = len(info.inputs)
    if stream is None:
        fed = [True] * n_in
        arrays = _as_list(inputs, n_in)
        steps = 1
    else:
        fed = [i == stream.x_input for i in range(n_in)]
        x = np.asarray(inputs)
        if x.ndim < 2:
            raise ValueError("With `streaming`, `inputs` must be (samples, T, ...) for x_t.")
        steps = x.shape[1]
        arrays = [x.reshape(x.shape[0] * steps, *x.shape[2:])]
    tensors = [t for t, f in zip(info.inputs, fed, strict=True) if f]
    samples = len(arrays[0])
    parts = []
    for tensor, array in zip(tensors, arrays, strict=True):
        per = int(np.prod(tensor.shape, dtype=np.int64))
        if array.size != len(array) * per or len(array) != samples:
            raise ValueError(f"`inputs` for model input {tensor.index} must hold {per} values per "
                             f"sample (tensor shape {tensor.shape}), got {array.shape}.")
        parts.append(tensor.quantize(array.reshape(len(array), per)))
    # Interleave per (sample, step): the harness reads the fed inputs in index order each Invoke.
    chunks = [b"".join(p[k].tobytes() for p in parts) for k in range(samples)]
    return b"".join(chunks), samples // steps, steps, fed


def _model_source(tflite_bytes: bytes, info: ModelInfo, data: bytes, samples: int, steps: int,
                  fed: list, stream: Streaming | None, arena: int) -> str:
    """The per-run C file: flatbuffer, input bytes and run shape (read by the harness)."""
    states = stream.states if stream is not None else ()
    state_rows = ",".join(f"{{{o},{i}}}" for o, i in states) or "{-1,-1}"
    return f"""/* Generated by tf_expander_pruning.deployment.mcu.run_tflm */
#include <stdint.h>
#include <stddef.h>
struct TepState {{ int output; int input; }};
const int tep_samples = {samples}, tep_steps = {steps}, tep_n_states = {len(states)};
const struct TepState tep_states[] = {{{state_rows}}};
const unsigned char tep_fed[] = {{{",".join(str(int(f)) for f in fed)}}};
const size_t tep_input_bytes[] = {{{",".join(str(t.nbytes) for t in info.inputs)}}};
const size_t tep_arena_bytes = {arena};
uint8_t tep_arena[{arena}] __attribute__((aligned(16)));
const unsigned char tep_model[] __attribute__((aligned(16))) = {{
{_c_bytes(tflite_bytes)}
}};
const unsigned char tep_data[] = {{
{_c_bytes(data)}
}};
"""


def _harness_object(library: TflmLibrary, info: ModelInfo, target: str) -> Path:
    """The harness compiled for this op set, cached beside the library (C++ with TFLM headers
    takes tens of seconds to compile; the per-run data is plain C)."""
    ops = f"#define TEP_N_OPS {max(1, len(info.ops))}\n#define TEP_REGISTER_OPS(r) " \
          f"{_register_ops(info)}\n"
    harness = (resource_dir() / "tep_tflm_harness.cc").read_text()
    header = (resource_dir() / "tep_mcu.h").read_text()
    flags = compile_flags(target, cxx=True)
    key = hashlib.sha256("\0".join([ops, harness, header, *flags, *TFLM_DEFINES]).encode())
    key = key.hexdigest()
    cache = library.root / "harness"
    obj = cache / f"tep_tflm_harness_{key[:16]}.o"
    if obj.is_file():
        return obj
    cache.mkdir(exist_ok=True)
    print(f"[tep-mcu] compiling the TFLM harness for {', '.join(info.ops)} once (about a "
          "minute; cached)", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="tep_harness_", dir=cache) as tmp:
        (Path(tmp) / "tep_tflm_ops.h").write_text(ops)
        (Path(tmp) / "tep_tflm_harness.cc").write_text(harness)
        built = compile_source(Path(tmp) / "tep_tflm_harness.cc", Path(tmp) / obj.name,
                               target=target, include_dirs=library.include_dirs,
                               cflags=TFLM_DEFINES)
        os.replace(built, obj)  # atomic: a concurrent run sees the whole object or none
    return obj


def _parse_outputs(stdout: str, info: ModelInfo, samples: int) -> tuple[list, list[int], int]:
    arena = re.search(r"^TEP_ARENA (\d+)", stdout, re.M)
    raw = {(int(s), int(o)): h for s, o, h in re.findall(r"^TEP_OUT (\d+) (\d+) ([0-9a-f]*)$",
                                                          stdout, re.M)}
    counts = {int(s): int(n) for s, n in re.findall(r"^TEP_INSTR (\d+) (\d+)$", stdout, re.M)}
    if arena is None or len(counts) != samples or len(raw) != samples * len(info.outputs):
        raise McuError(f"The TFLM harness did not finish; its output:\n{stdout[-3000:]}")
    outputs = []
    for o, tensor in enumerate(info.outputs):
        values = [np.frombuffer(bytes.fromhex(raw[s, o]), tensor.dtype) for s in range(samples)]
        shape = tensor.shape[1:] if tensor.shape and tensor.shape[0] == 1 else tensor.shape
        outputs.append(tensor.dequantize(np.stack(values)).reshape(samples, *shape))
    return outputs, [counts[s] for s in range(samples)], int(arena.group(1))


def run_tflm(tflite_bytes: bytes, inputs, *, target: str = "cortex-m4", kernels: str = "cmsis-nn",
             streaming=None, arena_bytes: int | None = None, timeout: float = 900) -> TflmRun:
    """Run ``tflite_bytes`` with TFLM on the emulated Cortex-M4 and measure it.

    The flatbuffer (16-byte aligned) and the inputs are embedded as C arrays in a harness
    (``resources/tep_tflm_harness.cc``) linked against the cached TFLM library
    (:func:`~tf_expander_pruning.deployment.mcu.tflm_library.tflm_library`, ``kernels`` =
    ``"cmsis-nn"`` or ``"reference"``), with an op resolver holding exactly the model's ops.

    ``inputs``: float values are quantised with the input tensor's scale/zero point (values
    already in the tensor's dtype are used as they are).  Without ``streaming``: one array
    ``(samples, ...)`` (or a list, one per model input) with the tensor's element count per
    sample; each sample is one ``Invoke()`` after ``interpreter.Reset()`` (so the fused LSTM's
    variable state starts from zero).

    With ``streaming`` (a :class:`Streaming` or ``{"x_input": i, "states": [(out, in), ...]}``)
    the model is one time step: ``inputs`` is ``(samples, T, ...)``.  Per sample the harness
    calls ``Reset()``, sets every state input to real zero (0.0, or its zero point when
    quantised), then for t = 0..T-1 copies ``x[:, t]`` into input ``x_input``, calls
    ``Invoke()`` and copies each state output into its paired input (requantised with
    round-half-to-even when the two int8 tensors' scale/zero point differ).  Only the
    ``Invoke()`` calls are counted: ``instructions_per_inference`` covers all T steps.
    The returned outputs are those after the last step; ``outputs`` is the first model output
    that is not a state output.

    Raises ``ValueError`` for an op without a vendored kernel or wrongly sized inputs,
    ``RuntimeError`` when the toolchain is missing and ``McuError`` when the run fails (for
    example ``TEP_ALLOC_FAILED`` when ``arena_bytes`` is too small).
    """
    if target != "cortex-m4":
        raise ValueError(f"`target`={target!r}: the TFLM library is built for 'cortex-m4' only "
                         "(Cortex-M4F, hard float).")
    check_choice(kernels, "kernels", tuple(KERNELS))
    arena = check_int(arena_bytes, "arena_bytes", minimum=256, allow_none=True)
    info = read_model(bytes(tflite_bytes))
    stream = None if streaming is None else Streaming.coerce(streaming)
    if stream is not None:
        n_in, n_out = len(info.inputs), len(info.outputs)
        bad = [p for p in stream.states if not (0 <= p[0] < n_out and 0 <= p[1] < n_in)]
        if not 0 <= stream.x_input < n_in or bad or any(i == stream.x_input
                                                        for _, i in stream.states):
            raise ValueError(f"`streaming`={stream} does not fit a model with {n_in} inputs and "
                             f"{n_out} outputs (x_input must not be a state input).")
    data, samples, steps, fed = _input_data(info, inputs, stream)
    library = tflm_library(kernels)
    harness = _harness_object(library, info, target)
    source = _model_source(bytes(tflite_bytes), info, data, samples, steps, fed, stream,
                           arena or DEFAULT_ARENA_BYTES)
    run = run_c_program({"tep_tflm_model.c": source}, target=target, main="tep_tflm_model.c",
                        libraries=(harness, library.archive), cxx=True, timeout=timeout)
    outputs, counts, used = _parse_outputs(run.stdout, info, samples)
    state_outputs = {o for o, _ in stream.states} if stream is not None else set()
    first = next((k for k in range(len(outputs)) if k not in state_outputs), 0)
    return TflmRun(outputs=outputs[first], code_bytes=run.size_of("libtflm.a").text,
                   model_bytes=len(tflite_bytes), arena_bytes=used,
                   instructions_per_inference=int(round(float(np.mean(counts)))),
                   instructions=counts, all_outputs=outputs, kernels=kernels, run=run)
