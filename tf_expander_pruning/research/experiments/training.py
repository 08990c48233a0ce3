"""Model, data and training steps shared by the curves and stopping-rule experiments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tf_expander_pruning.research import datasets
from tf_expander_pruning.research.classifier import (
    accuracy,
    compile_classifier,
    recurrent_classifier,
)
from tf_expander_pruning.research.experiments.config import ExperimentConfig

__all__ = [
    "build_model",
    "train_dense",
    "fit_pruned",
    "progress_ticker",
    "subsample",
    "ExperimentData",
    "load_data",
]


def build_model(config: ExperimentConfig, time: int, features: int, classes: int):
    """The experiments' classifier: ``recurrent_classifier`` with the recurrent layer named
    ``"rnn"`` and a softmax output (the paper's set-up)."""
    return recurrent_classifier(config.cell, config.units, input_shape=(time, features),
                                classes=classes, layer_name="rnn", output_activation="softmax",
                                name=f"{config.dataset}_{config.cell}")


def train_dense(config: ExperimentConfig, seed: int, x_train, y_train, classes: int):
    """The seed's dense model, trained for ``config.dense_epochs``."""
    from tf_expander_pruning.core.keras_compat import keras

    keras.utils.set_random_seed(seed)
    model = build_model(config, *x_train.shape[1:], classes)
    compile_classifier(model, config.learning_rate)
    model.fit(
        x_train, y_train, epochs=config.dense_epochs, batch_size=config.batch_size,
        verbose=0, shuffle=True,
    )
    return model


def fit_pruned(dense, schedule, constraint, config: ExperimentConfig, x, y, *, epochs: int,
               validation_data=None):
    """``(pruned, seconds)``: ``dense`` wrapped by ``prune_rnn(schedule)``, compiled at the
    fine-tuning rate and fitted on ``(x, y)`` with ``UpdatePruningStep`` and ``constraint``
    (None: a fixed schedule); ``seconds`` is the wall time of the fit alone."""
    import time

    from tf_expander_pruning.core.keras_compat import tfmot
    from tf_expander_pruning.pruning import prune_rnn

    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
    if constraint is not None:
        callbacks.append(constraint)
    pruned = prune_rnn(dense, schedule)
    compile_classifier(pruned, config.finetune_learning_rate)
    started = time.perf_counter()
    pruned.fit(x, y, epochs=epochs, batch_size=config.batch_size, verbose=0, callbacks=callbacks,
               validation_data=validation_data)
    return pruned, time.perf_counter() - started


def progress_ticker(progress: bool | Callable[[int], Any], total: int, desc: str, unit: str):
    """``(tick, bar)``: ``tick(n)`` advances a tqdm bar (``progress=True``; close ``bar`` at the
    end), calls ``progress`` (a callable) or does nothing; ``bar`` is ``None`` without tqdm."""
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit)
        return bar.update, bar
    if callable(progress):
        return progress, None
    return (lambda _n: None), None


def subsample(x: np.ndarray, y: np.ndarray, limit: int | None, seed: int):
    """At most ``limit`` examples of ``(x, y)`` drawn with ``seed`` (all when ``limit`` is None)."""
    if limit is None or len(x) <= limit:
        return x, y
    index = np.random.default_rng(seed).permutation(len(x))[:limit]
    return x[index], y[index]


class ExperimentData:
    """Train/test arrays (subsampled as configured), noisy test copies and the class count."""

    def __init__(self, config: ExperimentConfig) -> None:
        x_train, y_train = datasets.load(config.dataset, "train", data_dir=config.data_dir)
        x_test, y_test = datasets.load(config.dataset, "test", data_dir=config.data_dir)
        self.x_train, self.y_train = subsample(x_train, y_train, config.max_train, 0)
        self.x_test, self.y_test = subsample(x_test, y_test, config.max_test, 1)
        self.noisy_tests = {
            datasets.parse_noise(spec).label(): datasets.apply_noise(self.x_test, spec)
            for spec in config.noise
        }
        self.classes = datasets.dataset_info(config.dataset)["num_classes"]

    def accuracies(self, model) -> dict[str, float]:
        """``accuracy`` on the clean test split and ``accuracy_<noise>`` on each noisy copy."""
        row = {"accuracy": accuracy(model, self.x_test, self.y_test)}
        for label, x_noisy in self.noisy_tests.items():
            row[f"accuracy_{label}"] = accuracy(model, x_noisy, self.y_test)
        return row


def load_data(config: ExperimentConfig) -> ExperimentData:
    """The data of ``config`` (see :class:`ExperimentData`)."""
    return ExperimentData(config)
