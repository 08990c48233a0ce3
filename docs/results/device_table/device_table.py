"""Device table for docs/deploy.md (issue 13 item 6): emulated Cortex-M4 (QEMU mps2-an386).

LSTM(64) -> Dense(10) and GRU(64) -> Dense(10) on the digits test split resampled to T = 8, 40,
100 steps (the `streaming-table` approach of docs/deploy.md), pruned to 80 % by NumPy magnitude
pruning of kernel and recurrent_kernel, then fine-tuned with the zeros held by a mask.  For each
model and T: TFLM int8 whole-sequence, TFLM int8 streaming (TFLM + CMSIS-NN in QEMU), sparse int8
C and integer-only int8 C (codegen, in QEMU).  A failed configuration is recorded with its error.

Usage:  python device_table.py LSTM|GRU [T ...]   (appends JSON lines to device_table.jsonl)
        python device_table.py --collect           (writes device_table.csv / .json)
"""
import csv
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LINES = HERE / "device_table.jsonl"
SAMPLES = 100         # verification sequences per QEMU run (the first 100 of the test split)
SPARSITY = 0.8


def collect():
    rows = [json.loads(line) for line in LINES.read_text().splitlines() if line.strip()]
    order = ["TFLM int8 whole", "TFLM int8 streaming", "sparse int8 C", "integer-only int8 C"]
    rows.sort(key=lambda r: (not r["model"].startswith("LSTM"), r["T"],
                             [r["form"].startswith(o) for o in order].index(True)))
    (HERE / "device_table.json").write_text(json.dumps(rows, indent=1) + "\n")
    keys = ["model", "T", "form", "flash_bytes", "code_bytes", "model_bytes", "ram_bytes",
            "instructions_per_inference", "keras_accuracy", "runtime_accuracy",
            "argmax_agreement", "sparsity", "seconds", "error"]
    with open(HERE / "device_table.csv", "w", newline="") as f:
        w = csv.DictWriter(f, keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    print("| model | T | form | flash bytes | = code | + model | RAM bytes | instructions per "
          "sequence | Keras acc | device acc | argmax agreement |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r.get("error"):
            print(f"| {r['model']} | {r['T']} | {r['form']} | failed: {r['error'][:120]} | | | | | "
                  f"{r['keras_accuracy']:.0%} | | |")
            continue
        # TFLM: code from the link map + flatbuffer; C: the linked model object's code + its
        # constants (weights, indices, biases, scales) = flash_bytes - code_bytes.
        print(f"| {r['model']} | {r['T']} | {r['form']} | {r['flash_bytes']:,} | "
              f"{r['code_bytes']:,} | {r['flash_bytes'] - r['code_bytes']:,} | "
              f"{r['ram_bytes']:,} | "
              f"{r['instructions_per_inference']:,} | {r['keras_accuracy']:.0%} | "
              f"{r['runtime_accuracy']:.0%} | {r['argmax_agreement']:.0%} |")


def resample(x, steps):
    old = np.linspace(0, 1, x.shape[1])
    new = np.linspace(0, 1, steps)
    return np.stack([np.stack([np.interp(new, old, s[:, f]) for f in range(s.shape[1])], axis=1)
                     for s in x]).astype(np.float32)


def main(cell, steps_list):
    from tf_expander_pruning.keras_compat import keras

    from tf_expander_pruning import codegen, datasets, export

    x_train, y_train = datasets.load("digits", "train")
    x_test, y_test = datasets.load("digits", "test")

    def emit(row):
        with open(LINES, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(row, flush=True)

    for steps in steps_list:
        t0 = time.time()
        xtr, xte = resample(x_train, steps), resample(x_test[:SAMPLES], steps)
        yte = y_test[:SAMPLES]
        keras.utils.set_random_seed(0)
        inputs = keras.Input((steps, 8))
        layer = keras.layers.LSTM(64) if cell == "LSTM" else keras.layers.GRU(64)
        model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(layer(inputs)))
        model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
        model.fit(xtr, y_train, epochs=15, batch_size=64, verbose=0)
        # Magnitude pruning with NumPy: the smallest 80 % of |w| in kernel and recurrent_kernel
        # (each matrix separately) set to zero, then 6 epochs of fine-tuning with the mask
        # re-applied after every batch.  The Dense output layer stays dense.
        rnn = model.layers[1]
        weights = rnn.get_weights()
        masks = []
        for i in (0, 1):
            w = weights[i]
            threshold = np.quantile(np.abs(w), SPARSITY)
            masks.append((np.abs(w) > threshold).astype(w.dtype))
            weights[i] = w * masks[-1]
        rnn.set_weights(weights)

        class KeepZeros(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None, rnn=rnn, masks=masks):
                ws = rnn.get_weights()
                ws[0], ws[1] = ws[0] * masks[0], ws[1] * masks[1]
                rnn.set_weights(ws)

        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        model.fit(xtr, y_train, epochs=6, batch_size=64, verbose=0, callbacks=[KeepZeros()])
        ws = rnn.get_weights()
        kept = np.count_nonzero(ws[0]) + np.count_nonzero(ws[1])
        sparsity = 1 - kept / (ws[0].size + ws[1].size)
        keras_acc = float(np.mean(np.argmax(model.predict(xte, verbose=0), -1) == yte))
        print(f"# {cell} T={steps}: trained+pruned in {time.time() - t0:.0f} s, "
              f"sparsity {sparsity:.1%}, Keras acc on {SAMPLES} = {keras_acc:.0%}", flush=True)
        base = {"model": f"{cell}(64)->Dense(10)", "T": steps,
                "sparsity": round(float(sparsity), 4), "keras_accuracy": keras_acc,
                "samples": SAMPLES}
        kind = "fused LSTM" if cell == "LSTM" else "unrolled"
        whole = f"TFLM int8 whole sequence ({kind})"
        for form, streaming in ((whole, False), ("TFLM int8 streaming", True)):
            t1 = time.time()
            row = dict(base, form=form)
            try:
                data = export.to_tflite(model, quantization="int8", representative_data=xtr[:200],
                                        streaming=streaming)
                row["model_bytes"] = len(data)
                r = export.verify(data, model, xte, runtime="tflm-cortex-m4", labels=yte)
                row.update(code_bytes=r.code_bytes, model_bytes=r.model_bytes,
                           flash_bytes=(r.code_bytes or 0) + (r.model_bytes or 0),
                           ram_bytes=r.arena_bytes, ram_kind="TFLM arena",
                           instructions_per_inference=r.instructions_per_inference,
                           runtime_accuracy=r.runtime_accuracy, argmax_agreement=r.argmax_agreement)
            except Exception as error:  # the measured outcome of this configuration
                row["error"] = f"{type(error).__name__}: {str(error)[:400]}"
                traceback.print_exc()
            row["seconds"] = round(time.time() - t1)
            emit(row)
        for form, integer_only in (("sparse int8 C", False), ("integer-only int8 C", True)):
            t1 = time.time()
            row = dict(base, form=form)
            try:
                r = codegen.verify(model, xte, quantization="int8", target="cortex-m4", labels=yte,
                                   integer_only=integer_only)
                row.update(code_bytes=getattr(r, "code_bytes", None), model_bytes=r.model_bytes,
                           flash_bytes=r.flash_bytes, ram_bytes=r.ram_bytes, ram_kind="static RAM",
                           instructions_per_inference=r.instructions_per_inference,
                           runtime_accuracy=getattr(r, "runtime_accuracy", None),
                           argmax_agreement=r.argmax_agreement)
            except Exception as error:
                row["error"] = f"{type(error).__name__}: {str(error)[:400]}"
                traceback.print_exc()
            row["seconds"] = round(time.time() - t1)
            emit(row)


if __name__ == "__main__":
    if sys.argv[1] == "--collect":
        collect()
    else:
        main(sys.argv[1], [int(s) for s in sys.argv[2:]] or [8, 40, 100])
