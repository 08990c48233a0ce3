"""Sequence data sets as ``(batch, time, features)`` float32 arrays and integer labels.

``digits`` (scikit-learn's embedded UCI 8x8 digits: 8 time steps of 8 features) is the default
and needs no download.
"""

from __future__ import annotations

import numpy as np

__all__ = ["load", "DATASETS"]

DATASETS = ("digits",)
_SPLITS = ("train", "test")


def _load_digits(split: str, test_fraction: float = 0.25, seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8): rows are time steps
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return (x_train, y_train) if split == "train" else (x_test, y_test)


def load(name: str = "digits", split: str = "train", *, data_dir=None, noise=None):
    """Load a sequence classification data set.

    Args:
        name: one of :data:`DATASETS`.
        split: ``"train"`` or ``"test"``.

    Returns:
        ``(x, y)``: ``x`` float32 of shape ``(batch, time, features)``, ``y`` int64 of ``(batch,)``.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}; choose one of {', '.join(DATASETS)}.")
    if split not in _SPLITS:
        raise ValueError(f"Unknown split {split!r} for {name!r}; choose 'train' or 'test'.")
    return _load_digits(split)
