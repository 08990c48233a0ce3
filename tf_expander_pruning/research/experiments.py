"""Reproduction of the paper's experiments: iterative magnitude pruning of one recurrent layer.

Protocol (one seed):

1. Build ``Input(time, features) -> RNN(units) -> Dense(classes)`` (SimpleRNN, LSTM or GRU) and
   train it dense.  The output layer is never pruned (as in the paper).
2. For each *variant*, starting from the same dense weights, run ``rounds`` rounds of: prune
   ``prune_fraction`` (20 %) of the *remaining* weights of every pruned matrix, then fine-tune
   with the masks held fixed (a callback re-applies them after every batch).  Variants:

   * ``both``: ``W_xh`` (kernel) and ``W_hh`` (recurrent_kernel) by magnitude (per matrix);
   * ``kernel``: only ``W_xh``;  ``recurrent``: only ``W_hh``;
   * ``random``: both roles, but the removed weights are chosen at random — a control at the same
     density, both for accuracy and for the spectra (a random sparse graph is a good expander).

3. After each round (round 0 = dense) record clean and noisy test accuracy and the spectral report
   of every weight graph: the whole concatenated matrix and each gate (``Delta_r``, ``Delta_s``,
   degrees, ...), the iterative-mean ``Delta_r``, the weighted spectral gap of ``|W| * mask`` and,
   for the layer unrolled over the sequence length, the gap of the unrolled graph (LSTM/GRU gates
   are merged by union: ``x_i -> h_j`` is an edge when any gate has it).

Sparsity after round ``k`` is ``1 - 0.8**k`` per pruned matrix (up to rounding).

Results are plain rows (``list[dict]``) so they go straight to CSV/JSON; :func:`summarize` derives
the numbers docs/results.md quotes (accuracy knee, where each criterion fails, lead/lag),
:func:`save_results` writes files and :func:`plot_results` the PNGs.
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.analysis.spectral import analyze, iterative_mean_delta_r
from tf_expander_pruning.research import datasets

__all__ = [
    "CELLS",
    "VARIANTS",
    "CRITERIA",
    "ExperimentConfig",
    "ExperimentResult",
    "MaskCallback",
    "magnitude_prune",
    "random_prune",
    "analyze_weight",
    "run_experiment",
    "summarize",
    "save_results",
    "plot_results",
    "OUTPUT_FILES",
    "STOP_TARGETS",
    "STOP_FILES",
    "run_stopping_rule",
    "summarize_stopping_rule",
    "save_stopping_rule",
    "summary_markdown",
]

#: Cell name -> (Keras layer class name, gate letters in Keras's column order).
CELLS = {
    "simplernn": ("SimpleRNN", (None,)),
    "lstm": ("LSTM", ("i", "f", "c", "o")),
    "gru": ("GRU", ("z", "r", "h")),
}

#: Variant -> (pruned weights, how pruned weights are chosen).
VARIANTS = {
    "both": (("kernel", "recurrent"), "magnitude"),
    "kernel": (("kernel",), "magnitude"),
    "recurrent": (("recurrent",), "magnitude"),
    "random": (("kernel", "recurrent"), "random"),
}

ROLE_NAMES = {"kernel": "W_xh", "recurrent": "W_hh"}

#: Stopping criteria compared in :func:`summarize`; each "fails" at the first round where:
CRITERIA = {
    "delta_r_concat": "Delta_r of the whole (gate-concatenated) matrix < 0",
    "delta_r_any_gate": "Delta_r of any single gate < 0",
    "delta_r_all_gates": "Delta_r of every gate < 0",
    "iterative_mean": "iterative-mean Delta_r (left-degree groups) < 0",
    "delta_s": "Delta_s = 2 sqrt(lambda_1 - 1) - mu_hat < 0",
    "weighted_gap": "normalised weighted gap (s1 - s2) / s1 of |W|*mask below half its dense value",
    "undefined": "the Ramanujan bound becomes undefined (an average degree < 3)",
}

#: Files written by :func:`save_results` / :func:`plot_results` (unrolled plot when available).
OUTPUT_FILES = (
    "config.json",
    "rounds.csv",
    "graphs.csv",
    "summary.json",
    "summary.md",
    "accuracy_vs_sparsity.png",
    "delta_r_vs_sparsity.png",
    "noisy_accuracy_vs_sparsity.png",
    "roles_xh_vs_hh.png",
    "unrolled_gap_vs_sparsity.png",
    "criteria_vs_knee.png",
)

KNEE_DROP = 0.02  # accuracy "knee": first sparsity where mean accuracy < dense - 2 points


@dataclass
class ExperimentConfig:
    """What to run.  Epoch counts are full passes over the training split.

    Attributes:
        dataset: a name in :data:`tf_expander_pruning.research.datasets.DATASETS`.
        cell: ``"simplernn"``, ``"lstm"`` or ``"gru"``.
        units: hidden units of the recurrent layer.
        seeds: number of seeds (0..seeds-1) or an explicit list of integer seeds.
        rounds: pruning rounds after the dense model (sparsity ``1 - (1-prune_fraction)**rounds``).
        prune_fraction: fraction of the remaining weights removed per round, in (0, 1).
        variants: subset of :data:`VARIANTS`.
        dense_epochs / finetune_epochs: training epochs before pruning / after each round.
        batch_size, learning_rate, finetune_learning_rate: Adam settings.
        noise: noise specs (see :func:`tf_expander_pruning.datasets.parse_noise`) applied to the
            test split for the noisy accuracies.
        data_dir: TFDS data directory (not used for ``digits``).
        max_train / max_test: optional caps on the number of examples (quick runs).
        unrolled: analyse the unrolled graph over the sequence length each round.
    """

    dataset: str = "digits"
    cell: str = "lstm"
    units: int = 64
    seeds: int | Sequence[int] = 3
    rounds: int = 10
    prune_fraction: float = 0.2
    variants: Sequence[str] = ("both", "kernel", "recurrent", "random")
    dense_epochs: int = 30
    finetune_epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 3e-3
    finetune_learning_rate: float = 1e-3
    noise: Sequence[Any] = (("gaussian", 0.3), ("salt_pepper", 0.1))
    data_dir: str | None = None
    max_train: int | None = None
    max_test: int | None = None
    unrolled: bool = True

    def seed_list(self) -> list[int]:
        """The seeds as a list."""
        if isinstance(self.seeds, (int, np.integer)) and not isinstance(self.seeds, bool):
            return list(range(int(self.seeds)))
        return [int(s) for s in self.seeds]

    def validate(self) -> ExperimentConfig:
        """Raise ValueError/TypeError naming the bad field; return self."""
        if self.dataset not in datasets.DATASETS:
            raise ValueError(f"`dataset` must be one of {datasets.DATASETS}, got {self.dataset!r}.")
        if self.cell not in CELLS:
            raise ValueError(f"`cell` must be one of {tuple(CELLS)}, got {self.cell!r}.")
        for name in ("units", "rounds", "dense_epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if (
            isinstance(self.finetune_epochs, bool)
            or not isinstance(self.finetune_epochs, (int, np.integer))
            or self.finetune_epochs < 0
        ):
            raise ValueError(
                f"`finetune_epochs` must be an integer >= 0, got {self.finetune_epochs!r}."
            )
        if isinstance(self.seeds, bool):
            raise TypeError("`seeds` must be a positive integer or a list of integers.")
        if isinstance(self.seeds, (int, np.integer)):
            if self.seeds < 1:
                raise ValueError(f"`seeds` must be >= 1, got {self.seeds!r}.")
        else:
            try:
                seeds = [int(s) for s in self.seeds]
            except (TypeError, ValueError):
                raise TypeError(
                    f"`seeds` must be an int or a list of ints, got {self.seeds!r}."
                ) from None
            if not seeds or len(set(seeds)) != len(seeds):
                raise ValueError(f"`seeds` must be a non-empty list of distinct ints, got {seeds}.")
        if not (isinstance(self.prune_fraction, (int, float)) and 0 < self.prune_fraction < 1):
            raise ValueError(f"`prune_fraction` must be in (0, 1), got {self.prune_fraction!r}.")
        for name in ("learning_rate", "finetune_learning_rate"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
        if isinstance(self.variants, str):
            raise TypeError("`variants` must be a list of variant names, not one string.")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise ValueError(
                f"`variants` must be a non-empty subset of {tuple(VARIANTS)}; "
                f"got {list(self.variants)}."
            )
        for spec in self.noise:
            if datasets.parse_noise(spec) is None:
                raise ValueError(f"`noise` entries must be non-zero noise specs, got {spec!r}.")
        for name in ("max_train", "max_test"):
            value = getattr(self, name)
            bad = isinstance(value, bool) or not isinstance(value, int) or value < 10
            if value is not None and bad:
                raise ValueError(f"`{name}` must be None or an integer >= 10, got {value!r}.")
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (noise specs as ``kind=level`` labels plus their seeds)."""
        data = asdict(self)
        data["seeds"] = self.seed_list()
        data["variants"] = list(self.variants)
        data["noise"] = [asdict(datasets.parse_noise(n)) for n in self.noise]
        return data


