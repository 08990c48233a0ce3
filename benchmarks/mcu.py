"""Sparse int8 C vs TFLM + CMSIS-NN on an emulated Cortex-M4: flash and instructions, same run.

For an LSTM and a GRU classifier (digits, 8 steps x 8 features, ``--units`` units, trained for
``--epochs``), the recurrent kernels are magnitude-pruned one-shot to 0 / 50 / 80 / 90 %
sparsity (per matrix, no fine-tuning: this measures deployment cost, not accuracy).  Each model
is then deployed twice on the same emulated core (QEMU mps2-an386, Cortex-M4F, ``-icount
shift=0``; see docs/mcu.md):

* sparse C: ``codegen.to_c(model, quantization="int8")`` compiled with the M4 flags into a
  bare-metal harness; flash = text + data of the model's object from the link map (code,
  weights, indices, scales);
* TFLM: ``export.to_tflite(model, quantization="int8")`` run by TFLM's MicroInterpreter with
  CMSIS-NN kernels; flash = TFLM library text kept by the linker + the flatbuffer.

Instructions are per 8-step sequence (SysTick, 40 instructions a tick), mean over ``--samples``
test sequences.  Prints a table and one summary line with the ratios (C / TFLM) and whether the
issue's targets hold: flash <= 30 % of TFLM's at >= 50 % sparsity, fewer instructions than
TFLM + CMSIS-NN at >= 80 %.

Usage: python benchmarks/mcu.py [--units 64] [--epochs 4] [--samples 8] [--cells lstm,gru]
       [--sparsities 0,0.5,0.8,0.9]
"""

from __future__ import annotations

import argparse
import struct
import sys
import time

import numpy as np
from tf_expander_pruning.keras_compat import keras

# isort: split
from tf_expander_pruning.codegen import to_c
from tf_expander_pruning.datasets import load
from tf_expander_pruning.export import to_tflite

from tf_expander_pruning.deployment.mcu import run_c_program, run_tflm

HARNESS = r"""
#include <string.h>
#include "tep_mcu.h"
#include "model.h"
static const float inputs[N_SAMPLES][N_STEPS * MODEL_N_FEATURES] = {INPUTS};
static float output[MODEL_N_OUTPUTS];
int main(void) {
    for (int s = 0; s < N_SAMPLES; ++s) {
        tep_cycles_start();
        int rc = model_predict(inputs[s], N_STEPS, output);
        uint64_t n = tep_instructions_since();
        if (rc != 0) return 2;
        uint32_t bits[MODEL_N_OUTPUTS];
        memcpy(bits, output, sizeof bits);
        printf("OUT %d %llu", s, (unsigned long long)n);
        for (int k = 0; k < MODEL_N_OUTPUTS; ++k) printf(" %08lx", (unsigned long)bits[k]);
        printf("\n");
    }
    return 0;
}
"""


