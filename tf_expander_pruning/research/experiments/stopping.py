"""The stopping-rule experiment: RamanujanConstraint's automatic stop against fixed TF-MOT
targets with the same training budget."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.core.formatting import write_csv
from tf_expander_pruning.research.experiments.config import ExperimentConfig
from tf_expander_pruning.research.experiments.criteria import constraint_options
from tf_expander_pruning.research.experiments.output import json_default
from tf_expander_pruning.research.experiments.summary import mean_std
from tf_expander_pruning.research.experiments.training import (
    ExperimentData,
    fit_pruned,
    progress_ticker,
    train_dense,
)

__all__ = [
    "STOP_TARGETS",
    "STOP_FILES",
    "run_stopping_rule",
    "summarize_stopping_rule",
    "save_stopping_rule",
]

#: Fixed final sparsities compared with the Ramanujan stop (issue 15: a fine grid).
STOP_TARGETS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)

STOP_FILES = ("stopping_rule.csv", "stopping_rule.json", "stopping_rule.png")


class _Budget:
    """The shared training budget: ``rounds`` mask updates, one every ``finetune_epochs``."""

    def __init__(self, config: ExperimentConfig, train_size: int) -> None:
        epochs_per_round = max(config.finetune_epochs, 1)
        self.frequency = math.ceil(train_size / config.batch_size) * epochs_per_round
        self.end_step = config.rounds * self.frequency
        self.epochs = (config.rounds + 1) * epochs_per_round


def _schedule_and_constraint(config: ExperimentConfig, budget: _Budget, option):
    """``(schedule, constraint or None, target or None)`` of one method."""
    from tf_expander_pruning.constraint.callback import RamanujanConstraint
    from tf_expander_pruning.core.keras_compat import tfmot
    from tf_expander_pruning.pruning.schedules import GeometricSchedule

    if isinstance(option, dict):
        schedule = GeometricSchedule(
            rate=config.prune_fraction, frequency=budget.frequency, begin_step=0,
            end_step=budget.end_step, max_sparsity=0.99,
        )
        options = constraint_options(option)
        # The paper's spectral rule alone (guard=None): these runs have no validation split,
        # and the accuracy guard is studied on its own (docs/results/safe_stop.md).
        return schedule, RamanujanConstraint(**{"verbose": 0, "guard": None, **options}), None
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=option, begin_step=0,
        end_step=budget.end_step, frequency=budget.frequency,
    )
    return schedule, None, option


def _run_method(config, data: ExperimentData, dense, budget: _Budget, seed: int, name, option):
    """Prune ``dense`` with one method for the whole budget; its result row."""
    from tf_expander_pruning.core.keras_compat import keras
    from tf_expander_pruning.pruning import pruned_weights

    keras.utils.set_random_seed(seed)
    schedule, constraint, target = _schedule_and_constraint(config, budget, option)
    pruned, _ = fit_pruned(dense, schedule, constraint, config, data.x_train, data.y_train,
                           epochs=budget.epochs)
    masks = {
        ("kernel" if p.role == "W_xh" else "recurrent"): np.asarray(p.mask.numpy())
        for p in pruned_weights(pruned)
    }
    row: dict[str, Any] = {"dataset": config.dataset, "cell": config.cell, "seed": seed,
                           "method": name, "target": target}
    for weight, mask in masks.items():
        row[f"sparsity_{weight}"] = 1.0 - float(mask.mean())
    zeros = sum(float((m == 0).sum()) for m in masks.values())
    row["layer_sparsity"] = zeros / sum(m.size for m in masks.values())
    row.update(data.accuracies(pruned))
    row["frozen"] = (
        " ".join(f"{r['role']}@{r['sparsity']:.3f}" for r in constraint.results() if r["frozen"])
        if constraint is not None else ""
    )
    return row


def run_stopping_rule(
    config: ExperimentConfig,
    *,
    targets: Sequence[float] = STOP_TARGETS,
    constraints: dict[str, dict[str, Any]] | None = None,
    progress: bool | Callable[[int], Any] = False,
    log: Callable[[str], Any] | None = None,
    on_row: Callable[[dict[str, Any]], Any] | None = None,
) -> list[dict[str, Any]]:
    """The Ramanujan bound as a stopping rule vs fixed TF-MOT sparsity targets.

    Per seed the dense model is trained as in :func:`run_experiment`, then pruned with
    :func:`tf_expander_pruning.pruning.prune_rnn` (both roles) in two ways, with the same
    training budget of ``(rounds + 1) * finetune_epochs`` epochs and a mask update every
    ``finetune_epochs`` epochs:

    * ``ramanujan...``: ``GeometricSchedule(rate=prune_fraction)`` for ``rounds`` updates with a
      :class:`~tf_expander_pruning.constraint.RamanujanConstraint` (one run per entry of
      ``constraints``: name -> constructor keyword arguments, plus ``normalized_margin`` (see
      :mod:`.criteria`); default ``{"ramanujan": {}}``, the constraint's own defaults), which
      freezes each matrix when it fails;
    * ``fixed_<s>``: TF-MOT's ``PolynomialDecay`` from 0 to each target ``s`` in ``targets``.

    ``on_row(row)``, if given, is called as soon as each row is finished (so a caller can write
    partial results of a long run).

    Returns:
        One row per (seed, method): ``sparsity_kernel``, ``sparsity_recurrent``,
        ``layer_sparsity`` (fraction of zeros in both matrices), ``accuracy`` and the noisy
        accuracies, and for constraint runs ``frozen`` (the frozen roles).
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"`config` must be an ExperimentConfig, got {type(config).__name__}.")
    config.validate()
    targets = [float(t) for t in targets]
    if any(not 0 < t < 1 for t in targets):
        raise ValueError(f"`targets` must be sparsities in (0, 1), got {targets}.")
    constraints = {"ramanujan": {}} if constraints is None else dict(constraints)
    from tf_expander_pruning.core.keras_compat import keras

    data = ExperimentData(config)
    budget = _Budget(config, len(data.x_train))
    methods: list[tuple[str, Any]] = list(constraints.items())
    methods += [(f"fixed_{t:g}", t) for t in targets]
    seeds = config.seed_list()
    tick, bar = progress_ticker(progress, len(seeds) * (1 + len(methods)), "stopping rule", "run")
    rows: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        if on_row:
            on_row(row)
        tick(1)

    try:
        for seed in seeds:
            dense = train_dense(config, seed, data.x_train, data.y_train, data.classes)
            emit({"dataset": config.dataset, "cell": config.cell, "seed": seed, "method": "dense",
                  "target": 0.0, "sparsity_kernel": 0.0, "sparsity_recurrent": 0.0,
                  "layer_sparsity": 0.0, **data.accuracies(dense), "frozen": ""})
            for name, option in methods:
                row = _run_method(config, data, dense, budget, seed, name, option)
                if log:
                    log(f"seed {seed} {name}: layer sparsity {row['layer_sparsity']:.3f} "
                        f"accuracy {row['accuracy']:.4f} {row['frozen']}")
                emit(row)
            keras.backend.clear_session()
    finally:
        if bar is not None:
            bar.close()
    return rows