@dataclass
class ExperimentResult:
    """Rows of one run.  ``rounds``: one per (seed, variant, round); ``graphs``: one per
    (seed, variant, round, weight, gate); ``summary``: see :func:`summarize`."""

    config: ExperimentConfig
    rounds: list[dict[str, Any]] = field(default_factory=list)
    graphs: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- masks


def _remove_kept(mask: np.ndarray, fraction: float, choose) -> np.ndarray:
    """float32 copy of ``mask`` with ``round(fraction * kept)`` kept entries set to 0.

    ``choose(kept, count)`` picks which of the flat indices ``kept`` to remove.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"`fraction` must be in [0, 1], got {fraction!r}.")
    kept = np.flatnonzero(mask.reshape(-1))
    count = int(round(fraction * kept.size))
    new = mask.reshape(-1).astype(np.float32).copy()
    if count:
        new[choose(kept, count)] = 0.0
    return new.reshape(mask.shape)


def magnitude_prune(weight: np.ndarray, mask: np.ndarray, fraction: float) -> np.ndarray:
    """New mask with ``round(fraction * remaining)`` more entries removed, smallest ``|w|`` first.

    Args:
        weight: weight matrix, any shape.
        mask: 0/1 array of the same shape (1 = kept).
        fraction: share of the currently kept entries to remove, in [0, 1].

    Ties are broken by position (stable sort), so the result is deterministic.
    """
    weight = np.asarray(weight)
    mask = np.asarray(mask)
    if weight.shape != mask.shape:
        raise ValueError(f"`mask` shape {mask.shape} != `weight` shape {weight.shape}.")
    magnitudes = np.abs(weight.reshape(-1))
    return _remove_kept(
        mask, fraction,
        lambda kept, count: kept[np.argsort(magnitudes[kept], kind="stable")[:count]],
    )


def random_prune(mask: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """New mask with ``round(fraction * remaining)`` kept entries removed uniformly at random."""
    return _remove_kept(
        np.asarray(mask), fraction,
        lambda kept, count: rng.choice(kept, size=count, replace=False),
    )


def _keras():
    from tf_expander_pruning.core.keras_compat import keras, tf

    return keras, tf


class MaskCallback:
    """Keras callback factory holding fixed masks: weights are multiplied by their mask before
    training and after every batch, so pruned weights stay exactly zero during fine-tuning.

    Build with ``MaskCallback.create(variables)`` where ``variables`` maps a name to a
    ``tf.Variable``; set masks with ``callback.set_mask(name, array)``.  Masks live in
    ``tf.Variable`` s so changing them does not retrace the training function.
    """

    @staticmethod
    def create(variables: dict[str, Any]):
        """Return a ``keras.callbacks.Callback`` with all-ones masks for ``variables``."""
        keras, tf = _keras()

        class _Masks(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.variables = dict(variables)
                self.masks = {
                    name: tf.Variable(tf.ones_like(var), trainable=False, name=f"mask_{name}")
                    for name, var in self.variables.items()
                }

            def set_mask(self, name: str, mask: np.ndarray) -> None:
                self.masks[name].assign(np.asarray(mask, np.float32))
                self.apply()

            def mask(self, name: str) -> np.ndarray:
                return self.masks[name].numpy()

            def apply(self) -> None:
                for name, var in self.variables.items():
                    var.assign(var * self.masks[name])

            def on_train_begin(self, logs=None):
                self.apply()

            def on_train_batch_end(self, batch, logs=None):
                # Adam's moments would otherwise revive pruned weights after every step.
                self.apply()

        return _Masks()


# ----------------------------------------------------------------------------- spectra


def _finite(value):
    return None if value is None or not math.isfinite(value) else float(value)


def analyze_weight(weight: np.ndarray, mask: np.ndarray, gates: Sequence[str | None]) -> list[dict]:
    """Spectral rows for one weight matrix: the whole matrix (``gate="all"``) and each gate.

    Args:
        weight: ``(n_in, n_gates * units)`` weights (used for the weighted gap only).
        mask: 0/1 mask of the same shape (the unweighted graph).
        gates: gate letters in column order (``(None,)`` for SimpleRNN: no gate rows).

    Returns:
        Rows with ``gate``, ``sparsity`` and the
        :class:`~tf_expander_pruning.analysis.spectral.SpectralReport` fields, plus
        ``iterative_mean_delta_r`` and ``weighted_gap`` / ``weighted_gap_normalized``
        (``(s1 - s2) / s1`` of ``|W| * mask``).
    """
    weight = np.asarray(weight, np.float64)
    mask = np.asarray(mask, np.float64)
    parts: list[tuple[str, slice]] = [("all", slice(None))]
    if len(gates) > 1:
        units = mask.shape[1] // len(gates)
        parts += [(g, slice(i * units, (i + 1) * units)) for i, g in enumerate(gates)]
    rows = []
    for gate, columns in parts:
        sub_mask = mask[:, columns]
        report = analyze(sub_mask)
        row = {"gate": gate, "sparsity": 1.0 - float(sub_mask.mean())}
        row.update(report.to_dict())
        row.pop("weighted", None)
        row["iterative_mean_delta_r"] = (
            iterative_mean_delta_r(sub_mask) if report.edges else None
        )
        weighted = np.abs(weight[:, columns]) * sub_mask
        if report.edges:
            w_report = analyze(weighted, weighted=True)
            gap = w_report.spectral_gap
            row["weighted_gap"] = gap
            row["weighted_gap_normalized"] = gap / w_report.lambda1 if w_report.lambda1 else None
        else:
            row["weighted_gap"] = row["weighted_gap_normalized"] = None
        rows.append(row)
    return rows


def _unrolled_report(kernel_mask, recurrent_mask, n_gates: int, steps: int) -> dict | None:
    from tf_expander_pruning.analysis.unrolled import analyze_unrolled

    units = recurrent_mask.shape[0]
    # Union over gates: x_i -> h_j is an edge when any gate connects them.
    kernel = np.zeros((kernel_mask.shape[0], units), bool)
    recurrent = np.zeros((units, units), bool)
    for g in range(n_gates):
        kernel |= kernel_mask[:, g * units:(g + 1) * units] != 0
        recurrent |= recurrent_mask[:, g * units:(g + 1) * units] != 0
    if not kernel.any() and not recurrent.any():
        return None
    report = analyze_unrolled(kernel.astype(np.float32), recurrent.astype(np.float32), steps)
    return {
        "unrolled_spectral_gap": report.spectral_gap,
        "unrolled_gap_normalized": (
            report.spectral_gap / report.lambda1 if report.lambda1 else None
        ),
        "unrolled_delta_r": report.delta_r,
        "unrolled_lambda1": report.lambda1,
        "unrolled_mu_hat": report.mu_hat,
    }


# ----------------------------------------------------------------------------- training


def _build_model(config: ExperimentConfig, time: int, features: int, classes: int):
    keras, _ = _keras()
    layer_class = getattr(keras.layers, CELLS[config.cell][0])
    inputs = keras.Input((time, features))
    hidden = layer_class(config.units, name="rnn")(inputs)
    outputs = keras.layers.Dense(classes, activation="softmax", name="output")(hidden)
    return keras.Model(inputs, outputs)


def _compile(model, learning_rate: float):
    keras, _ = _keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def _accuracy(model, x, y) -> float:
    probabilities = model.predict(x, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=1) == y))


def _train_dense(config: ExperimentConfig, seed: int, x_train, y_train, classes: int):
    """The seed's dense model, trained for ``config.dense_epochs``."""
    keras, _ = _keras()
    keras.utils.set_random_seed(seed)
    model = _build_model(config, *x_train.shape[1:], classes)
    _compile(model, config.learning_rate)
    model.fit(
        x_train, y_train, epochs=config.dense_epochs, batch_size=config.batch_size,
        verbose=0, shuffle=True,
    )
    return model


