"""The curves experiment: iterative magnitude pruning of one recurrent layer, round by round.

Protocol (one seed):

1. Build ``Input(time, features) -> RNN(units) -> Dense(classes)`` (SimpleRNN, LSTM or GRU) and
   train it dense.  The output layer is never pruned (as in the paper).
2. For each *variant*, starting from the same dense weights, run ``rounds`` rounds of: prune
   ``prune_fraction`` of the *remaining* weights of every pruned matrix, then fine-tune with the
   masks held fixed (a callback re-applies them after every batch).  Variants:

   * ``both``: ``W_xh`` (kernel) and ``W_hh`` (recurrent_kernel) by magnitude (per matrix);
   * ``kernel``: only ``W_xh``;  ``recurrent``: only ``W_hh``;
   * ``random``: both roles, but the removed weights are chosen at random - a control at the same
     density, both for accuracy and for the spectra (a random sparse graph is a good expander).

3. After each round (round 0 = dense) record clean and noisy test accuracy and the spectral report
   of every weight graph (:func:`~.spectra.analyze_weight`) and of the layer unrolled over the
   sequence (:func:`~.spectra.unrolled_report`).

Sparsity after round ``k`` is ``1 - (1 - prune_fraction)**k`` per pruned matrix (up to rounding).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tf_expander_pruning.research.classifier import compile_classifier
from tf_expander_pruning.research.experiments.config import (
    CELLS,
    ROLE_NAMES,
    VARIANTS,
    ExperimentConfig,
    ExperimentResult,
)
from tf_expander_pruning.research.experiments.masks import (
    MaskCallback,
    magnitude_prune,
    random_prune,
)
from tf_expander_pruning.research.experiments.spectra import analyze_weight, unrolled_report
from tf_expander_pruning.research.experiments.summary import summarize
from tf_expander_pruning.research.experiments.training import (
    ExperimentData,
    progress_ticker,
    train_dense,
)

__all__ = ["run_experiment"]


def run_experiment(
    config: ExperimentConfig,
    *,
    progress: bool | Callable[[int], Any] = False,
    log: Callable[[str], Any] | None = None,
) -> ExperimentResult:
    """Run the iterative-magnitude-pruning experiment described in the module docstring.

    Args:
        config: an :class:`ExperimentConfig` (validated here).
        progress: ``True`` for a tqdm bar, or a callable called with the number of finished
            rounds (for the CLI's own bar); one unit per trained round (dense counts as one).
        log: optional callable for one-line status messages.

    Returns:
        An :class:`ExperimentResult` with ``rounds``, ``graphs`` and ``summary`` filled.
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"`config` must be an ExperimentConfig, got {type(config).__name__}.")
    config.validate()
    from tf_expander_pruning.core.keras_compat import keras

    data = ExperimentData(config)
    seeds = config.seed_list()
    total = len(seeds) * (1 + len(config.variants) * config.rounds)
    tick, bar = progress_ticker(progress, total, f"{config.dataset}/{config.cell}", "round")
    result = ExperimentResult(config=config)
    try:
        for seed in seeds:
            model = train_dense(config, seed, data.x_train, data.y_train, data.classes)
            dense_weights = model.get_weights()
            if log:
                log(f"seed {seed}: dense accuracy {data.accuracies(model)['accuracy']:.4f}")
            tick(1)
            for variant in config.variants:
                model.set_weights(dense_weights)
                _run_variant(result, data, model, seed, variant, tick)
                if log:
                    last = result.rounds[-1]
                    log(f"seed {seed} {variant}: sparsity {last['sparsity']:.3f} "
                        f"accuracy {last['accuracy']:.4f}")
            keras.backend.clear_session()
    finally:
        if bar is not None:
            bar.close()
    result.summary = summarize(result)
    return result


def _run_variant(result, data: ExperimentData, model, seed: int, variant: str, tick) -> None:
    """Rounds 0..rounds of one variant from the dense weights already in ``model``."""
    config = result.config
    roles, method = VARIANTS[variant]
    rnn = model.get_layer("rnn")
    variables = {"kernel": rnn.cell.kernel, "recurrent": rnn.cell.recurrent_kernel}
    compile_classifier(model, config.finetune_learning_rate)
    masks = MaskCallback.create(variables)
    rng = np.random.default_rng(10_000 + seed)
    for round_index in range(config.rounds + 1):
        if round_index > 0:
            for name in roles:
                current = masks.mask(name)
                if method == "magnitude":
                    new = magnitude_prune(variables[name].numpy(), current, config.prune_fraction)
                else:
                    new = random_prune(current, config.prune_fraction, rng)
                masks.set_mask(name, new)
            if config.finetune_epochs:
                model.fit(
                    data.x_train, data.y_train, epochs=config.finetune_epochs,
                    batch_size=config.batch_size, verbose=0, shuffle=True, callbacks=[masks],
                )
            masks.apply()
        _record_round(result, data, seed, variant, round_index, model, variables, masks)
        if round_index > 0:
            tick(1)


def _record_round(result, data, seed, variant, round_index, model, variables, masks) -> None:
    config = result.config
    roles = VARIANTS[variant][0]
    gates = CELLS[config.cell][1]
    row: dict[str, Any] = {
        "dataset": config.dataset, "cell": config.cell, "units": config.units, "seed": seed,
        "variant": variant, "round": round_index,
    }
    mask_arrays = {name: masks.mask(name) for name in variables}
    for name in variables:
        row[f"sparsity_{name}"] = 1.0 - float(mask_arrays[name].mean())
    # x-axis of the plots: the sparsity of the matrices this variant prunes.
    row["sparsity"] = float(np.mean([row[f"sparsity_{name}"] for name in roles]))
    total = sum(m.size for m in mask_arrays.values())
    row["layer_sparsity"] = 1.0 - sum(m.sum() for m in mask_arrays.values()) / total
    row.update(data.accuracies(model))
    for name, variable in variables.items():
        for graph in analyze_weight(variable.numpy(), mask_arrays[name], gates):
            result.graphs.append({
                "dataset": config.dataset, "cell": config.cell, "seed": seed, "variant": variant,
                "round": round_index, "weight": name, "role": ROLE_NAMES[name],
                "pruned": name in roles, **graph,
            })
    if config.unrolled:
        unrolled = unrolled_report(
            mask_arrays["kernel"], mask_arrays["recurrent"], len(gates), data.x_train.shape[1]
        )
        if unrolled is not None:
            row.update(unrolled)
    result.rounds.append(row)
