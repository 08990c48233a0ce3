"""The one-run knee study (issue 22): the default stop against fixed TF-MOT targets and the
ablations, all from the same dense model, with a held-out validation split as a user has.

Per seed the training split is shuffled and split (stratified) into a fitting part (80 %) and a
validation part (20 %).  The dense model trains on the fitting part only (so the validation rows
are never memorised); every method then prunes that same dense model on the fitting part:

* ``fixed_<s>``: TF-MOT's ``PolynomialDecay`` to ``s``, ``rounds`` mask updates one every
  ``finetune_epochs`` epochs, ``(rounds + 1) * finetune_epochs`` epochs (the budget);
* ``knee``: ``GeometricSchedule(rate=prune_fraction)`` and ``RamanujanConstraint()`` with its
  defaults (the knee search; the spectral test recorded, not obeyed), watching
  ``val_accuracy`` on the validation part; it may use twice the budget, as a mask update every
  ``max(finetune_epochs, 2)`` epochs;
* ``knee_no_loss``: the same without the loss test (``max_loss_rise=None``);
* ``knee_spectral``: the same with the spectral test freezing a matrix that fails it
  (``spectral="stop"``);
* ``first_failure``: the guard of issue 16 with the spectral stop, frozen for good at the first
  failed check (``max_retries=0, patience=0, spectral="stop"``);
* ``paper``: the spectral rule alone (``guard=None``), with the fixed budget.

Run as ``python -m tf_expander_pruning.research.experiments.knee_study --dataset digits ...``;
rows are merged into ``<out>/knee_study.csv`` as each run finishes.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.research.classifier import compile_classifier
from tf_expander_pruning.research.experiments.config import ExperimentConfig
from tf_expander_pruning.research.experiments.results_io import write_rows
from tf_expander_pruning.research.experiments.stopping import STOP_TARGETS
from tf_expander_pruning.research.experiments.training import (
    ExperimentData,
    fit_pruned,
    train_dense,
)

__all__ = ["KNEE_METHODS", "validation_split", "run_knee_study", "measure_noise", "main"]

#: Stop methods of the study, in table order.
KNEE_METHODS = ("knee", "knee_no_loss", "knee_spectral", "first_failure", "paper")


def validation_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fit_index, val_index)``: a shuffled split with ``fraction`` of every class held out."""
    rng = np.random.default_rng(seed)
    fit, val = [], []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        cut = int(round(len(rows) * fraction))
        val.append(rows[:cut])
        fit.append(rows[cut:])
    return rng.permutation(np.concatenate(fit)), rng.permutation(np.concatenate(val))


def _stop_method(name: str, config: ExperimentConfig, steps: int):
    """``(schedule, constraint, epochs)`` of one stop method."""
    from tf_expander_pruning.constraint.callback import RamanujanConstraint
    from tf_expander_pruning.pruning.schedules import GeometricSchedule

    per_round = max(config.finetune_epochs, 1)
    budget = (config.rounds + 1) * per_round
    epochs = budget if name == "paper" else 2 * budget
    if name != "paper":
        per_round = max(per_round, 2)  # a try needs more than one epoch to recover
    options = {
        "knee": {},
        "knee_spectral": {"spectral": "stop"},
        "knee_no_loss": {"max_loss_rise": None},
        "first_failure": {"max_retries": 0, "patience": 0, "spectral": "stop"},
        "paper": {"guard": None},
    }[name]
    # The first update at the first batch (the callback measures where pruning starts on the
    # validation data before it), then one every `per_round` epochs.
    schedule = GeometricSchedule(
        rate=config.prune_fraction, frequency=steps * per_round, begin_step=1,
        end_step=(epochs - per_round) * steps, max_sparsity=0.99,
    )
    return schedule, RamanujanConstraint(verbose=0, **options), epochs


def _fixed_method(target: float, config: ExperimentConfig, steps: int):
    from tf_expander_pruning.core.keras_compat import tfmot

    per_round = max(config.finetune_epochs, 1)
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=target, begin_step=0,
        end_step=config.rounds * steps * per_round, frequency=steps * per_round,
    )
    return schedule, None, (config.rounds + 1) * per_round


def _row(config, seed, name, target, pruned, constraint, data, seconds, epochs):
    from tf_expander_pruning.pruning import pruned_weights

    masks = {p.role: np.asarray(p.mask.numpy()) for p in pruned_weights(pruned)}
    row: dict[str, Any] = {"dataset": config.dataset, "cell": config.cell, "seed": seed,
                           "method": name, "target": target}
    row["sparsity_kernel"] = 1.0 - float(masks["W_xh"].mean())
    row["sparsity_recurrent"] = 1.0 - float(masks["W_hh"].mean())
    zeros = sum(float((m == 0).sum()) for m in masks.values())
    row["layer_sparsity"] = zeros / sum(m.size for m in masks.values())
    row["accuracy"] = data.accuracies(pruned)["accuracy"]
    row["epochs"], row["seconds"] = epochs, round(seconds, 2)
    if constraint is not None:
        history = constraint.history
        row["tries"] = len({r["step"] for r in history if r.get("stopped_by") == "guard"})
        row["retries"] = len({r["step"] for r in history if r.get("action") == "retry"})
        row["frozen"] = " ".join(f"{r['role']}@{r['sparsity']:.3f}:{r['stopped_by']}"
                                 for r in constraint.results() if r["frozen"])
    return row