def _progress(progress, total: int, desc: str, unit: str):
    """``(tick, bar)``: ``tick(n)`` advances a tqdm bar (``progress=True``; close ``bar`` at the
    end), calls ``progress`` (a callable) or does nothing; ``bar`` is ``None`` without tqdm."""
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit)
        return bar.update, bar
    if callable(progress):
        return progress, None
    return (lambda _n: None), None


def _subsample(x, y, limit, seed):
    if limit is None or len(x) <= limit:
        return x, y
    index = np.random.default_rng(seed).permutation(len(x))[:limit]
    return x[index], y[index]


def _load_data(config: ExperimentConfig):
    """Train/test arrays (subsampled as configured), noisy test copies and the class count."""
    x_train, y_train = datasets.load(config.dataset, "train", data_dir=config.data_dir)
    x_test, y_test = datasets.load(config.dataset, "test", data_dir=config.data_dir)
    x_train, y_train = _subsample(x_train, y_train, config.max_train, 0)
    x_test, y_test = _subsample(x_test, y_test, config.max_test, 1)
    noisy_tests = {
        datasets.parse_noise(spec).label(): datasets.apply_noise(x_test, spec)
        for spec in config.noise
    }
    classes = datasets.dataset_info(config.dataset)["num_classes"]
    return x_train, y_train, x_test, y_test, noisy_tests, classes


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
    keras, tf = _keras()
    x_train, y_train, x_test, y_test, noisy_tests, classes = _load_data(config)
    time = x_train.shape[1]
    gates = CELLS[config.cell][1]
    seeds = config.seed_list()
    total = len(seeds) * (1 + len(config.variants) * config.rounds)
    tick, bar = _progress(progress, total, f"{config.dataset}/{config.cell}", "round")
    result = ExperimentResult(config=config)
    try:
        for seed in seeds:
            model = _train_dense(config, seed, x_train, y_train, classes)
            dense_weights = model.get_weights()
            if log:
                log(f"seed {seed}: dense accuracy {_accuracy(model, x_test, y_test):.4f}")
            tick(1)
            rnn = model.get_layer("rnn")
            variables = {"kernel": rnn.cell.kernel, "recurrent": rnn.cell.recurrent_kernel}
            for variant in config.variants:
                roles, method = VARIANTS[variant]
                model.set_weights(dense_weights)
                _compile(model, config.finetune_learning_rate)
                masks = MaskCallback.create(variables)
                rng = np.random.default_rng(10_000 + seed)
                for round_index in range(config.rounds + 1):
                    if round_index > 0:
                        for name in roles:
                            current = masks.mask(name)
                            if method == "magnitude":
                                new = magnitude_prune(
                                    variables[name].numpy(), current, config.prune_fraction
                                )
                            else:
                                new = random_prune(current, config.prune_fraction, rng)
                            masks.set_mask(name, new)
                        if config.finetune_epochs:
                            model.fit(
                                x_train, y_train, epochs=config.finetune_epochs,
                                batch_size=config.batch_size, verbose=0, shuffle=True,
                                callbacks=[masks],
                            )
                        masks.apply()
                    _record_round(
                        result, config, seed, variant, round_index, model, variables, masks,
                        gates, time, x_test, y_test, noisy_tests,
                    )
                    if round_index > 0:
                        tick(1)
                if log:
                    last = result.rounds[-1]
                    log(
                        f"seed {seed} {variant}: sparsity {last['sparsity']:.3f} "
                        f"accuracy {last['accuracy']:.4f}"
                    )
            keras.backend.clear_session()
    finally:
        if bar is not None:
            bar.close()
    result.summary = summarize(result)
    return result


