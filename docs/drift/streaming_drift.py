"""int8 streaming drift: all-int8 states (before) vs int16 states (16x8 step model, after).

Task (the streaming table of docs/deploy.md): digits, each 8-row image resampled to T frames
(linear interpolation along time), LSTM(64) or GRU(64) -> Dense(10, softmax), trained 8 epochs
at each T (Adam 3e-3, batch 64, seed 0).  Each model is exported with
``streaming_tflite(..., activations="int8")`` (every tensor int8, the form before) and
``activations="int16"`` (what ``to_tflite(quantization="int8", streaming=True)`` writes now),
calibrated on 100 training sequences, and run frame by frame on the 450 test sequences in LiteRT
and TFLM by ``export.verify``: argmax agreement with the full-sequence Keras model.

State error (``states``): the LSTM(64) / GRU(64) trained at T = 40 (as above) is fed streams of
25 test digits back to back (1,000 frames, 50 streams, never reset); both forms, calibrated on 20
training streams made the same way (as long as the streams measured), are stepped by hand in
LiteRT.  After every frame the dequantised states are compared with the float32 step model (the
same equations as Keras; the streaming tests hold it within 1e-5 of Keras).  Per step: the largest
|error| over the units, then its mean, median and maximum over the streams, and the mean over
streams of the largest |float state| (for scale).  ``--digits 75 --streams 20``: 3,000-frame
streams.

Usage (from the repository root; writes docs/drift/):
    python docs/drift/streaming_drift.py run LSTM     # one cell: table rows
    python docs/drift/streaming_drift.py run GRU
    python docs/drift/streaming_drift.py codegen LSTM # the int8 C of `tf-expander codegen` too
    python docs/drift/streaming_drift.py states LSTM  # state_error_LSTM.csv (T = 1,000 streams)
    python docs/drift/streaming_drift.py plot         # state_error.png and the summaries only
    python docs/drift/streaming_drift.py collect      # drift_table.csv/.md, then plot

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
from tf_expander_pruning.keras_compat import keras

# isort: split
from tf_expander_pruning import datasets, export
from tf_expander_pruning.deployment.export.state_error import float_states, state_errors
from tf_expander_pruning.deployment.export.streaming import ACTIVATIONS, streaming_tflite

OUT = Path(__file__).resolve().parent
STEPS = (40, 100, 1000)
ERROR_STREAMS = 50
ERROR_FRAMES = 40  # per digit: 25 digits make a 1,000-frame stream
CALIBRATION_STREAMS = 20  # 1,000-frame training streams


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


def digit_streams(x: np.ndarray, streams: int, digits: int = 25) -> np.ndarray:
    """``(streams, digits * frames, features)``: random test digits back to back (seed 25)."""
    picks = np.random.default_rng(25).integers(0, len(x), size=(streams, digits))
    return x[picks].reshape(streams, digits * x.shape[1], x.shape[2])


def state_error_path(cell: str, digits: int = 25) -> Path:
    """state_error_<cell>.csv for 1,000-frame streams, state_error_<cell>_T<frames>.csv else."""
    suffix = "" if digits == 25 else f"_T{digits * ERROR_FRAMES}"
    return OUT / f"state_error_{cell}{suffix}.csv"


def run_states(cell: str, digits: int = 25, count: int = ERROR_STREAMS) -> None:
    """state_error_<cell>.csv: both forms over ``count`` streams of ``digits`` digits."""
    (x_train, y_train), (x_test, _) = (datasets.load("digits", "train"),
                                       datasets.load("digits", "test"))
    xtr = resample(x_train, ERROR_FRAMES)
    model = trained(cell, xtr, y_train)
    streams = digit_streams(resample(x_test, ERROR_FRAMES), count, digits)
    calibration = digit_streams(xtr, CALIBRATION_STREAMS)  # as long as the streams measured
    reference = float_states(model, streams)
    names = ["h", "c"] if cell == "LSTM" else ["h"]
    with open(state_error_path(cell, digits), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cell", "states", "t", *[f"{n}_{k}" for n in names
                                                  for k in ("error_mean", "error_median",
                                                            "error_max", "float_max")]])
        for states in ACTIVATIONS:
            data = streaming_tflite(export.strip(model), quantization="int8",
                                    representative_data=calibration, batch_size=1,
                                    isolate=True, activations=states)
            error = state_errors(data, streams, reference)
            size = np.abs(reference).max(axis=3).mean(axis=2)  # (T, states)
            for t in range(len(error)):
                values = [f"{v:.6g}" for i in range(len(names))
                          for v in (error[t, i].mean(), np.median(error[t, i]),
                                    error[t, i].max(), size[t, i])]
                writer.writerow([cell, states, t + 1, *values])
    print(f"wrote {state_error_path(cell, digits)}", flush=True)


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


def state_error_summary(rows: list[dict]) -> dict:
    """``{(states, column): [mean error over each quarter of the stream]}``: flat when bounded."""
    summary = {}
    for states in ACTIVATIONS:
        mine = [r for r in rows if r["states"] == states]
        for name in [k for k in mine[0] if k.endswith(("_error_mean", "_error_median"))]:
            values = np.array([float(r[name]) for r in mine])
            summary[(states, name)] = [part.mean() for part in np.array_split(values, 4)]
    return summary


def print_summary(path: Path) -> None:
    rows = list(csv.DictReader(open(path)))
    for (states, name), means in state_error_summary(rows).items():
        quarters = ", ".join(f"{m:.3g}" for m in means)
        print(f"{path.name} {states} {name} by quarter of the stream: {quarters}")


def plot_cell(axis, cell: str) -> None:
    rows = list(csv.DictReader(open(OUT / f"state_error_{cell}.csv")))
    for states in ACTIVATIONS:
        mine = [r for r in rows if r["states"] == states]
        t = [int(r["t"]) for r in mine]
        form = "int16 states, after" if states == "int16" else "all int8, before"
        for name in [k for k in mine[0] if k.endswith("_error_mean")]:
            axis.plot(t, [float(r[name]) for r in mine], label=f"{name[0]} ({form})",
                      linestyle="-" if states == "int16" else "--", linewidth=0.8)
    axis.set_yscale("log")
    axis.set_xlabel("time step t (25 digits x 40 frames, never reset)")
    axis.set_ylabel("max over units of |state - float state|\n(mean over 50 streams)")
    axis.set_title(f"{cell}(64), int8 streaming step model in LiteRT")
    axis.legend(fontsize=8)


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [c for c in ("LSTM", "GRU") if (OUT / f"state_error_{c}.csv").exists()]
    if not cells:
        return
    figure, axes = plt.subplots(1, len(cells), figsize=(6 * len(cells), 4), squeeze=False)
    for axis, cell in zip(axes[0], cells, strict=True):
        plot_cell(axis, cell)
    figure.tight_layout()
    figure.savefig(OUT / "state_error.png", dpi=110)
    for path in sorted(OUT.glob("state_error_*.csv")):
        print_summary(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("run", "codegen", "states", "collect", "plot"))
    parser.add_argument("cell", nargs="?", choices=("LSTM", "GRU"))
    parser.add_argument("--digits", type=int, default=25, help="states: digits per stream")
    parser.add_argument("--streams", type=int, default=ERROR_STREAMS, help="states: streams")
    args = parser.parse_args()
    if args.what in ("collect", "plot"):
        collect() if args.what == "collect" else plot()
    elif args.cell is None:
        parser.error("`run` needs a cell: LSTM or GRU")
    elif args.what == "codegen":
        run_codegen(args.cell)
    elif args.what == "states":
        run_states(args.cell, args.digits, args.streams)
    else:
        run_cell(args.cell)


if __name__ == "__main__":
    main()
