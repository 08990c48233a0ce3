"""Run the generated front-end C on the host (ctypes) or on an emulated Cortex-M core (QEMU)."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tf_expander_pruning.core.audio_frontend import (
    DEFAULT,
    FRAC_BITS,
    FrontendConfig,
    fixed_log_mel,
    fixed_mfcc,
    frame_count,
    log_mel,
    mfcc,
)
from tf_expander_pruning.core.validation import check_choice
from tf_expander_pruning.deployment.codegen.frontend import FEATURE_KINDS, CFrontend, frontend_to_c

__all__ = ["CompiledFrontend", "compile_frontend", "McuFrontendRun", "run_frontend_on_mcu",
           "feature_errors"]


def _check_clips(clips) -> np.ndarray:
    clips = np.asarray(clips)
    if clips.dtype != np.int16:
        raise TypeError(f"`clips` must be int16 PCM samples, got dtype {clips.dtype}.")
    if clips.ndim == 1:
        clips = clips[None]
    if clips.ndim != 2:
        raise ValueError(f"`clips` must be (samples,) or (clips, samples), got {clips.shape}.")
    return np.ascontiguousarray(clips)


def _out_dtype(c_frontend: CFrontend):
    return np.int32 if c_frontend.integer_only else np.float32


class CompiledFrontend:
    """A :class:`CFrontend` built with the host C compiler (``$CC`` or ``cc``) into a shared
    library; calling it on int16 clips ``(clips, samples)`` returns the features
    ``(clips, frames, n_features)``: float32, or int32 Q16 for integer-only C."""

    def __init__(self, c_frontend: CFrontend, directory: str | os.PathLike | None = None,
                 flags: tuple[str, ...] = ("-O2",)):
        if not isinstance(c_frontend, CFrontend):
            raise TypeError(f"`c_frontend` must be a CFrontend, got {type(c_frontend).__name__}.")
        self.c_frontend = c_frontend
        self._tmp = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tep_frontend_")
            directory = self._tmp.name
        _, source = c_frontend.write(directory)
        cc = os.environ.get("CC", "cc")
        if shutil.which(cc) is None:
            raise FileNotFoundError(f"No C compiler {cc!r} on PATH: install gcc or set CC.")
        library = Path(directory) / f"lib{c_frontend.prefix}.so"
        cmd = [cc, *flags, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror",
               "-ffp-contract=off", "-shared", "-fPIC", str(source), "-o", str(library)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"Compiling the front end failed: {' '.join(cmd)}\n{proc.stderr}")
        self._lib = ctypes.CDLL(str(library))
        self._clip = getattr(self._lib, f"{c_frontend.prefix}_clip")
        self._clip.restype = ctypes.c_int
        getattr(self._lib, f"{c_frontend.prefix}_init")()

    def __call__(self, clips) -> np.ndarray:
        clips = _check_clips(clips)
        config = self.c_frontend.config
        n_frames = frame_count(clips.shape[1], config)
        out = np.zeros((len(clips), n_frames, self.c_frontend.n_features),
                       _out_dtype(self.c_frontend))
        for i, clip in enumerate(clips):
            got = self._clip(clip.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(clip.shape[0]),
                             out[i].ctypes.data_as(ctypes.c_void_p))
            if got != n_frames:
                raise RuntimeError(f"The C front end returned {got} frames, expected {n_frames}.")
        return out


def compile_frontend(c_frontend: CFrontend, directory: str | os.PathLike | None = None,
                     flags: tuple[str, ...] = ("-O2",)) -> CompiledFrontend:
    """Build ``c_frontend`` for the host (warnings are errors) and load it."""
    return CompiledFrontend(c_frontend, directory, flags)


@dataclass(frozen=True)
class McuFrontendRun:
    """The front end on an emulated core.

    Attributes:
        features: ``(clips, frames, n_features)`` float32 or int32 (Q16), bit for bit as printed.
        instructions_per_frame: int64 ``(clips, frames)``, instructions of each
            ``NAME_frontend_frame`` call (SysTick resolution, see docs/mcu.md).
        flash_bytes, ram_bytes: the front end's own object (code + constants; data + bss).
        target: ``"cortex-m4"`` or ``"cortex-m0"``.
    """

    features: np.ndarray
    instructions_per_frame: np.ndarray
    flash_bytes: int
    ram_bytes: int
    target: str


_HARNESS = """#include <string.h>
#include "tep_mcu.h"
#include "{prefix}.h"
static const int16_t CLIPS[{n_clips}][{n_samples}] = {{
{clips}
}};
static {value} features[{n_features}];
int main(void) {{
    int c, f, j;
    {prefix}_init();
    for (c = 0; c < {n_clips}; ++c)
        for (f = 0; f < {n_frames}; ++f) {{
            uint64_t instructions;
            tep_cycles_start();
            {prefix}_frame(&CLIPS[c][f * {hop}], features);
            instructions = tep_instructions_since();
            printf("I %lu\\n", (unsigned long)instructions);
            printf("F");
            for (j = 0; j < {n_features}; ++j) {{
                uint32_t bits;
                memcpy(&bits, &features[j], 4);
                printf(" %08lx", (unsigned long)bits);
            }}
            printf("\\n");
        }}
    return 0;
}}
"""


def run_frontend_on_mcu(c_frontend: CFrontend, clips, *, target: str = "cortex-m4",
                        timeout: float = 600) -> McuFrontendRun:
    """Build ``c_frontend`` with a harness for ``target`` and run every frame of ``clips``.

    Args:
        c_frontend: from :func:`~tf_expander_pruning.deployment.codegen.frontend.frontend_to_c`.
        clips: int16 ``(clips, samples)``; embedded in flash (keep it to a few clips).
        target: a core of :data:`tf_expander_pruning.deployment.mcu.TARGETS`.
        timeout: seconds for QEMU.
    """
    from tf_expander_pruning.deployment.mcu import run_c_program

    if not isinstance(c_frontend, CFrontend):
        raise TypeError(f"`c_frontend` must be a CFrontend, got {type(c_frontend).__name__}.")
    clips = _check_clips(clips)
    config = c_frontend.config
    n_frames = frame_count(clips.shape[1], config)
    rows = ",\n".join("{" + ",".join(str(int(v)) for v in clip) + "}" for clip in clips)
    value = "int32_t" if c_frontend.integer_only else "float"
    harness = _HARNESS.format(prefix=c_frontend.prefix, n_clips=len(clips),
                              n_samples=clips.shape[1], clips=rows, value=value,
                              n_features=c_frontend.n_features, n_frames=n_frames,
                              hop=config.hop_samples)
    sources = {"main.c": harness, f"{c_frontend.prefix}.c": c_frontend.source,
               f"{c_frontend.prefix}.h": c_frontend.header}
    # -ffp-contract=off: no fused multiply-add, as on the host (-std=c99), so float C agrees
    # with the host build bit for bit.
    run = run_c_program(sources, target=target, main="main.c", timeout=timeout,
                        cflags=("-ffp-contract=off",))
    counts, bits = [], []
    for line in run.stdout.splitlines():
        if line.startswith("I "):
            counts.append(int(line[2:]))
        elif line.startswith("F"):
            bits.append([int(word, 16) for word in line[1:].split()])
    if len(bits) != len(clips) * n_frames:
        raise RuntimeError(f"Expected {len(clips) * n_frames} frames from the core, got "
                           f"{len(bits)}:\n{run.stdout[-2000:]}")
    raw = np.array(bits, np.uint32).view(_out_dtype(c_frontend))
    sizes = run.size_of(f"{c_frontend.prefix}.c")
    return McuFrontendRun(
        features=raw.reshape(len(clips), n_frames, c_frontend.n_features),
        instructions_per_frame=np.array(counts, np.int64).reshape(len(clips), n_frames),
        flash_bytes=sizes.text + sizes.data, ram_bytes=sizes.data + sizes.bss, target=target)


def feature_errors(clips, *, features: str = "mfcc",
                   config: FrontendConfig = DEFAULT) -> dict[str, float]:
    """Max absolute feature differences (nats) on int16 ``clips`` ``(clips, samples)``.

    Keys: ``float_c_vs_python`` (float32 C vs the float64 reference), ``fixed_c_vs_python``
    (integer C vs :func:`~tf_expander_pruning.core.audio_frontend.fixed_mfcc`, in Q16 steps:
    0 means bit for bit), ``fixed_vs_float`` (fixed-point vs float reference, nats).
    """
    clips = _check_clips(clips)
    check_choice(features, "features", FEATURE_KINDS)
    reference = mfcc if features == "mfcc" else log_mel
    fixed_reference = fixed_mfcc if features == "mfcc" else fixed_log_mel
    float_c = compile_frontend(frontend_to_c(config, features=features))(clips)
    fixed_c = compile_frontend(frontend_to_c(config, features=features, integer_only=True))(clips)
    floats = np.stack([reference(clip, config) for clip in clips])
    fixed = np.stack([fixed_reference(clip, config) for clip in clips])
    return {
        "float_c_vs_python": float(np.abs(float_c - floats).max()),
        "fixed_c_vs_python": float(np.abs(fixed_c.astype(np.int64) - fixed).max()),
        "fixed_vs_float": float(np.abs(fixed / 2.0 ** FRAC_BITS - floats).max()),
    }