def _record_round(
    result, config, seed, variant, round_index, model, variables, masks, gates, time,
    x_test, y_test, noisy_tests,
):
    roles = VARIANTS[variant][0]
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
    row["accuracy"] = _accuracy(model, x_test, y_test)
    for label, x_noisy in noisy_tests.items():
        row[f"accuracy_{label}"] = _accuracy(model, x_noisy, y_test)
    for name, variable in variables.items():
        for graph in analyze_weight(variable.numpy(), mask_arrays[name], gates):
            graph_row = {
                "dataset": config.dataset, "cell": config.cell, "seed": seed, "variant": variant,
                "round": round_index, "weight": name, "role": ROLE_NAMES[name],
                "pruned": name in roles,
            }
            graph_row.update(graph)
            result.graphs.append(graph_row)
    if config.unrolled:
        unrolled = _unrolled_report(
            mask_arrays["kernel"], mask_arrays["recurrent"], len(gates), time
        )
        if unrolled is not None:
            row.update(unrolled)
    result.rounds.append(row)


# ----------------------------------------------------------------------------- summary


def _mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None, int]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None, 0
    return float(np.mean(finite)), float(np.std(finite)), len(finite)


def _criterion_value(graphs_at_round: list[dict], weight: str, criterion: str, dense_rows):
    """True if ``criterion`` has failed for ``weight`` at this round, None if not evaluable."""
    rows = [g for g in graphs_at_round if g["weight"] == weight]
    whole = next(g for g in rows if g["gate"] == "all")
    gate_rows = [g for g in rows if g["gate"] != "all"] or [whole]
    if criterion == "undefined":
        return whole["delta_r"] is None
    if criterion == "delta_r_concat":
        value = whole["delta_r"]
        return None if value is None else value < 0
    if criterion in ("delta_r_any_gate", "delta_r_all_gates"):
        values = [g["delta_r"] for g in gate_rows]
        defined = [v for v in values if v is not None]
        if not defined:
            return None
        fails = [v < 0 for v in defined]
        if criterion == "delta_r_any_gate":
            return any(fails)
        return all(fails) and len(defined) == len(values)
    if criterion == "iterative_mean":
        value = whole["iterative_mean_delta_r"]
        return None if value is None else value < 0
    if criterion == "delta_s":
        value = whole["delta_s"]
        return None if value is None else value < 0
    if criterion == "weighted_gap":
        value = whole["weighted_gap_normalized"]
        dense = dense_rows.get(weight)
        if value is None or dense is None:
            return None
        return value < 0.5 * dense
    raise ValueError(f"Unknown criterion {criterion!r}.")


