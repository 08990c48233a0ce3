"""Run generated C on an emulated Cortex-M core (QEMU) through
:mod:`tf_expander_pruning.deployment.mcu`, and measure it.

The harness embeds the inputs as a ``const`` array, calls ``NAME_predict`` (or
``NAME_predict_q``) once per sequence between ``tep_cycles_start()`` and
``tep_instructions_since()``, and prints each output as the hex of its 32-bit pattern with
``iprintf`` (newlib's integer-only printf: no float formatting code in the image, and the bits
come back exactly).  Sizes are those of the model's own object (``model.c``) in the link map, so
the harness, the C library and the startup code are not counted.
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.deployment.codegen.cmodel import CModel

__all__ = ["run_on_mcu", "mcu_harness"]

#: Inputs are embedded in the image (at most a quarter of the core's flash, and this many
#: sequences); more are run in several images.
MAX_SEQUENCES_PER_IMAGE = 500
_MAIN = "tep_codegen_harness.c"


def _c_array(values: np.ndarray, ctype: str) -> str:
    if ctype == "float":
        bits = np.ascontiguousarray(values, np.float32).view(np.uint32).reshape(-1)
        items = [f"0x{int(b):08x}u" for b in bits]
        ctype = "uint32_t"
    else:
        items = [str(int(v)) for v in values.reshape(-1)]
    lines = [", ".join(items[i: i + 16]) for i in range(0, len(items), 16)]
    return f"static const {ctype} inputs[{max(1, len(items))}] = {{\n" + ",\n".join(lines) + "\n};"


def mcu_harness(c_model: CModel, x: np.ndarray) -> str:
    """``main.c`` running the model on ``x`` (float, or already int8 for integer-only C).

    Each inference is timed on its own and its outputs printed at once, so no output array
    takes RAM (a Cortex-M0 has 16 KB); the counter's start and read cost a few instructions.
    """
    n_seq, n_steps = x.shape[0], x.shape[1]
    name, upper = c_model.name, c_model.name.upper()
    if c_model.integer_only:
        data, xt, ot, call = _c_array(x, "int8_t"), "int8_t", "int32_t", f"{name}_predict_q"
        source = "inputs"
    else:
        data, xt, ot, call = _c_array(x, "float"), "float", "float", f"{name}_predict"
        source = "(const float *)(const void *)inputs"
    return f"""#include <string.h>
#include "tep_mcu.h"
#include "{name}.h"
{data}

int main(void) {{
    int i, j;
    uint64_t instructions = 0;
    const {xt} *x = {source};
    {ot} out[{upper}_N_OUTPUTS];
    for (i = 0; i < {n_seq}; ++i) {{
        int status;
        tep_cycles_start();
        status = {call}(x + (long)i * {n_steps} * {upper}_N_FEATURES, {n_steps}, out);
        instructions += tep_instructions_since();
        if (status != 0) return 2;
        for (j = 0; j < {upper}_N_OUTPUTS; ++j) {{
            uint32_t bits;
            memcpy(&bits, &out[j], 4);
            iprintf("%08lx ", (unsigned long)bits);
        }}
        iprintf("\\n");
    }}
    iprintf("instructions %lu\\n", (unsigned long)instructions);
    return 0;
}}
"""


def _parse(stdout: str, c_model: CModel, n_seq: int) -> tuple[np.ndarray, int]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    end = next(i for i, line in enumerate(lines) if line.startswith("instructions "))
    instructions = int(lines[end].split()[1])
    rows = [[int(v, 16) for v in line.split()] for line in lines[end - n_seq: end]]
    bits = np.array(rows, dtype=np.uint32).reshape(n_seq, c_model.n_outputs)
    if c_model.integer_only:
        return bits.view(np.int32).astype(np.float64) / 65536.0, instructions
    return bits.view(np.float32).astype(np.float64), instructions


def run_on_mcu(c_model: CModel, inputs: np.ndarray, target: str,
               cflags: tuple[str, ...] = ()) -> tuple[np.ndarray, dict]:
    """Outputs of ``c_model`` on ``inputs`` computed on ``target``, and the measured sizes.

    Returns ``(outputs, measured)`` with ``measured`` = ``flash_bytes`` and ``ram_bytes`` of the
    model object (code + constants + initialised data; static RAM), ``code_bytes`` (its code and
    constants minus the weight arrays: the model's code) and ``instructions_per_inference`` (retired
    instructions per sequence, SysTick resolution).
    """
    from tf_expander_pruning.deployment import mcu

    x = np.asarray(inputs, np.float32)
    if x.ndim != 3 or x.shape[2] != c_model.n_features:
        raise ValueError(f"inputs must be (batch, time, {c_model.n_features}), got {x.shape}")
    if c_model.integer_only:
        x = c_model.quantize_inputs(x)
    outputs, instructions, measured = [], 0, {}
    per_sequence = x[0].size * x.itemsize
    chunk_size = max(1, min(MAX_SEQUENCES_PER_IMAGE,
                            mcu.get_target(target).flash_bytes // 4 // per_sequence))
    for start in range(0, len(x), chunk_size):
        chunk = x[start: start + chunk_size]
        sources = {f"{c_model.name}.c": c_model.source, f"{c_model.name}.h": c_model.header,
                   _MAIN: mcu_harness(c_model, chunk)}
        # ISO C semantics as on the host (-std=c99): no fused multiply-add contraction, so float
        # outputs equal the host build bit for bit.
        run = mcu.run_c_program(sources, target=target, main=_MAIN,
                                cflags=("-ffp-contract=off", *cflags), timeout=600)
        got, count = _parse(run.stdout, c_model, len(chunk))
        outputs.append(got)
        instructions += count
        sizes = run.size_of(f"{c_model.name}.c")
        arrays = sum(run.symbols.get(name, 0) for name in c_model.flash_arrays)
        measured = {"flash_bytes": sizes.flash_bytes, "ram_bytes": sizes.ram_bytes,
                    "code_bytes": sizes.text - arrays, "symbols": run.symbols}
    measured["instructions_per_inference"] = int(round(instructions / max(1, len(x))))
    return np.concatenate(outputs), measured