def _run_one(config, data, split, dense, seed, name, target):
    from tf_expander_pruning.core.keras_compat import keras

    fit, val = split
    steps = math.ceil(len(fit) / config.batch_size)
    keras.utils.set_random_seed(seed)
    if target is None:
        schedule, constraint, epochs = _stop_method(name, config, steps)
    else:
        schedule, constraint, epochs = _fixed_method(target, config, steps)
    pruned, seconds = fit_pruned(dense, schedule, constraint, config, data.x_train[fit],
                                 data.y_train[fit], epochs=epochs,
                                 validation_data=(data.x_train[val], data.y_train[val]))
    return _row(config, seed, name, target, pruned, constraint, data, seconds, epochs)


def run_knee_study(config: ExperimentConfig, *, methods: Sequence[str] = KNEE_METHODS,
                   targets: Sequence[float] = STOP_TARGETS,
                   on_row: Callable[[dict[str, Any]], Any] | None = None,
                   log: Callable[[str], Any] | None = print) -> list[dict[str, Any]]:
    """Rows (one per seed and method, plus ``dense``) of the study described in the module."""
    from tf_expander_pruning.core.keras_compat import keras

    config.validate()
    data = ExperimentData(config)
    rows = []
    for seed in config.seed_list():
        split = validation_split(data.y_train, 0.2, seed)
        dense = train_dense(config, seed, data.x_train[split[0]], data.y_train[split[0]],
                            data.classes)
        runs = [("dense", None)] + [(m, None) for m in methods]
        runs += [(f"fixed_{t:g}", float(t)) for t in targets]
        for name, target in runs:
            if name == "dense":
                row = {"dataset": config.dataset, "cell": config.cell, "seed": seed,
                       "method": "dense", "target": 0.0, "sparsity_kernel": 0.0,
                       "sparsity_recurrent": 0.0, "layer_sparsity": 0.0,
                       "accuracy": data.accuracies(dense)["accuracy"],
                       "epochs": config.dense_epochs}
            else:
                row = _run_one(config, data, split, dense, seed, name, target)
            rows.append(row)
            if log:
                log(f"{config.dataset} {config.cell} seed {seed} {name}: layer sparsity "
                    f"{row['layer_sparsity']:.3f} accuracy {row['accuracy']:.4f} "
                    f"{row.get('frozen', '')} {row.get('seconds', '')}s")
            if on_row:
                on_row(row)
        keras.backend.clear_session()
    return rows


FIELDS = ("dataset", "cell", "seed", "method", "target", "sparsity_kernel", "sparsity_recurrent",
          "layer_sparsity", "accuracy", "epochs", "seconds", "tries", "retries", "frozen")

def measure_noise(config: ExperimentConfig, epochs: int = 10) -> list[dict[str, Any]]:
    """How much the guard's metric moves with no pruning at all: per seed, the dense model of
    the study fine-tuned ``epochs`` more epochs at the pruning learning rate, ``val_accuracy``
    logged at every epoch end.  Rows: seed, n_val, mean, std and range over the epochs, and
    the binomial standard error ``sqrt(p (1 - p) / n_val)`` of one value."""
    from tf_expander_pruning.core.keras_compat import keras

    config.validate()
    data = ExperimentData(config)
    rows = []
    for seed in config.seed_list():
        fit, val = validation_split(data.y_train, 0.2, seed)
        model = train_dense(config, seed, data.x_train[fit], data.y_train[fit], data.classes)
        compile_classifier(model, config.finetune_learning_rate)
        keras.utils.set_random_seed(seed)
        history = model.fit(data.x_train[fit], data.y_train[fit], epochs=epochs,
                            batch_size=config.batch_size, verbose=0,
                            validation_data=(data.x_train[val], data.y_train[val]))
        values = np.asarray(history.history["val_accuracy"])
        mean = float(values.mean())
        rows.append({"dataset": config.dataset, "cell": config.cell, "seed": seed,
                     "n_val": len(val), "epochs": epochs, "mean": mean,
                     "std": float(values.std(ddof=1)), "range": float(np.ptp(values)),
                     "binomial_se": float(np.sqrt(mean * (1 - mean) / len(val))),
                     "values": " ".join(f"{v:.4f}" for v in values)})
        keras.backend.clear_session()
    return rows


PROTOCOL = {
    "digits": {"units": 64, "rounds": 14, "prune_fraction": 0.2, "dense_epochs": 40,
               "finetune_epochs": 4},
    "mnist_5k": {"units": 32, "rounds": 9, "prune_fraction": 0.3, "dense_epochs": 15,
                 "finetune_epochs": 1},
    "mnist1d": {"units": 32, "rounds": 9, "prune_fraction": 0.3, "dense_epochs": 30,
                "finetune_epochs": 1},
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=sorted(PROTOCOL))
    parser.add_argument("--cell", required=True, choices=("lstm", "gru", "simplernn"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", default=list(KNEE_METHODS))
    parser.add_argument("--targets", type=float, nargs="*", default=list(STOP_TARGETS))
    parser.add_argument("--out", default="docs/results/knee")
    parser.add_argument("--noise", action="store_true",
                        help="measure the guard metric's noise without pruning instead")
    args = parser.parse_args(argv)
    config = ExperimentConfig(dataset=args.dataset, cell=args.cell, seeds=args.seeds, noise=(),
                              **PROTOCOL[args.dataset])
    if args.noise:
        path = Path(args.out) / "noise.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_rows(path, measure_noise(config), ("dataset", "cell", "seed"))
        return
    path = Path(args.out) / args.dataset / args.cell / "knee_study.csv"
    path.parent.mkdir(parents=True, exist_ok=True)

    def save(row: dict[str, Any]) -> None:
        write_rows(path, [{field: row.get(field) for field in FIELDS}], ("seed", "method"))

    run_knee_study(config, methods=args.methods, targets=args.targets, on_row=save)


if __name__ == "__main__":
    main()
