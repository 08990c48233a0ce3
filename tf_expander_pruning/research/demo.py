"""``make demo``: the main job on the embedded digits data, end to end, with a readable report.

1. train a small LSTM classifier on scikit-learn's digits (8 time steps x 8 features);
2. one-shot magnitude pruning at several sparsities: the spectral table of each;
3. iterative pruning with :func:`prune_rnn` + :class:`RamanujanConstraint`: each weight graph
   is pruned until it stops being a Ramanujan expander, then frozen;
4. dense vs pruned accuracy, final sparsity and Delta_r per weight, where each froze; the
   history CSV and a plot are written to the output folder;
5. deployment: the pruned model exported to TFLite (fp32, dynamic, int8), run in LiteRT and
   TensorFlow Lite for Microcontrollers, with a size/accuracy table.

Run: ``python -m tf_expander_pruning.research.demo --out demo_output`` (``make demo``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from tf_expander_pruning.core.keras_compat import keras, tf


def build_model(units: int = 64, cell: str = "lstm", seed: int = 0):
    """The demo classifier: one recurrent layer and a dense output of 10 logits."""
    keras.utils.set_random_seed(seed)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
             "simplernn": keras.layers.SimpleRNN}[cell]
    return keras.Sequential(
        [keras.Input((8, 8)), layer(units, name=cell), keras.layers.Dense(10, name="output")],
        name=f"digits_{cell}",
    )


def _compile(model, learning_rate: float = 3e-3):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


class EpochProgress(keras.callbacks.Callback):
    """A tqdm progress bar over epochs showing loss and accuracy."""

    def __init__(self, epochs: int, description: str):
        super().__init__()
        from tqdm.auto import tqdm

        self._bar = tqdm(total=epochs, desc=description, unit="epoch", file=sys.stdout,
                         leave=True, dynamic_ncols=False, ncols=100)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.3f}",
                              acc=f"{logs.get('accuracy', float('nan')):.3f}")
        self._bar.update(1)

    def on_train_end(self, logs=None):
        self._bar.close()


class SparsityAccuracyLog(keras.callbacks.Callback):
    """After each epoch: sparsity of all pruned recurrent weights and test accuracy."""

    def __init__(self, x_test, y_test):
        super().__init__()
        self.x_test, self.y_test = x_test, y_test
        self.points: list[tuple[float, float]] = []

    def on_epoch_end(self, epoch, logs=None):
        from tf_expander_pruning.pruning.wrapper import pruned_weights

        masks = [item.mask.numpy() for item in pruned_weights(self.model)]
        kept = sum(int(np.count_nonzero(mask)) for mask in masks)
        sparsity = 1.0 - kept / sum(mask.size for mask in masks)
        self.points.append((sparsity, _accuracy(self.model, self.x_test, self.y_test)))


def _accuracy(model, x, y) -> float:
    logits = model.predict(x, verbose=0, batch_size=256)
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def _one_shot_table(model, sparsities, print_fn) -> None:
    """Magnitude-prune a copy of the trained model at each sparsity and print its table."""
    from tf_expander_pruning.analysis import graphs

    for sparsity in sparsities:
        pruned = keras.models.clone_model(model)
        pruned.set_weights(model.get_weights())
        for graph in graphs.weight_graphs(pruned):
            values = graph.weight_variable.numpy()
            threshold = np.quantile(np.abs(values), sparsity)
            graph.weight_variable.assign(np.where(np.abs(values) > threshold, values, 0.0))
        print_fn(f"\n-- one-shot magnitude pruning to {sparsity:.0%} (no fine-tuning) --")
        graphs.summary(pruned, print_fn=print_fn)


def _plot(history: list[dict], accuracy_points: list[tuple[float, float]],
          dense_accuracy: float, pruned_accuracy: float, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    keys = sorted({(r["layer"], r["role"], r["gate"]) for r in history},
                  key=lambda k: (k[0], k[1], k[2] or ""))
    for layer, role, gate in keys:
        rows = [r for r in history if (r["layer"], r["role"], r["gate"]) == (layer, role, gate)
                and r["delta_r"] is not None]
        if rows:
            label = "/".join(x for x in (layer, role, gate) if x)
            axis.plot([r["sparsity"] for r in rows], [r["delta_r"] for r in rows], "o-",
                      label=label, markersize=3)
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xlabel("sparsity (per weight graph; overall for accuracy)")
    axis.set_ylabel("Delta_r (>= 0: Ramanujan)")
    if accuracy_points:
        right = axis.twinx()
        right.plot([p[0] for p in accuracy_points], [p[1] for p in accuracy_points], "k^:",
                   markersize=4, label="test accuracy (per epoch)")
        right.axhline(dense_accuracy, color="grey", linewidth=0.8, linestyle="--")
        right.set_ylabel("test accuracy (dashed: dense)")
        right.legend(fontsize=7, loc="lower left")
    axis.set_title(f"digits LSTM: dense acc {dense_accuracy:.3f}, pruned acc {pruned_accuracy:.3f}")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _sparse_c_table(model, x_test, y_test, tflite_rows, print_fn) -> dict:
    """Sparse int8 C (codegen) against the TFLM int8 flatbuffer of the same pruned model."""
    from tf_expander_pruning.deployment import codegen

    report = codegen.verify(model, x_test, quantization="int8", labels=y_test)
    tflm = next(r for r in tflite_rows if r["model"] == "pruned" and r["quantization"] == "int8")
    print_fn("\n== Sparse C (tf-expander codegen) vs TFLM, int8, pruned model ==")
    print_fn("| deployment | flash bytes | RAM bytes | test accuracy |\n|---|---:|---:|---:|")
    print_fn(f"| TFLM int8 flatbuffer + arena | {tflm['flatbuffer_bytes']} | "
             f"{tflm['tflm_arena_bytes']} | {tflm['tflm_accuracy']:.2%} |")
    print_fn(f"| sparse C int8 (weights+indices / all constants) | {report.weight_bytes} / "
             f"{report.flash_bytes} | {report.ram_bytes} | {report.c_accuracy:.2%} |")
    print_fn(f"sparse C weights+indices = {report.weight_bytes / tflm['flatbuffer_bytes']:.3f} "
             f"of the flatbuffer; argmax agreement with Keras {report.argmax_agreement:.2%}")
    return report.to_dict()


def run(out: str | Path = "demo_output", *, units: int = 64, dense_epochs: int = 40,
        prune_epochs: int = 40, export: bool = True, print_fn=print) -> dict:
    """Run the demo; return the key figures (also printed)."""
    import tensorflow_model_optimization as tfmot

    from tf_expander_pruning.constraint.callback import RamanujanConstraint
    from tf_expander_pruning.pruning.schedules import GeometricSchedule
    from tf_expander_pruning.pruning.wrapper import prune_rnn, strip_pruning
    from tf_expander_pruning.research import datasets

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    x_train, y_train = datasets.load("digits", "train")
    x_test, y_test = datasets.load("digits", "test")
    print_fn(f"digits: {len(x_train)} train / {len(x_test)} test sequences of 8 steps x 8 "
             "features (scikit-learn, embedded)")

    # 1. dense model
    model = _compile(build_model(units))
    batch_size = 32
    steps_per_epoch = int(np.ceil(len(x_train) / batch_size))
    # Keep the best epoch on a held-out 15 % of the training split: at this learning rate the
    # last epoch's test accuracy swings by several points from run to run.
    best = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=dense_epochs,
                                         restore_best_weights=True)
    model.fit(x_train, y_train, epochs=dense_epochs, batch_size=batch_size, verbose=0,
              validation_split=0.15,
              callbacks=[best, EpochProgress(dense_epochs, "dense training")])
    dense_accuracy = _accuracy(model, x_test, y_test)
    print_fn(f"dense LSTM({units}) test accuracy: {dense_accuracy:.4f}")

    # 2. one-shot tables
    _one_shot_table(model, (0.5, 0.7, 0.9), print_fn)

    # 3. prune while Ramanujan
    schedule = GeometricSchedule(rate=0.2, frequency=steps_per_epoch * 2)
    pruned = _compile(prune_rnn(model, schedule), learning_rate=1e-3)
    constraint = RamanujanConstraint(verbose=0)
    accuracy_log = SparsityAccuracyLog(x_test, y_test)
    pruned.fit(x_train, y_train, epochs=prune_epochs, batch_size=batch_size, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), constraint, accuracy_log,
                          EpochProgress(prune_epochs, "pruning while Ramanujan")])
    stripped = strip_pruning(pruned)
    pruned_accuracy = _accuracy(stripped, x_test, y_test)

    # 4. report
    print_fn("\n== Ramanujan-constrained pruning ==")
    for message in constraint.messages:
        print_fn("  " + message)
    print_fn("")
    constraint.summary(print_fn=print_fn)
    from tf_expander_pruning.analysis import graphs

    print_fn("")
    graphs.summary(stripped, per_gate=constraint.per_gate, print_fn=print_fn)
    kernel_params = sum(g.mask.size for g in graphs.weight_graphs(stripped))
    kept = sum(int(g.mask.sum()) for g in graphs.weight_graphs(stripped))
    print_fn(
        f"\ntest accuracy: dense {dense_accuracy:.4f} -> pruned {pruned_accuracy:.4f} "
        f"({100 * (pruned_accuracy - dense_accuracy):+.2f} points); recurrent weights kept: "
        f"{kept}/{kernel_params} (sparsity {1 - kept / kernel_params:.1%})"
    )
    csv_path = out / "history.csv"
    constraint.to_csv(csv_path)
    plot_path = out / "delta_r_vs_sparsity.png"
    _plot(constraint.history, accuracy_log.points, dense_accuracy, pruned_accuracy, plot_path)
    model_path = out / "pruned_model.keras"
    stripped.save(model_path)
    print_fn(f"wrote {csv_path}, {plot_path} and {model_path}")

    result = {"dense_accuracy": dense_accuracy, "pruned_accuracy": pruned_accuracy,
              "sparsity": 1 - kept / kernel_params, "frozen": list(constraint.frozen_layers)}
    # 5. deployment
    if export:
        from tf_expander_pruning.deployment import export as export_module

        print_fn("\n== Deployment (TFLite / LiteRT / TFLM) ==")
        table = export_module.deployment_table(
            stripped, x_test, y_test, representative_data=x_train[:200],
            dense_model=model,
        )
        print_fn(table.text)
        result["deployment"] = table.rows
        result["sparse_c"] = _sparse_c_table(stripped, x_test, y_test, table.rows, print_fn)
    print_fn(f"\ndemo finished in {time.perf_counter() - started:.0f} s; outputs in {out}/")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_output", help="output folder")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--dense-epochs", type=int, default=40)
    parser.add_argument("--prune-epochs", type=int, default=40)
    parser.add_argument("--no-export", action="store_true", help="skip the TFLite part")
    args = parser.parse_args(argv)
    tf.get_logger().setLevel("ERROR")
    run(args.out, units=args.units, dense_epochs=args.dense_epochs,
        prune_epochs=args.prune_epochs, export=not args.no_export)
    return 0


if __name__ == "__main__":
    sys.exit(main())
