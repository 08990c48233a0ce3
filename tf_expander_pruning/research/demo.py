"""``make demo``: the main job on the embedded digits data, end to end, with a readable report.

1. train a small LSTM classifier on scikit-learn's digits (8 time steps x 8 features);
2. one-shot magnitude pruning at several sparsities: the spectral table of each;
3. iterative pruning with :func:`prune_rnn` + :class:`RamanujanConstraint`: each weight graph
   is pruned until it stops being a Ramanujan expander, then frozen;
4. dense vs pruned accuracy, final sparsity and Delta_r per weight, where each froze; the
   history CSV and a plot are written to the output folder;
5. deployment: the pruned model exported to TFLite (float32, dynamic, int8), run in LiteRT and
   TensorFlow Lite for Microcontrollers, with a size/accuracy table.

Run: ``python -m tf_expander_pruning.research.demo --out demo_output`` (``make demo``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.core.extras import MissingExtraError
from tf_expander_pruning.core.keras_compat import keras, tf  # noqa: E402
from tf_expander_pruning.research.classifier import (
    accuracy,
    compile_classifier,
    recurrent_classifier,
)

__all__ = ["build_model", "train_dense", "prune_while_ramanujan", "EpochProgress",
           "SparsityAccuracyLog", "run", "main"]

BATCH_SIZE = 32
#: The last 25 % of the (shuffled) training rows, held out by both fits: the dense model never
#: trains on the rows the pruning guard watches (a quarter: fewer rows made the guard's
#: reading too noisy to stop within a point of the knee).
VALIDATION = 0.25


def build_model(units: int = 64, cell: str = "lstm", seed: int = 0):
    """The demo classifier: one recurrent layer and a dense output of 10 logits."""
    keras.utils.set_random_seed(seed)
    return recurrent_classifier(cell, units, input_shape=(8, 8), classes=10,
                                name=f"digits_{cell}")


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
        from tf_expander_pruning.pruning import pruned_weights

        masks = [item.mask.numpy() for item in pruned_weights(self.model)]
        kept = sum(int(np.count_nonzero(mask)) for mask in masks)
        sparsity = 1.0 - kept / sum(mask.size for mask in masks)
        self.points.append((sparsity, accuracy(self.model, self.x_test, self.y_test)))


def train_dense(x_train, y_train, *, units: int = 64, epochs: int = 40, cell: str = "lstm",
                seed: int = 0, progress: bool = True):
    """The demo's dense model trained on ``x_train`` less its last :data:`VALIDATION` rows
    (the rows the pruning guard watches later).

    At this learning rate the last epoch's accuracy swings by several points from run to run,
    hence the epoch with the lowest training loss.
    """
    model = compile_classifier(build_model(units, cell, seed))
    # The best epoch by training loss, not by val_accuracy: the pruning guard measures its
    # reference on these validation rows, and a model picked for them would bias it upwards.
    best = keras.callbacks.EarlyStopping(monitor="loss", patience=epochs,
                                         restore_best_weights=True)
    callbacks = [best] + ([EpochProgress(epochs, "dense training")] if progress else [])
    model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0,
              validation_split=VALIDATION, callbacks=callbacks)
    return model


def prune_while_ramanujan(model, x_train, y_train, *, epochs: int = 40,
                          extra_callbacks: list | None = None, progress: bool = True,
                          constraint=None):
    """Prune ``model`` under the constraint's knee search: a geometric schedule with one mask
    update (a try) every two epochs, the last one 6 epochs before the end (fine-tuning).

    Returns:
        ``(pruned, constraint)``: the still-wrapped model and its :class:`RamanujanConstraint`.
    """
    import tensorflow_model_optimization as tfmot

    from tf_expander_pruning.constraint import RamanujanConstraint
    from tf_expander_pruning.pruning import prune_rnn
    from tf_expander_pruning.pruning.schedules import GeometricSchedule

    steps_per_epoch = int(np.ceil(len(x_train) * (1 - VALIDATION) / BATCH_SIZE))
    schedule = GeometricSchedule(rate=0.2, frequency=steps_per_epoch * 2,
                                 end_step=steps_per_epoch * max(epochs - 6, 2))
    pruned = compile_classifier(prune_rnn(model, schedule), learning_rate=1e-3)
    constraint = constraint or RamanujanConstraint(verbose=0)  # the default stop
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep(), constraint, *(extra_callbacks or [])]
    if progress:
        callbacks.append(EpochProgress(epochs, "pruning while Ramanujan"))
    # A validation split for the constraint's accuracy guard (it watches val_accuracy).
    pruned.fit(x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0,
               validation_split=VALIDATION, callbacks=callbacks)
    return pruned, constraint


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


_TRY_MARKERS = {"accepted": ("o", "tab:green"), "wait": ("s", "tab:orange"),
                "retry": ("x", "tab:red"), "frozen": ("*", "black")}


def _plot_tries(axis, history: list[dict]) -> None:
    """The knee search's path: each guard-judged try's sparsity by epoch, marked by verdict."""
    tries = [r for r in history if r.get("stopped_by") == "guard"]
    for layer, role in sorted({(r["layer"], r["role"]) for r in tries}):
        mine = [r for r in tries if (r["layer"], r["role"]) == (layer, role)]
        axis.plot([r["epoch"] + 1 for r in mine], [r["sparsity"] for r in mine], "-",
                  linewidth=0.8, label=f"{layer}/{role}")
        for action, (marker, color) in _TRY_MARKERS.items():
            these = [r for r in mine if r.get("action") == action]
            axis.scatter([r["epoch"] + 1 for r in these], [r["sparsity"] for r in these],
                         marker=marker, color=color, s=28, zorder=3)
    for action, (marker, color) in _TRY_MARKERS.items():
        axis.scatter([], [], marker=marker, color=color, label=action)
    axis.set_xlabel("epoch")
    axis.set_ylabel("sparsity of the try")
    axis.set_title("knee search: tries (retries marked x)")
    axis.legend(fontsize=7)


def _plot(history: list[dict], accuracy_points: list[tuple[float, float]],
          dense_accuracy: float, pruned_accuracy: float, path: Path):
    from tf_expander_pruning.research.experiments.plots import pyplot

    plt = pyplot()
    figure, (axis, tries_axis) = plt.subplots(1, 2, figsize=(13, 4.5))
    keys = sorted({(r["layer"], r["role"], r["gate"]) for r in history},
                  key=lambda k: (k[0], k[1], k[2] or ""))
    for layer, role, gate in keys:
        rows = [r for r in history if (r["layer"], r["role"], r["gate"]) == (layer, role, gate)
                and r["delta_r"] is not None]
        if rows:
            label = "/".join(x for x in (layer, role, gate) if x)
            axis.plot([r["sparsity"] for r in rows], [r["delta_r"] for r in rows], "o",
                      label=label, markersize=3)
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xlabel("sparsity (per weight graph; overall for accuracy)")
    axis.set_ylabel("Delta_r (>= 0: Ramanujan)")
    if accuracy_points:
        right = axis.twinx()
        right.plot([p[0] for p in accuracy_points], [p[1] for p in accuracy_points], "k^",
                   markersize=4, label="test accuracy (per epoch)")
        right.axhline(dense_accuracy, color="grey", linewidth=0.8, linestyle="--")
        right.set_ylabel("test accuracy (dashed: dense)")
        right.legend(fontsize=7, loc="lower left")
    axis.set_title(f"digits LSTM: dense acc {dense_accuracy:.3f}, pruned acc {pruned_accuracy:.3f}")
    axis.legend(fontsize=7, ncol=2)
    _plot_tries(tries_axis, history)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _report(constraint, stripped, dense_accuracy: float, pruned_accuracy: float,
            print_fn: Callable[[str], Any]) -> float:
    """Print the constraint's messages and tables and the accuracy line; returns the sparsity."""
    from tf_expander_pruning.analysis import graphs

    print_fn("\n== Ramanujan-constrained pruning ==")
    for message in constraint.messages:
        print_fn("  " + message)
    print_fn("")
    constraint.summary(print_fn=print_fn)
    print_fn("")
    graphs.summary(stripped, per_gate=constraint.per_gate, print_fn=print_fn)
    masks = [g.mask for g in graphs.weight_graphs(stripped)]
    total = sum(mask.size for mask in masks)
    kept = sum(int(mask.sum()) for mask in masks)
    print_fn(
        f"\ntest accuracy: dense {dense_accuracy:.4f} -> pruned {pruned_accuracy:.4f} "
        f"({100 * (pruned_accuracy - dense_accuracy):+.2f} points); recurrent weights kept: "
        f"{kept}/{total} (sparsity {1 - kept / total:.1%})"
    )
    return 1 - kept / total


