"""int8 streaming drift: all-int8 states (before) vs int16 states (16x8 step model, after).

Task (the streaming table of docs/deploy.md): digits, each 8-row image resampled to T frames
(linear interpolation along time), LSTM(64) or GRU(64) -> Dense(10, softmax), trained 8 epochs
at each T (Adam 3e-3, batch 64, seed 0).  Each model is exported with
``streaming_tflite(..., activations="int8")`` (every tensor int8, the form before) and
``activations="int16"`` (what ``to_tflite(quantization="int8", streaming=True)`` writes now),
calibrated on 100 training sequences, and run frame by frame on the 450 test sequences in LiteRT
and TFLM by ``export.verify``: argmax agreement with the full-sequence Keras model.

State error: at T = 1,000, both forms run in LiteRT (in this process, stepping by hand) on the
first 50 test sequences; each step's dequantised states are compared with the float step model
(the same equations in float32, which the streaming tests hold within 1e-5 of Keras).  The
figure per step is the mean over sequences of the largest |error| over the units.

Usage (from the repository root; writes docs/drift/):
    python docs/drift/streaming_drift.py run LSTM     # one cell: table rows + state errors
    python docs/drift/streaming_drift.py run GRU
    python docs/drift/streaming_drift.py codegen LSTM # the int8 C of `tf-expander codegen` too
    python docs/drift/streaming_drift.py collect      # drift_table.csv/.md, state_error.png

``codegen`` runs the same models through ``codegen.verify`` (host C, int8 weights with float
activations and states, and ``integer_only=True``): the C that ``<name>_step()`` streams with.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from tf_expander_pruning.keras_compat import keras, tf

# isort: split
from tf_expander_pruning import datasets, export
from tf_expander_pruning.deployment.export.step_plan import step_plan
from tf_expander_pruning.deployment.export.streaming import (
    ACTIVATIONS,
    step_function,
    streaming_tflite,
)

OUT = Path(__file__).resolve().parent
STEPS = (40, 100, 1000)
ERROR_SEQUENCES = 50


def resample(x: np.ndarray, steps: int) -> np.ndarray:
    """Each sequence linearly interpolated to ``steps`` frames along time."""
    old, new = np.linspace(0, 1, x.shape[1]), np.linspace(0, 1, steps)
    return np.stack([np.stack([np.interp(new, old, s[:, f]) for f in range(s.shape[1])], axis=1)
                     for s in x]).astype(np.float32)


def trained(cell: str, x: np.ndarray, y: np.ndarray):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((x.shape[1], x.shape[2]))
    layer = keras.layers.LSTM(64) if cell == "LSTM" else keras.layers.GRU(64)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(layer(inputs)))
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, batch_size=64, verbose=0)
    return model


def float_states(model, x: np.ndarray) -> np.ndarray:
    """``(T, states, samples, units)``: the float32 step model's states after every frame."""
    plan = step_plan(export.strip(model), "streaming")
    sizes = [size for cell in plan.cells for size in cell.state_sizes]
    function = step_function(model, plan, len(x))
    states = [tf.zeros((len(x), size)) for size in sizes]
    out = []
    for t in range(x.shape[1]):
        result = function(tf.constant(x[:, t]), *states)
        states = [result[f"new_state_{i}"] for i in range(len(sizes))]
        out.append(np.stack([np.asarray(s) for s in states]))
    return np.stack(out)


