"""Flash of the sparse int8 C model vs the TFLM int8 flatbuffer of the same pruned model.

    .venv/bin/python benchmarks/codegen_size.py            # one summary line
    .venv/bin/python benchmarks/codegen_size.py --table    # + the docs table (TFLM arena, accuracy)
    .venv/bin/python benchmarks/codegen_size.py --save demo_lstm.keras  # model for the CLI

The demo model is ``Input(8, 8) -> LSTM(64) -> Dense(10, softmax)`` trained on the embedded digits
data, magnitude-pruned (per matrix, kernel and recurrent kernel) to ``--sparsity`` and fine-tuned
with the mask held fixed.  The ratio printed is sparse int8 weights + indices + row pointers of the
generated C divided by the bytes of the full-int8 TFLite flatbuffer (what TFLM runs); the ratio of
all C constant data (also per-row scales and biases) is printed next to it.  Target: <= 0.45.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import codegen, datasets, export

TARGET = 0.45


def build_demo(units: int = 64, sparsity: float = 0.8, seed: int = 0, epochs: int = 12,
               finetune_epochs: int = 4):
    """Train the demo LSTM on digits, prune it to ``sparsity`` and fine-tune under the mask."""
    x, y = datasets.load("digits", "train")
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8, 8)),
        keras.layers.LSTM(units, name="lstm"),
        keras.layers.Dense(10, activation="softmax", name="out"),
    ])
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    lstm = model.get_layer("lstm")
    weights = lstm.get_weights()
    masks = []
    for i in (0, 1):  # kernel (W_xh) and recurrent_kernel (W_hh); the output layer stays dense
        cut = np.quantile(np.abs(weights[i]), sparsity)
        masks.append(np.abs(weights[i]) > cut)
    lstm.set_weights([weights[0] * masks[0], weights[1] * masks[1], weights[2]])

    class KeepMask(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            w = lstm.get_weights()
            lstm.set_weights([w[0] * masks[0], w[1] * masks[1], w[2]])

    if finetune_epochs:
        model.fit(x, y, epochs=finetune_epochs, batch_size=32, verbose=0, callbacks=[KeepMask()])
    return model


def tflite_int8(model, representative: np.ndarray) -> bytes:
    """Full-int8 flatbuffer from the package's exporter."""
    return export.to_tflite(model, quantization="int8", representative_data=representative)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--sparsity", type=float, default=0.8)
    parser.add_argument("--table", action="store_true",
                        help="also measure accuracy and TFLM arena and print the docs table")
    parser.add_argument("--save", default=None,
                        help="also save the pruned demo model here (e.g. demo_lstm.keras)")
    args = parser.parse_args(argv)
    start = time.time()
    model = build_demo(args.units, args.sparsity)
    if args.save:
        model.save(args.save)
    x_train, _ = datasets.load("digits", "train")
    c_model = codegen.to_c(model, quantization="int8")
    flatbuffer = tflite_int8(model, x_train[:200])
    ratio = c_model.weight_bytes / len(flatbuffer)
    flash_ratio = c_model.flash_bytes / len(flatbuffer)
    sparsity = np.mean([m.sparsity for m in c_model.matrices if m.layer == "lstm"])
    if args.table:
        print_table(model, c_model, flatbuffer)
    print(
        f"codegen_size: LSTM({args.units}) digits at {sparsity:.1%} sparsity: sparse int8 "
        f"weights+indices {c_model.weight_bytes} B / TFLM int8 flatbuffer {len(flatbuffer)} B "
        f"= {ratio:.3f} (target <= {TARGET}); all C const data {c_model.flash_bytes} B = "
        f"{flash_ratio:.3f}; {'PASS' if ratio <= TARGET else 'FAIL'} "
        f"[{time.time() - start:.0f} s]"
    )
    return 0 if ratio <= TARGET else 1


def print_table(model, c_model, flatbuffer: bytes) -> None:
    """The docs/codegen.md table: flash, RAM and test accuracy of each deployment."""
    x, y = datasets.load("digits", "test")
    c_report = codegen.verify(model, x, labels=y, c_model=c_model)
    c32 = codegen.to_c(model, quantization="float32")
    c32_report = codegen.verify(model, x, labels=y, c_model=c32)
    tflm = export.verify(flatbuffer, model, x, runtime="tflm", labels=y)
    print("| deployment | flash: weights+indices | flash: all constant data | static RAM / arena"
          " | test accuracy | argmax agreement with Keras |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| Keras float32 (pruned) | - | - | - | {c_report.keras_accuracy:.2%} | - |")
    for label, cm, rep in (("sparse C int8", c_model, c_report),
                           ("sparse C float32", c32, c32_report)):
        print(f"| {label} | {cm.weight_bytes} B | {cm.flash_bytes} B | {cm.ram_bytes} B "
              f"| {rep.runtime_accuracy:.2%} | {rep.argmax_agreement:.2%} |")
    print(f"| TFLM int8 flatbuffer | (dense inside) | {len(flatbuffer)} B (flatbuffer) "
          f"| {tflm.arena_bytes} B arena | {tflm.runtime_accuracy:.2%} "
          f"| {tflm.argmax_agreement:.2%} |")
    print(c_model.summary())


if __name__ == "__main__":
    sys.exit(main())
