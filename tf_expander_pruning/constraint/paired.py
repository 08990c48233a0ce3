"""How much of an accuracy drop on a fixed validation set is noise: the paired standard error.

The guard compares the pruned model with the model where pruning started, on the *same*
validation rows.  Only the rows on which the two disagree (one right, the other wrong) move the
difference of their accuracies; with ``f`` such flipped rows out of ``n``, the standard error of
the difference is ``sqrt(f) / n`` (the normal approximation of McNemar's test).  A state whose
predictions moved a lot has a noisier accuracy difference than one that barely changed, and
with a few hundred rows one flipped row is a third of a point.

The guard adds ``noise_margin`` such standard errors to the observed drop before comparing it
with ``max_drop``: it accepts a state only when the drop is below ``max_drop`` by more than the
noise, which keeps the search from being carried past the knee by a lucky reading.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tf_expander_pruning.constraint.entries import class_labels

__all__ = ["PairedAccuracy", "is_accuracy_key"]


def is_accuracy_key(key: str) -> bool:
    """Does a log key name a (categorical) accuracy?"""
    return key.lower().removeprefix("val_").endswith(("accuracy", "acc"))


class PairedAccuracy:
    """Per-row correctness of a classifier on the validation data, against a reference.

    Args:
        x: validation inputs (an array or what ``model.predict`` accepts with ``batch_size``).
        labels: integer class labels, shape ``(n,)``.
        batch_size: prediction batch size.
    """

    def __init__(self, x: Any, labels: np.ndarray, batch_size: int | None = None) -> None:
        self.x, self.labels = x, np.asarray(labels).reshape(-1)
        self.batch_size = batch_size or 256
        self.reference: np.ndarray | None = None

    @classmethod
    def from_validation(cls, validation: dict[str, Any] | None) -> PairedAccuracy | None:
        """From :func:`~.entries.fit_validation` data; None unless it is arrays with class
        labels (sparse or one-hot) and no sample weights."""
        if validation is None or validation.get("y") is None:
            return None
        if validation.get("sample_weight") is not None or validation.get("steps"):
            return None
        labels = class_labels(validation["y"])
        if labels is None:
            return None
        return cls(validation["x"], labels, validation.get("batch_size"))

    def correct(self, model) -> np.ndarray | None:
        """Which rows ``model`` classifies right (arg-max of a multi-class output); None when
        the output is not one score per class."""
        try:
            scores = np.asarray(model.predict(self.x, batch_size=self.batch_size, verbose=0))
        except Exception:  # an odd input pipeline: the guard works from the logs alone
            return None
        if scores.ndim != 2 or scores.shape[1] < 2 or len(scores) != len(self.labels):
            return None
        return np.argmax(scores, axis=1) == self.labels

    def start(self, model) -> bool:
        """Record the reference model's correctness; False when it cannot be computed."""
        self.reference = self.correct(model)
        return self.reference is not None

    def standard_error(self, model) -> float:
        """``sqrt(flipped rows) / n`` between ``model`` and the reference (0 if unknown)."""
        if self.reference is None:
            return 0.0
        now = self.correct(model)
        if now is None:
            return 0.0
        return float(np.sqrt(np.count_nonzero(now != self.reference)) / len(self.labels))