def summarize(result: ExperimentResult) -> dict[str, Any]:
    """Per-variant curves (mean and std over seeds) and, per seed, the accuracy knee and the
    sparsity at which each criterion of :data:`CRITERIA` first fails for each pruned weight.

    The *knee* is the first round whose accuracy is more than 2 points below that seed's dense
    accuracy; ``lead`` = knee sparsity - criterion sparsity (positive: the criterion warns before
    accuracy falls; negative: too late).  ``None`` means "did not happen within the rounds run".
    """
    config = result.config
    summary: dict[str, Any] = {"knee_drop": KNEE_DROP, "criteria": CRITERIA, "variants": {}}
    first = result.rounds[0] if result.rounds else {}
    noise_keys = [k for k in first if k.startswith("accuracy_")]
    for variant in config.variants:
        rows = [r for r in result.rounds if r["variant"] == variant]
        if not rows:
            continue
        curve = []
        for round_index in range(config.rounds + 1):
            at = [r for r in rows if r["round"] == round_index]
            point: dict[str, Any] = {"round": round_index}
            for key in ["sparsity", "accuracy", *noise_keys, "unrolled_spectral_gap",
                        "unrolled_gap_normalized", "unrolled_delta_r"]:
                mean, std, _ = _mean_std(r.get(key) for r in at)
                point[key] = mean
                point[f"{key}_std"] = std
            curve.append(point)
        roles = VARIANTS[variant][0]
        per_seed = []
        for seed in sorted({r["seed"] for r in rows}):
            seed_rows = sorted((r for r in rows if r["seed"] == seed), key=lambda r: r["round"])
            dense = seed_rows[0]["accuracy"]
            knee = next(
                (r for r in seed_rows[1:] if r["accuracy"] < dense - KNEE_DROP), None
            )
            entry: dict[str, Any] = {
                "seed": seed,
                "dense_accuracy": dense,
                "knee_round": knee["round"] if knee else None,
                "knee_sparsity": knee["sparsity"] if knee else None,
                "criteria": {},
            }
            seed_graphs = [
                g for g in result.graphs if g["variant"] == variant and g["seed"] == seed
            ]
            dense_gap = {
                g["weight"]: g["weighted_gap_normalized"]
                for g in seed_graphs if g["round"] == 0 and g["gate"] == "all"
            }
            for weight in roles:
                for criterion in CRITERIA:
                    fail = None
                    for r in seed_rows:
                        at = [g for g in seed_graphs if g["round"] == r["round"]]
                        if _criterion_value(at, weight, criterion, dense_gap):
                            fail = r
                            break
                    sparsity = fail[f"sparsity_{weight}"] if fail else None
                    lead = (
                        entry["knee_sparsity"] - sparsity
                        if sparsity is not None and entry["knee_sparsity"] is not None
                        else None
                    )
                    entry["criteria"][f"{weight}/{criterion}"] = {
                        "round": fail["round"] if fail else None,
                        "sparsity": sparsity,
                        "lead": lead,
                    }
            per_seed.append(entry)
        aggregate: dict[str, Any] = {}
        knee_mean, knee_std, knee_n = _mean_std(e["knee_sparsity"] for e in per_seed)
        dense_mean, dense_std, _ = _mean_std(e["dense_accuracy"] for e in per_seed)
        aggregate["dense_accuracy"] = {"mean": dense_mean, "std": dense_std}
        aggregate["knee_sparsity"] = {"mean": knee_mean, "std": knee_std, "seeds_reached": knee_n}
        for key in per_seed[0]["criteria"] if per_seed else []:
            mean, std, n = _mean_std(e["criteria"][key]["sparsity"] for e in per_seed)
            lead_mean, lead_std, lead_n = _mean_std(e["criteria"][key]["lead"] for e in per_seed)
            aggregate[key] = {
                "sparsity_mean": mean, "sparsity_std": std, "seeds_failed": n,
                "lead_mean": lead_mean, "lead_std": lead_std, "seeds_with_lead": lead_n,
            }
        summary["variants"][variant] = {
            "curve": curve, "per_seed": per_seed, "aggregate": aggregate,
        }
    summary["seeds"] = config.seed_list()
    return summary


# ----------------------------------------------------------------------------- output


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _fmt(value, digits: int = 3, percent: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}" if percent else f"{value:.{digits}f}"


def summary_markdown(result: ExperimentResult) -> str:
    """A Markdown digest of :func:`summarize` (tables in percent of sparsity / accuracy)."""
    config = result.config
    summary = result.summary or summarize(result)
    lines = [
        f"# {config.dataset} / {config.cell} / {config.units} units, seeds {config.seed_list()}",
        "",
        "## Accuracy (mean ± std over seeds, %) per round",
        "",
    ]
    noise_keys = []
    for data in summary["variants"].values():
        point = data["curve"][0]
        noise_keys = [k for k in point if k.startswith("accuracy_") and not k.endswith("_std")]
        break
    header = "| variant | round | sparsity | accuracy | " + " | ".join(noise_keys) + " |"
    lines += [header, "|" + "---|" * (4 + len(noise_keys))]
    for variant, data in summary["variants"].items():
        for point in data["curve"]:
            cells = [
                variant, str(point["round"]), _fmt(point["sparsity"], percent=True),
                f"{_fmt(point['accuracy'], percent=True)} ± "
                f"{_fmt(point['accuracy_std'], percent=True)}",
            ]
            cells += [
                f"{_fmt(point[k], percent=True)} ± {_fmt(point[k + '_std'], percent=True)}"
                for k in noise_keys
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Knee vs criteria (sparsity %, mean ± std over seeds; lead = knee - criterion)",
        "",
        "| variant | weight/criterion | fails at | seeds failed | lead | knee |",
        "|---|---|---|---|---|---|",
    ]
    for variant, data in summary["variants"].items():
        aggregate = data["aggregate"]
        knee = aggregate["knee_sparsity"]
        knee_text = (
            f"{_fmt(knee['mean'], percent=True)} ± {_fmt(knee['std'], percent=True)} "
            f"({knee['seeds_reached']}/{len(data['per_seed'])})"
        )
        for key, value in aggregate.items():
            if "/" not in key:
                continue
            lines.append(
                f"| {variant} | {key} | {_fmt(value['sparsity_mean'], percent=True)} ± "
                f"{_fmt(value['sparsity_std'], percent=True)} | {value['seeds_failed']} | "
                f"{_fmt(value['lead_mean'], percent=True)} | {knee_text} |"
            )
    return "\n".join(lines) + "\n"


