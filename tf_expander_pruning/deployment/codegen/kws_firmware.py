"""Keyword-spotting firmware: the generated front end and network C in one program.

:func:`kws_program` writes a ``main.c`` that feeds int16 clips to the device path, 20 ms at a
time: per clip ``NAME_reset()``, then per frame ``KWS_frontend_frame()`` (30 ms window, 20 ms
hop) and ``NAME_step()`` on its features, and the label is the argmax of the network's output
after the last frame.  The same ``main.c`` builds for the host (``-DTEP_HOST``: clips read from a
binary file, :func:`run_kws_host`) and for an emulated Cortex-M core (clips embedded in flash,
:func:`run_kws_on_mcu`), so the device labels can be checked against the host build of the very
same C.  On the core every front-end and network call is timed on its own (QEMU ``-icount``, see
docs/mcu.md) and the link map gives the flash and RAM of each object.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tf_expander_pruning.core.audio_frontend import frame_count
from tf_expander_pruning.deployment.codegen.cmodel import CModel
from tf_expander_pruning.deployment.codegen.frontend import CFrontend
from tf_expander_pruning.deployment.codegen.frontend_run import _check_clips
from tf_expander_pruning.deployment.codegen.host import _compiler

__all__ = ["KwsRun", "kws_program", "run_kws_host", "run_kws_on_mcu", "CLIPS_PER_IMAGE"]

#: Clips embedded in one Cortex-M4 image (32 kB each; the emulated core has 4 MB of flash).
CLIPS_PER_IMAGE = 80
_MAIN = "tep_kws_main.c"


@dataclass
class KwsRun:
    """Labels and logits of a run of the firmware over clips.

    ``frontend_instructions`` / ``network_instructions``: int64 ``(clips, 2)``, the mean and
    the largest instructions of one 20 ms frame per clip (zero on the host).  ``sizes`` (core
    only): ``frontend`` and ``network`` ``{"flash_bytes", "ram_bytes", "text", "data", "bss"}``
    of their own objects in the link map.
    """

    labels: np.ndarray
    logits: np.ndarray
    frontend_instructions: np.ndarray
    network_instructions: np.ndarray
    target: str
    sizes: dict = field(default_factory=dict)


def _check_pair(c_frontend: CFrontend, c_model: CModel) -> None:
    if not isinstance(c_frontend, CFrontend):
        raise TypeError(f"`c_frontend` must be a CFrontend, got {type(c_frontend).__name__}.")
    if not isinstance(c_model, CModel):
        raise TypeError(f"`c_model` must be a CModel, got {type(c_model).__name__}.")
    if not c_model.streaming or c_model.integer_only or c_frontend.integer_only:
        raise ValueError("The keyword-spotting firmware needs a streaming float-interface C model "
                         "(no Bidirectional layer, not integer-only) and the float front end.")
    if c_model.n_features != c_frontend.n_features:
        raise ValueError(f"The network takes {c_model.n_features} features a frame, the front "
                         f"end gives {c_frontend.n_features}.")


def kws_program(c_frontend: CFrontend, c_model: CModel, n_samples: int,
                clips: np.ndarray | None = None) -> str:
    """``main.c`` of the firmware for clips of ``n_samples`` samples.

    With ``clips`` (int16 ``(clips, n_samples)``) they are embedded as a ``const`` array (the
    core build); without, the host build (``-DTEP_HOST``) reads them from the file named by
    ``argv[1]``.  It prints one line a clip: ``K <clip> <label> <front-end instructions mean>
    <max> <network mean> <max>`` then the logits as the hex of their float bits.
    """
    _check_pair(c_frontend, c_model)
    n_frames = frame_count(int(n_samples), c_frontend.config)
    if n_frames < 1:
        raise ValueError(f"`n_samples`={n_samples} is shorter than one window.")
    fe, net, up = c_frontend.prefix, c_model.name, c_model.name.upper()
    data = ""
    if clips is not None:
        rows = ",\n".join("{" + ",".join(map(str, clip.tolist())) + "}" for clip in clips)
        data = (f"#define N_CLIPS {len(clips)}\n"
                f"static const int16_t CLIPS[N_CLIPS][{n_samples}] = {{\n{rows}\n}};\n")
    return f"""#include <stdint.h>
#include <string.h>
#ifdef TEP_HOST
#include <stdio.h>
#include <stdlib.h>
#define tep_cycles_start() ((void)0)
#define tep_instructions_since() ((uint64_t)0)
#else
#include "tep_mcu.h"
#endif
#include "{fe}.h"
#include "{net}.h"
#define N_SAMPLES {n_samples}
#define N_FRAMES {n_frames}
{data}
static float features[{c_frontend.n_features}], out[{up}_N_OUTPUTS];

static void run_clip(int c, const int16_t *clip) {{
    int f, j, best = 0;
    uint64_t fe_sum = 0, fe_max = 0, net_sum = 0, net_max = 0, n;
    {net}_reset();
    for (f = 0; f < N_FRAMES; ++f) {{
        tep_cycles_start();
        {fe}_frame(clip + (long)f * {c_frontend.config.hop_samples}, features);
        n = tep_instructions_since();
        fe_sum += n; if (n > fe_max) fe_max = n;
        tep_cycles_start();
        {net}_step(features, out);
        n = tep_instructions_since();
        net_sum += n; if (n > net_max) net_max = n;
    }}
    for (j = 1; j < {up}_N_OUTPUTS; ++j) if (out[j] > out[best]) best = j;
    printf("K %d %d %lu %lu %lu %lu", c, best, (unsigned long)(fe_sum / N_FRAMES),
           (unsigned long)fe_max, (unsigned long)(net_sum / N_FRAMES), (unsigned long)net_max);
    for (j = 0; j < {up}_N_OUTPUTS; ++j) {{
        uint32_t bits;
        memcpy(&bits, &out[j], 4);
        printf(" %08lx", (unsigned long)bits);
    }}
    printf("\\n");
}}