def _write_outputs(out: Path, constraint, stripped, points, dense_accuracy: float,
                   pruned_accuracy: float, print_fn: Callable[[str], Any]) -> None:
    csv_path = out / "history.csv"
    constraint.to_csv(csv_path)
    plot_path = out / "delta_r_vs_sparsity.png"
    _plot(constraint.history, points, dense_accuracy, pruned_accuracy, plot_path)
    model_path = out / "pruned_model.keras"
    stripped.save(model_path)
    print_fn(f"wrote {csv_path}, {plot_path} and {model_path}")


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


def _deploy(stripped, dense, x_train, x_test, y_test, print_fn) -> dict:
    """TFLite / LiteRT / TFLM table and the sparse C comparison."""
    from tf_expander_pruning.deployment import export as export_module

    print_fn("\n== Deployment (TFLite / LiteRT / TFLM) ==")
    table = export_module.deployment_table(
        stripped, x_test, y_test, representative_data=x_train[:200], dense_model=dense,
    )
    print_fn(table.text)
    return {"deployment": table.rows,
            "sparse_c": _sparse_c_table(stripped, x_test, y_test, table.rows, print_fn)}


def run(out: str | Path = "demo_output", *, units: int = 64, dense_epochs: int = 40,
        prune_epochs: int = 40, export: bool = True, print_fn=print) -> dict:
    """Run the demo; return the key figures (also printed)."""
    from tf_expander_pruning.pruning import strip_pruning
    from tf_expander_pruning.research import datasets

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    x_train, y_train = datasets.load("digits", "train")
    x_test, y_test = datasets.load("digits", "test")
    print_fn(f"digits: {len(x_train)} train / {len(x_test)} test sequences of 8 steps x 8 "
             "features (scikit-learn, embedded)")

    model = train_dense(x_train, y_train, units=units, epochs=dense_epochs)
    dense_accuracy = accuracy(model, x_test, y_test)
    print_fn(f"dense LSTM({units}) test accuracy: {dense_accuracy:.4f}")
    _one_shot_table(model, (0.5, 0.7, 0.9), print_fn)

    accuracy_log = SparsityAccuracyLog(x_test, y_test)
    pruned, constraint = prune_while_ramanujan(model, x_train, y_train, epochs=prune_epochs,
                                               extra_callbacks=[accuracy_log])
    stripped = strip_pruning(pruned)
    pruned_accuracy = accuracy(stripped, x_test, y_test)
    sparsity = _report(constraint, stripped, dense_accuracy, pruned_accuracy, print_fn)
    _write_outputs(out, constraint, stripped, accuracy_log.points, dense_accuracy,
                   pruned_accuracy, print_fn)
    result = {"dense_accuracy": dense_accuracy, "pruned_accuracy": pruned_accuracy,
              "sparsity": sparsity, "frozen": list(constraint.frozen_layers)}
    if export:
        result.update(_deploy(stripped, model, x_train, x_test, y_test, print_fn))
    print_fn(f"\ndemo finished in {time.perf_counter() - started:.0f} s; outputs in {out}/")
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m tf_expander_pruning.research.demo [--out DIR] [--units N] ... [--no-export]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_output", help="output folder")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--dense-epochs", type=int, default=40)
    parser.add_argument("--prune-epochs", type=int, default=40)
    parser.add_argument("--no-export", action="store_true", help="skip the TFLite part")
    args = parser.parse_args(argv)
    tf.get_logger().setLevel("ERROR")
    try:
        run(args.out, units=args.units, dense_epochs=args.dense_epochs,
            prune_epochs=args.prune_epochs, export=not args.no_export)
    except MissingExtraError as error:  # a lean install: say which extra, not a traceback
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