def stepped_states(data: bytes, x: np.ndarray) -> np.ndarray:
    """``(T, states, samples, units)``: the flatbuffer's dequantised states, stepped in LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=data).get_signature_runner()
    ins, outs = runner.get_input_details(), runner.get_output_details()
    count = len(ins) - 1

    def quantise(value, detail):
        scale, zero = detail["quantization"]
        limits = np.iinfo(detail["dtype"])
        return np.clip(np.round(value / scale) + zero, limits.min, limits.max) \
            .astype(detail["dtype"])

    def real(value, detail):
        scale, zero = detail["quantization"]
        return (value.astype(np.float64) - zero) * scale

    result = np.zeros((x.shape[1], count, len(x), ins["state_0"]["shape"][1]))
    for n in range(len(x)):
        states = [np.zeros(ins[f"state_{i}"]["shape"], np.float64) for i in range(count)]
        for t in range(x.shape[1]):
            feed = {f"state_{i}": quantise(states[i], ins[f"state_{i}"]) for i in range(count)}
            out = runner(x_t=quantise(x[n:n + 1, t], ins["x_t"]), **feed)
            states = [real(out[f"new_state_{i}"], outs[f"new_state_{i}"]) for i in range(count)]
            result[t, :, n] = np.stack(states)[:, 0]
    return result


def run_cell(cell: str) -> None:
    """Table rows (jsonl) for every T and the state errors at the longest T (csv)."""
    (x_train, y_train), (x_test, y_test) = (datasets.load("digits", "train"),
                                            datasets.load("digits", "test"))
    for steps in STEPS:
        start = time.time()
        xtr, xte = resample(x_train, steps), resample(x_test, steps)
        model = trained(cell, xtr, y_train)
        flatbuffers = {states: streaming_tflite(
            export.strip(model), quantization="int8", representative_data=xtr[:100],
            batch_size=1, isolate=True, activations=states) for states in ACTIVATIONS}
        for states, data in flatbuffers.items():
            for runtime in export.RUNTIMES:
                report = export.verify(data, model, xte, runtime=runtime, labels=y_test,
                                       measure_arena=False)
                row = {"cell": cell, "T": steps, "states": states, "runtime": runtime,
                       "agreement": report.argmax_agreement,
                       "keras_acc": report.keras_accuracy,
                       "runtime_acc": report.runtime_accuracy, "bytes": len(data)}
                print(row, flush=True)
                with open(OUT / "drift_rows.jsonl", "a") as handle:
                    handle.write(json.dumps(row) + "\n")
        if steps == max(STEPS):
            write_state_errors(cell, model, flatbuffers, xte[:ERROR_SEQUENCES])
        print(f"# {cell} T={steps}: {time.time() - start:.0f} s", flush=True)


def run_codegen(cell: str) -> None:
    """codegen_rows.jsonl: the int8 C (float and integer-only activations) at every T."""
    from tf_expander_pruning import codegen

    (x_train, y_train), (x_test, y_test) = (datasets.load("digits", "train"),
                                            datasets.load("digits", "test"))
    for steps in STEPS:
        xtr, xte = resample(x_train, steps), resample(x_test, steps)
        model = trained(cell, xtr, y_train)
        for integer_only in (False, True):
            report = codegen.verify(model, xte, quantization="int8", labels=y_test,
                                    integer_only=integer_only)
            row = {"cell": cell, "T": steps,
                   "form": "integer-only int8 C" if integer_only else "sparse int8 C",
                   "agreement": report.argmax_agreement, "max_abs_diff": report.max_abs_diff,
                   "keras_acc": report.keras_accuracy, "runtime_acc": report.runtime_accuracy}
            print(row, flush=True)
            with open(OUT / "codegen_rows.jsonl", "a") as handle:
                handle.write(json.dumps(row) + "\n")


def write_state_errors(cell: str, model, flatbuffers: dict, x: np.ndarray) -> None:
    reference = float_states(model, x)
    names = ["h", "c"] if cell == "LSTM" else ["h"]
    with open(OUT / f"state_error_{cell}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cell", "states", "t", *[f"{n}_error" for n in names]])
        for states, data in flatbuffers.items():
            error = np.abs(stepped_states(data, x) - reference).max(axis=3).mean(axis=2)
            for t in range(len(error)):
                writer.writerow([cell, states, t + 1, *[f"{e:.6g}" for e in error[t]]])


def collect() -> None:
    """drift_table.csv and .md from the rows, state_error.png from the state-error CSVs."""
    rows = [json.loads(line) for line in open(OUT / "drift_rows.jsonl")]
    with open(OUT / "drift_table.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lookup = {(r["cell"], r["T"], r["states"], r["runtime"]): r for r in rows}
    lines = ["| model | T | Keras acc | LiteRT before | LiteRT after | TFLM before | TFLM after |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for cell in ("LSTM", "GRU"):
        for steps in STEPS:
            if (cell, steps, "int8", "litert") not in lookup:
                continue
            cells = [f"{lookup[(cell, steps, s, r)]['agreement']:.1%}"
                     if (cell, steps, s, r) in lookup else "(not run)"
                     for r in export.RUNTIMES for s in ("int8", "int16")]
            acc = lookup[(cell, steps, "int8", "litert")]["keras_acc"]
            lines.append(f"| {cell}(64) | {steps:,} | {acc:.1%} | " + " | ".join(cells) + " |")
    if (OUT / "codegen_rows.jsonl").exists():
        lines += ["", "| model | T | C form | agreement | max abs diff |",
                  "|---|---:|---|---:|---:|"]
        for line in open(OUT / "codegen_rows.jsonl"):
            r = json.loads(line)
            lines.append(f"| {r['cell']}(64) | {r['T']:,} | {r['form']} | {r['agreement']:.1%} | "
                         f"{r['max_abs_diff']:.4f} |")
    (OUT / "drift_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot()


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [c for c in ("LSTM", "GRU") if (OUT / f"state_error_{c}.csv").exists()]
    if not cells:
        return
    figure, axes = plt.subplots(1, len(cells), figsize=(6 * len(cells), 4), squeeze=False)
    for axis, cell in zip(axes[0], cells, strict=True):
        rows = list(csv.DictReader(open(OUT / f"state_error_{cell}.csv")))
        for states in ACTIVATIONS:
            mine = [r for r in rows if r["states"] == states]
            t = [int(r["t"]) for r in mine]
            for name in [k for k in mine[0] if k.endswith("_error")]:
                form = "int16 states, after" if states == "int16" else "int8, before"
                label = f"{name[0]} ({form})"
                axis.plot(t, [float(r[name]) for r in mine], label=label,
                          linestyle="-" if states == "int16" else "--")
        axis.set_yscale("log")
        axis.set_xlabel("time step t")
        axis.set_ylabel("mean over sequences of max |state - float state|")
        axis.set_title(f"{cell}(64), digits resampled to T = 1,000, LiteRT")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(OUT / "state_error.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("run", "codegen", "collect"))
    parser.add_argument("cell", nargs="?", choices=("LSTM", "GRU"))
    args = parser.parse_args()
    if args.what == "collect":
        collect()
    elif args.cell is None:
        parser.error("`run` needs a cell: LSTM or GRU")
    elif args.what == "codegen":
        run_codegen(args.cell)
    else:
        run_cell(args.cell)


if __name__ == "__main__":
    main()