def summarize_stopping_rule(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std over seeds per method of sparsities and accuracies (and the accuracy drop
    against the same seed's dense model, in accuracy units)."""
    dense = {r["seed"]: r["accuracy"] for r in rows if r["method"] == "dense"}
    summary: dict[str, Any] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        at = [r for r in rows if r["method"] == method]
        entry: dict[str, Any] = {"seeds": len(at)}
        keys = [
            k for k in at[0] if k.startswith(("sparsity_", "accuracy")) or k == "layer_sparsity"
        ]
        for key in keys:
            mean, std, _ = mean_std(r.get(key) for r in at)
            entry[key] = {"mean": mean, "std": std}
        mean, std, _ = mean_std(dense[r["seed"]] - r["accuracy"] for r in at if r["seed"] in dense)
        entry["accuracy_drop"] = {"mean": mean, "std": std}
        entry["frozen"] = [r.get("frozen") or "" for r in at]
        summary[method] = entry
    return summary


def save_stopping_rule(
    rows: list[dict[str, Any]], out: str | os.PathLike, *, plot: bool = True,
    write_rows_csv: bool = True,
) -> list[Path]:
    """Write ``stopping_rule.csv`` (unless ``write_rows_csv`` is False: the caller merged it),
    ``stopping_rule.json`` (see :func:`summarize_stopping_rule`) and, if ``plot``,
    ``stopping_rule.png`` (accuracy vs layer sparsity per method)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if write_rows_csv:
        write_csv(out / "stopping_rule.csv", rows)
    summary = summarize_stopping_rule(rows)
    (out / "stopping_rule.json").write_text(json.dumps(summary, indent=2, default=json_default))
    paths = [out / "stopping_rule.csv", out / "stopping_rule.json"]
    if plot:
        from tf_expander_pruning.research.experiments.plots import plot_stopping_rule

        paths.append(plot_stopping_rule(summary, rows, out / "stopping_rule.png"))
    return paths