def save_results(result: ExperimentResult, out: str | os.PathLike) -> list[Path]:
    """Write ``config.json``, ``rounds.csv``, ``graphs.csv``, ``summary.json`` and ``summary.md``
    to directory ``out`` (created).  Returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not result.summary:
        result.summary = summarize(result)
    paths = []
    path = out / "config.json"
    path.write_text(json.dumps(result.config.to_dict(), indent=2, default=_json_default))
    paths.append(path)
    for name, rows in (("rounds.csv", result.rounds), ("graphs.csv", result.graphs)):
        _write_csv(out / name, rows)
        paths.append(out / name)
    path = out / "summary.json"
    path.write_text(json.dumps(result.summary, indent=2, default=_json_default))
    paths.append(path)
    path = out / "summary.md"
    path.write_text(summary_markdown(result))
    paths.append(path)
    return paths


def _curve(result, variant, key):
    data = result.summary["variants"].get(variant)
    if not data:
        return None
    xs = np.array([p["sparsity"] for p in data["curve"]], float)
    ys = np.array([np.nan if p.get(key) is None else p[key] for p in data["curve"]], float)
    std = np.array(
        [np.nan if p.get(f"{key}_std") is None else p[f"{key}_std"] for p in data["curve"]], float
    )
    return xs, ys, std


def _graph_curve(result, variant, weight, gate, key):
    """Mean over seeds of a graphs.csv field vs mean sparsity of that weight, per round."""
    rows = [
        g for g in result.graphs
        if g["variant"] == variant and g["weight"] == weight and g["gate"] == gate
    ]
    xs, ys = [], []
    for round_index in sorted({g["round"] for g in rows}):
        at = [g for g in rows if g["round"] == round_index]
        xs.append(np.mean([g["sparsity"] for g in at]))
        values = [g[key] for g in at if g[key] is not None]
        # Undefined (degree < 3) in any seed -> not plotted, rather than a biased mean.
        ys.append(np.mean(values) if len(values) == len(at) else np.nan)
    return np.array(xs), np.array(ys)


def plot_results(result: ExperimentResult, out: str | os.PathLike) -> list[Path]:
    """Write the PNG plots listed in :data:`OUTPUT_FILES` to ``out``; returns the paths.

    ``unrolled_gap_vs_sparsity.png`` is skipped when the unrolled analysis was not run.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not result.summary:
        result.summary = summarize(result)
    config = result.config
    seeds = len(config.seed_list())
    title = f"{config.dataset} / {config.cell} ({config.units} units, {seeds} seeds)"
    paths = []
    colors = {"kernel": "tab:blue", "recurrent": "tab:orange"}
    variants = result.summary["variants"]

    def band(ax, variant, key, label, **kw):
        curve = _curve(result, variant, key)
        if curve is None:
            return
        xs, ys, std = curve
        line = ax.plot(100 * xs, 100 * ys, marker="o", ms=3, label=label, **kw)[0]
        ax.fill_between(100 * xs, 100 * (ys - std), 100 * (ys + std), alpha=0.15,
                        color=line.get_color())

    def save(fig, name):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tight_layout may give up on long tick labels
            fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)

    # 1. accuracy vs sparsity with the Ramanujan-loss rounds marked
    fig, ax = plt.subplots(figsize=(7, 4.5))
    band(ax, "both", "accuracy", "magnitude, both roles")
    band(ax, "random", "accuracy", "random mask, both roles", ls="--")
    if "both" in variants:
        aggregate = variants["both"]["aggregate"]
        dense = aggregate["dense_accuracy"]["mean"]
        ax.axhline(100 * (dense - KNEE_DROP), color="grey", lw=0.8, ls=":",
                   label="dense - 2 points")
        for weight in ("kernel", "recurrent"):
            for criterion, style in (("delta_r_concat", "-"), ("delta_r_any_gate", ":"),
                                     ("undefined", "-.")):
                entry = aggregate.get(f"{weight}/{criterion}")
                if entry and entry["sparsity_mean"] is not None:
                    ax.axvline(100 * entry["sparsity_mean"], color=colors[weight], ls=style,
                               lw=1, label=f"{ROLE_NAMES[weight]}: {criterion} fails "
                               f"({entry['seeds_failed']} seeds)")
    ax.set_xlabel("sparsity of pruned weights (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    save(fig, "accuracy_vs_sparsity.png")

    # 2. Delta_r per weight (whole and per gate) vs sparsity, magnitude vs random masks
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    gates = [g for g in CELLS[config.cell][1] if g is not None]
    for ax, weight in zip(axes, ("kernel", "recurrent"), strict=True):
        for variant, style in (("both", "-"), ("random", "--")):
            if variant not in variants:
                continue
            xs, ys = _graph_curve(result, variant, weight, "all", "delta_r")
            ax.plot(100 * xs, ys, ls=style, marker="o", ms=3, lw=2, label=f"{variant}: whole")
            if variant == "both":
                for gate in gates:
                    xs, ys = _graph_curve(result, variant, weight, gate, "delta_r")
                    ax.plot(100 * xs, ys, lw=0.8, label=f"gate {gate}")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{ROLE_NAMES[weight]} ({weight})")
        ax.set_xlabel("sparsity (%)")
        ax.set_ylabel("Delta_r (gaps: bound undefined)")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    save(fig, "delta_r_vs_sparsity.png")

    # 3. noisy accuracy
    fig, ax = plt.subplots(figsize=(7, 4.5))
    noise_keys = [
        k for k in variants.get("both", next(iter(variants.values())))["curve"][0]
        if k.startswith("accuracy_") and not k.endswith("_std")
    ]
    for variant, style in (("both", "-"), ("random", "--")):
        if variant not in variants:
            continue
        band(ax, variant, "accuracy", f"{variant}: clean", ls=style)
        for key in noise_keys:
            band(ax, variant, key, f"{variant}: {key[len('accuracy_'):]}", ls=style)
    ax.set_xlabel("sparsity of pruned weights (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title + ": noisy test inputs")
    ax.legend(fontsize=7)
    save(fig, "noisy_accuracy_vs_sparsity.png")

    # 4. W_xh only vs W_hh only
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for variant, label in (("kernel", "W_xh only"), ("recurrent", "W_hh only"),
                           ("both", "both")):
        if variant in variants:
            band(ax, variant, "accuracy", label)
    ax.set_xlabel("sparsity of the pruned matrix/matrices (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title + ": which role tolerates pruning")
    ax.legend(fontsize=8)
    save(fig, "roles_xh_vs_hh.png")

    # 5. unrolled-graph spectral gap
    has_unrolled = any(r.get("unrolled_spectral_gap") is not None for r in result.rounds)
    if has_unrolled:
        fig, ax1 = plt.subplots(figsize=(7, 4.5))
        for variant, style in (("both", "-"), ("kernel", "-."), ("recurrent", ":"),
                               ("random", "--")):
            curve = _curve(result, variant, "unrolled_gap_normalized")
            if curve is None:
                continue
            xs, ys, _ = curve
            ax1.plot(100 * xs, ys, ls=style, marker="o", ms=3, label=variant)
        ax1.set_xlabel("sparsity of pruned weights (%)")
        ax1.set_ylabel("unrolled graph: (sigma1 - sigma2) / sigma1")
        ax1.set_title(title + ": layer unrolled over its sequence (gates merged)")
        ax1.legend(fontsize=8)
        save(fig, "unrolled_gap_vs_sparsity.png")

    # 6. criteria vs knee: where each criterion first fails, per weight (mean ± std)
    if "both" in variants:
        aggregate = variants["both"]["aggregate"]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        labels, means, stds, cols = [], [], [], []
        for weight in ("kernel", "recurrent"):
            for criterion in CRITERIA:
                entry = aggregate.get(f"{weight}/{criterion}")
                if not entry:
                    continue
                labels.append(f"{ROLE_NAMES[weight]}\n{criterion}")
                mean = entry["sparsity_mean"]
                means.append(np.nan if mean is None else 100 * mean)
                stds.append(0 if entry["sparsity_std"] is None else 100 * entry["sparsity_std"])
                cols.append(colors[weight])
        positions = np.arange(len(labels))
        ax.bar(positions, np.nan_to_num(means), yerr=stds, color=cols, alpha=0.7)
        for p, m in zip(positions, means, strict=True):
            if np.isnan(m):
                ax.text(p, 1, "never", rotation=90, ha="center", va="bottom", fontsize=7)
        knee = aggregate["knee_sparsity"]
        if knee["mean"] is not None:
            ax.axhline(100 * knee["mean"], color="red", label="accuracy knee (mean)")
            ax.legend(fontsize=8)
        ax.set_xticks(positions, labels, rotation=75, fontsize=7)
        ax.set_ylabel("sparsity where it first fails (%)")
        ax.set_title(title + ": criteria vs accuracy knee")
        save(fig, "criteria_vs_knee.png")
    return paths


# ----------------------------------------------------------------------------- stopping rule

#: Fixed final sparsities compared with the Ramanujan stop (issue 15: a fine grid).
STOP_TARGETS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)

STOP_FILES = ("stopping_rule.csv", "stopping_rule.json", "stopping_rule.png")


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
      ``constraints``: name -> constructor keyword arguments; default ``{"ramanujan": {}}``,
      the constraint's own defaults), which freezes each matrix when it fails;
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
    from tf_expander_pruning.constraint.callback import RamanujanConstraint
    from tf_expander_pruning.core.keras_compat import tfmot
    from tf_expander_pruning.pruning.schedules import GeometricSchedule
    from tf_expander_pruning.pruning.wrapper import prune_rnn, pruned_weights

    keras, _ = _keras()
    x_train, y_train, x_test, y_test, noisy_tests, classes = _load_data(config)
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    epochs_per_round = max(config.finetune_epochs, 1)
    frequency = steps_per_epoch * epochs_per_round
    end_step = config.rounds * frequency
    epochs = (config.rounds + 1) * epochs_per_round
    methods: list[tuple[str, Any]] = [(name, options) for name, options in constraints.items()]
    methods += [(f"fixed_{t:g}", t) for t in targets]
    seeds = config.seed_list()
    tick, bar = _progress(progress, len(seeds) * (1 + len(methods)), "stopping rule", "run")
    rows: list[dict[str, Any]] = []
    try:
        for seed in seeds:
            dense = _train_dense(config, seed, x_train, y_train, classes)
            base = {"dataset": config.dataset, "cell": config.cell, "seed": seed}
            row = {**base, "method": "dense", "target": 0.0, "sparsity_kernel": 0.0,
                   "sparsity_recurrent": 0.0, "layer_sparsity": 0.0,
                   "accuracy": _accuracy(dense, x_test, y_test), "frozen": ""}
            for label, x_noisy in noisy_tests.items():
                row[f"accuracy_{label}"] = _accuracy(dense, x_noisy, y_test)
            rows.append(row)
            if on_row:
                on_row(row)
            tick(1)
            for name, option in methods:
                keras.utils.set_random_seed(seed)
                callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
                constraint = None
                if isinstance(option, dict):
                    schedule = GeometricSchedule(
                        rate=config.prune_fraction, frequency=frequency, begin_step=0,
                        end_step=end_step, max_sparsity=0.99,
                    )
                    constraint = RamanujanConstraint(**{"verbose": 0, **option})
                    callbacks.append(constraint)
                    target = None
                else:
                    schedule = tfmot.sparsity.keras.PolynomialDecay(
                        initial_sparsity=0.0, final_sparsity=option, begin_step=0,
                        end_step=end_step, frequency=frequency,
                    )
                    target = option
                pruned = prune_rnn(dense, schedule)
                _compile(pruned, config.finetune_learning_rate)
                pruned.fit(x_train, y_train, epochs=epochs, batch_size=config.batch_size,
                           verbose=0, callbacks=callbacks)
                masks = {
                    ("kernel" if p.role == "W_xh" else "recurrent"): np.asarray(p.mask.numpy())
                    for p in pruned_weights(pruned)
                }
                row = {**base, "method": name, "target": target}
                for weight, mask in masks.items():
                    row[f"sparsity_{weight}"] = 1.0 - float(mask.mean())
                zeros = sum(float((m == 0).sum()) for m in masks.values())
                row["layer_sparsity"] = zeros / sum(m.size for m in masks.values())
                row["accuracy"] = _accuracy(pruned, x_test, y_test)
                for label, x_noisy in noisy_tests.items():
                    row[f"accuracy_{label}"] = _accuracy(pruned, x_noisy, y_test)
                row["frozen"] = (
                    " ".join(
                        f"{r['role']}@{r['sparsity']:.3f}"
                        for r in constraint.results() if r["frozen"]
                    )
                    if constraint is not None else ""
                )
                rows.append(row)
                if on_row:
                    on_row(row)
                if log:
                    log(f"seed {seed} {name}: layer sparsity {row['layer_sparsity']:.3f} "
                        f"accuracy {row['accuracy']:.4f} {row['frozen']}")
                tick(1)
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
            mean, std, _ = _mean_std(r.get(key) for r in at)
            entry[key] = {"mean": mean, "std": std}
        mean, std, _ = _mean_std(dense[r["seed"]] - r["accuracy"] for r in at if r["seed"] in dense)
        entry["accuracy_drop"] = {"mean": mean, "std": std}
        entry["frozen"] = [r.get("frozen", "") for r in at]
        summary[method] = entry
    return summary


def save_stopping_rule(
    rows: list[dict[str, Any]], out: str | os.PathLike, *, plot: bool = True
) -> list[Path]:
    """Write ``stopping_rule.csv``, ``stopping_rule.json`` (see :func:`summarize_stopping_rule`)
    and, if ``plot``, ``stopping_rule.png`` (accuracy vs layer sparsity per method)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "stopping_rule.csv", rows)
    summary = summarize_stopping_rule(rows)
    (out / "stopping_rule.json").write_text(
        json.dumps(summary, indent=2, default=_json_default)
    )
    paths = [out / "stopping_rule.csv", out / "stopping_rule.json"]
    if not plot:
        return paths
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    fixed = [(m, e) for m, e in summary.items() if m.startswith("fixed_") or m == "dense"]
    xs = [100 * e["layer_sparsity"]["mean"] for _, e in fixed]
    ys = [100 * e["accuracy"]["mean"] for _, e in fixed]
    es = [100 * (e["accuracy"]["std"] or 0) for _, e in fixed]
    ax.errorbar(xs, ys, yerr=es, marker="o", label="fixed TF-MOT targets (PolynomialDecay)")
    for method, entry in summary.items():
        if method.startswith("fixed_") or method == "dense":
            continue
        ax.errorbar(
            [100 * entry["layer_sparsity"]["mean"]], [100 * entry["accuracy"]["mean"]],
            xerr=[100 * (entry["layer_sparsity"]["std"] or 0)],
            yerr=[100 * (entry["accuracy"]["std"] or 0)], marker="*", ms=12, ls="none",
            label=f"{method}: automatic stop",
        )
    first = rows[0]
    ax.set_xlabel("sparsity of W_xh and W_hh together (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{first['dataset']} / {first['cell']}: Ramanujan stop vs fixed targets")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "stopping_rule.png", dpi=110)
    plt.close(fig)
    paths.append(out / "stopping_rule.png")
    return paths


def merge_saved_result(result: ExperimentResult, out: str | os.PathLike) -> ExperimentResult:
    """``result`` plus the rows of other seeds already saved in ``out`` by the same protocol.

    A curves run can so be grown seed by seed into one directory.  Saved rows are used only when
    ``out/config.json`` matches ``result.config`` in everything but the seeds; otherwise (or
    when nothing is saved) ``result`` is returned unchanged.
    """
    from tf_expander_pruning.research.results_io import merge_rows, read_rows

    out = Path(out)
    try:
        saved = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return result
    mine = result.config.to_dict()
    if {k: v for k, v in saved.items() if k != "seeds"} != {
        k: v for k, v in json.loads(json.dumps(mine)).items() if k != "seeds"
    }:
        return result
    new_seeds = set(result.config.seed_list())
    old_rounds = [r for r in read_rows(out / "rounds.csv") if r["seed"] not in new_seeds]
    old_graphs = [r for r in read_rows(out / "graphs.csv") if r["seed"] not in new_seeds]
    if not old_rounds:
        return result
    seeds = sorted(new_seeds | {r["seed"] for r in old_rounds})
    config = ExperimentConfig(**{**asdict(result.config), "seeds": seeds})
    merged = ExperimentResult(
        config=config,
        rounds=merge_rows(old_rounds, result.rounds, ("seed", "variant", "round")),
        graphs=merge_rows(
            old_graphs, result.graphs, ("seed", "variant", "round", "weight", "gate")
        ),
    )
    merged.summary = summarize(merged)
    return merged