def train(cell: str, units: int, epochs: int, x, y):
    keras.utils.set_random_seed(0)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    model = keras.Sequential([keras.layers.Input(x.shape[1:]), layer(units),
                              keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def pruned_copy(model, sparsity: float):
    """A copy whose kernel and recurrent kernel keep their largest (1 - sparsity) weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    layer = copy.layers[0]
    for weight in (layer.cell.kernel, layer.cell.recurrent_kernel):
        w = weight.numpy()
        k = int(round(sparsity * w.size))
        if k:
            threshold = np.sort(np.abs(w), axis=None)[k - 1]
            w = np.where(np.abs(w) > threshold, w, 0.0)
        weight.assign(w)
    return copy


def run_sparse_c(model, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    """Flash bytes of the model object, mean instructions per sequence, outputs."""
    c_model = to_c(model, quantization="int8", name="model")
    values = ",".join(f"{v!r}f" for v in x.astype(np.float32).reshape(-1).tolist())
    main = (f"#define N_SAMPLES {len(x)}\n#define N_STEPS {x.shape[1]}\n"
            + HARNESS.replace("{INPUTS}", "{" + values + "}"))
    run = run_c_program({"model.h": c_model.header, "model.c": c_model.source, "main.c": main},
                        target="cortex-m4", main="main.c", cflags=("-std=gnu99",))
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("OUT ")]
    counts = [int(r[2]) for r in rows]
    outputs = np.array([[struct.unpack("<f", bytes.fromhex(h)[::-1])[0] for h in r[3:]]
                        for r in rows], np.float32)
    return run.size_of("model.c").flash_bytes, float(np.mean(counts)), outputs


def measure(cell: str, sparsity: float, model, x_train, x_test) -> dict:
    pruned = pruned_copy(model, sparsity)
    keras_out = pruned.predict(x_test, verbose=0)
    c_flash, c_instr, c_out = run_sparse_c(pruned, x_test)
    tflite = to_tflite(pruned, quantization="int8", representative_data=x_train[:200])
    tflm = run_tflm(tflite, x_test, kernels="cmsis-nn")
    return {
        "cell": cell, "sparsity": sparsity,
        "c_flash": c_flash, "c_instr": c_instr,
        "tflm_code": tflm.code_bytes, "tflm_model": tflm.model_bytes,
        "tflm_flash": tflm.code_bytes + tflm.model_bytes, "tflm_arena": tflm.arena_bytes,
        "tflm_instr": tflm.instructions_per_inference,
        "c_err": float(np.max(np.abs(c_out - keras_out))),
        "tflm_err": float(np.max(np.abs(tflm.outputs - keras_out))),
        "agree": float(np.mean(c_out.argmax(1) == tflm.outputs.argmax(1))),
    }


def report(rows: list[dict]) -> str:
    lines = [f"{'cell':<5}{'sparsity':>9}{'C flash':>9}{'TFLM code':>10}{'TFLM model':>11}"
             f"{'flash C/TFLM':>13}{'C instr':>10}{'TFLM instr':>11}{'instr C/TFLM':>13}"
             f"{'C err':>8}{'TFLM err':>9}{'argmax=':>8}"]
    for r in rows:
        lines.append(
            f"{r['cell']:<5}{r['sparsity']:>9.0%}{r['c_flash']:>9,}{r['tflm_code']:>10,}"
            f"{r['tflm_model']:>11,}{r['c_flash'] / r['tflm_flash']:>13.3f}"
            f"{r['c_instr']:>10,.0f}{r['tflm_instr']:>11,}{r['c_instr'] / r['tflm_instr']:>13.3f}"
            f"{r['c_err']:>8.3f}{r['tflm_err']:>9.3f}{r['agree']:>8.0%}")
    flash_ok = all(r["c_flash"] <= 0.30 * r["tflm_flash"] for r in rows if r["sparsity"] >= 0.5)
    instr_ok = all(r["c_instr"] < r["tflm_instr"] for r in rows if r["sparsity"] >= 0.8)
    ratios = "; ".join(
        f"{r['cell']}@{r['sparsity']:.0%} flash {r['c_flash'] / r['tflm_flash']:.2f} "
        f"instr {r['c_instr'] / r['tflm_instr']:.2f}" for r in rows)
    lines.append(f"mcu (sparse C / TFLM+CMSIS-NN, Cortex-M4): {ratios}; targets: flash <= 0.30 "
                 f"at >= 50 %: {'met' if flash_ok else 'NOT met'}, fewer instructions at "
                 f">= 80 %: {'met' if instr_ok else 'NOT met'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--sparsities", default="0,0.5,0.8,0.9")
    args = parser.parse_args()
    x_train, y_train = load("digits", "train")
    x_test = load("digits", "test")[0][: args.samples]
    rows = []
    for cell in args.cells.split(","):
        model = train(cell, args.units, args.epochs, x_train, y_train)
        for sparsity in (float(s) for s in args.sparsities.split(",")):
            start = time.monotonic()
            rows.append(measure(cell, sparsity, model, x_train, x_test))
            print(f"[mcu] {cell} at {sparsity:.0%} measured in {time.monotonic() - start:.0f} s",
                  file=sys.stderr, flush=True)
    print(report(rows))


if __name__ == "__main__":
    main()
