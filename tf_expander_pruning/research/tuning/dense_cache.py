"""Trained dense weights shared by the trials of one search.

Every trial of a (cell, units) pair starts from the same seed and trains the same dense model on
the same data, so the search trains it once: the reference model (largest ``units``, first cell)
is also the dense model of that pair's trials.  The key holds everything the dense phase depends
on (settings and a fingerprint of the training data), so other data or settings train afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from typing import Any

import numpy as np

__all__ = ["DenseCache", "fingerprint"]


def fingerprint(*arrays: np.ndarray) -> str:
    """A digest of the arrays' shapes, dtypes and bytes (cheap next to one training epoch)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.data)
    return digest.hexdigest()


class DenseCache:
    """Weights of trained dense models, by everything their training depended on."""

    def __init__(self) -> None:
        self._weights: dict[Hashable, list[np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._weights)

    def get(self, key: Hashable) -> list[np.ndarray] | None:
        """Copies of the stored weights (a trial must not change the cached ones), or None."""
        weights = self._weights.get(key)
        return None if weights is None else [w.copy() for w in weights]

    def put(self, key: Hashable, weights: list[Any]) -> None:
        self._weights[key] = [np.array(w, copy=True) for w in weights]

    def clear(self) -> None:
        self._weights.clear()