#ifdef TEP_HOST
int main(int argc, char **argv) {{
    static int16_t clip[N_SAMPLES];
    int c = 0;
    FILE *file = argc > 1 ? fopen(argv[1], "rb") : NULL;
    if (file == NULL) return 3;
    {fe}_init();
    while (fread(clip, sizeof(int16_t), N_SAMPLES, file) == N_SAMPLES) run_clip(c++, clip);
    fclose(file);
    return 0;
}}
#else
int main(void) {{
    int c;
    {fe}_init();
    for (c = 0; c < N_CLIPS; ++c) run_clip(c, CLIPS[c]);
    return 0;
}}
#endif
"""


def _parse(stdout: str, n_clips: int, n_outputs: int, offset: int = 0) -> list[tuple]:
    rows = []
    for line in stdout.splitlines():
        if not line.startswith("K "):
            continue
        parts = line.split()
        counts = [int(v) for v in parts[3:7]]
        bits = np.array([int(v, 16) for v in parts[7:7 + n_outputs]], np.uint32)
        rows.append((int(parts[2]), counts, bits.view(np.float32)))
    if len(rows) != n_clips:
        raise RuntimeError(f"Expected {n_clips} clips from the firmware (from clip {offset}), "
                           f"got {len(rows)}:\n{stdout[-2000:]}")
    return rows


def _collect(rows: list[tuple], target: str, sizes: dict) -> KwsRun:
    counts = np.array([r[1] for r in rows], np.int64).reshape(len(rows), 4)
    return KwsRun(labels=np.array([r[0] for r in rows], np.int64),
                  logits=np.stack([r[2] for r in rows]) if rows else np.zeros((0, 0), np.float32),
                  frontend_instructions=counts[:, :2], network_instructions=counts[:, 2:],
                  target=target, sizes=sizes)


def run_kws_host(c_frontend: CFrontend, c_model: CModel, clips) -> KwsRun:
    """Build the firmware for the host (``$CC``, ``-O2 -std=c99 -ffp-contract=off``) and run
    it on int16 ``clips`` ``(clips, samples)``: the reference the core must equal."""
    clips = _check_clips(clips)
    with tempfile.TemporaryDirectory(prefix="tep_kws_host_") as tmp:
        directory = Path(tmp)
        c_frontend.write(directory)
        c_model.write(directory)
        (directory / _MAIN).write_text(kws_program(c_frontend, c_model, clips.shape[1]))
        binary, data = directory / "kws_host", directory / "clips.bin"
        clips.astype("<i2").tofile(data)
        cmd = [_compiler(), "-O2", "-std=c99", "-ffp-contract=off", "-DTEP_HOST", "-o",
               str(binary), str(directory / _MAIN), str(directory / f"{c_frontend.prefix}.c"),
               str(directory / f"{c_model.name}.c"), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"Compiling the firmware for the host failed: {' '.join(cmd)}\n"
                               f"{proc.stderr}")
        proc = subprocess.run([str(binary), str(data)], capture_output=True, text=True,
                              timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"The host firmware failed (exit {proc.returncode}).")
    return _collect(_parse(proc.stdout, len(clips), c_model.n_outputs), "host", {})


def _sizes(run, c_frontend: CFrontend, c_model: CModel) -> dict:
    out = {}
    for key, source in (("frontend", f"{c_frontend.prefix}.c"), ("network", f"{c_model.name}.c")):
        s = run.size_of(source)
        out[key] = {"flash_bytes": s.flash_bytes, "ram_bytes": s.ram_bytes, "text": s.text,
                    "data": s.data, "bss": s.bss}
    return out


def run_kws_on_mcu(c_frontend: CFrontend, c_model: CModel, clips, *, target: str = "cortex-m4",
                   clips_per_image: int = CLIPS_PER_IMAGE, progress=None,
                   timeout: float = 900) -> KwsRun:
    """Run the firmware on ``target`` in QEMU over int16 ``clips``, ``clips_per_image`` clips
    embedded per image; ``progress(done, total)`` is called after each image."""
    from tf_expander_pruning.deployment.mcu import run_c_program

    _check_pair(c_frontend, c_model)
    clips = _check_clips(clips)
    rows, sizes = [], {}
    for start in range(0, len(clips), clips_per_image):
        chunk = clips[start:start + clips_per_image]
        sources = {_MAIN: kws_program(c_frontend, c_model, clips.shape[1], chunk),
                   f"{c_frontend.prefix}.c": c_frontend.source,
                   f"{c_frontend.prefix}.h": c_frontend.header,
                   f"{c_model.name}.c": c_model.source, f"{c_model.name}.h": c_model.header}
        # -ffp-contract=off: no fused multiply-add, as in the host build, so the float C of
        # both agrees bit for bit.
        run = run_c_program(sources, target=target, main=_MAIN, timeout=timeout,
                            cflags=("-ffp-contract=off",))
        rows += _parse(run.stdout, len(chunk), c_model.n_outputs, start)
        sizes = _sizes(run, c_frontend, c_model)
        if progress is not None:
            progress(min(start + clips_per_image, len(clips)), len(clips))
    return _collect(rows, target, sizes)
