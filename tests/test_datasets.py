"""Loaders on the embedded digits and on TFDS mock data (offline); noise spec and application."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_datasets as tfds  # noqa: E402

from tf_expander_pruning import datasets

# name -> (time, features, num_classes) promised by the module docstring.
EXPECTED = {
    "mnist": (28, 28, 10),
    "cifar10": (32, 96, 10),
    "speech_commands": (49, 40, 12),
}


def _check_arrays(x, y, time, features, classes, batch=None):
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.ndim == 3 and x.shape[1:] == (time, features)
    assert y.shape == (x.shape[0],)
    if batch is not None:
        assert x.shape[0] == batch
    assert np.all(np.isfinite(x))
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert y.min() >= 0 and y.max() < classes


def test_digits_shapes_and_split_are_stable():
    x_train, y_train = datasets.load("digits", "train")
    x_test, y_test = datasets.load("digits", "test")
    _check_arrays(x_train, y_train, 8, 8, 10)
    _check_arrays(x_test, y_test, 8, 8, 10)
    assert x_train.shape[0] + x_test.shape[0] == 1797
    # Default arguments and repeated calls give the same split.
    x_again, _ = datasets.load()
    np.testing.assert_array_equal(x_again, x_train)
    assert set(np.unique(y_test)) == set(range(10))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tfds_loaders_on_mock_data(name, tmp_path):
    time, features, classes = EXPECTED[name]
    with tfds.testing.mock_data(num_examples=6):
        x, y = datasets.load(name, "train", data_dir=tmp_path)
        x_noisy, y_noisy = datasets.load(
            name, "test", data_dir=tmp_path, noise=("salt_pepper", 0.2, 3)
        )
    _check_arrays(x, y, time, features, classes, batch=6)
    _check_arrays(x_noisy, y_noisy, time, features, classes, batch=6)
    # Not a constant array: the per-row reshape kept the pixel/audio content.
    assert x.std() > 0


def test_speech_mfcc_option(tmp_path):
    with tfds.testing.mock_data(num_examples=3):
        x, _ = datasets.load("speech_commands", "validation", data_dir=tmp_path, n_mfcc=13)
    assert x.shape == (3, 49, 13)
    with pytest.raises(ValueError, match="n_mfcc"):
        datasets.load("mnist", "train", n_mfcc=13)
    with pytest.raises(ValueError, match="n_mfcc"):
        datasets.load("speech_commands", "train", n_mfcc=0)


def test_speech_features_pad_and_crop():
    short = np.zeros(100, np.int16)
    short[:50] = 1000
    long = np.random.default_rng(0).integers(-3000, 3000, 20_000).astype(np.int16)
    for audio in (short, long):
        feats = datasets.speech_features(audio).numpy()
        assert feats.shape == (49, 40)
        assert feats.min() >= 0 and feats.max() <= 1


def test_cifar_rows_are_flattened_row_by_row(tmp_path):
    with tfds.testing.mock_data(num_examples=2):
        ds = tfds.load("cifar10", split="train", data_dir=tmp_path, as_supervised=True)
        image = next(iter(ds))[0].numpy()
        x, _ = datasets.load("cifar10", "train", data_dir=tmp_path)
    # mock data is deterministic per call: the first image's row 5 is pixels x channels.
    np.testing.assert_allclose(x[0, 5], image[5].reshape(-1) / 255.0, atol=1e-6)


def test_missing_tfds_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError, match="tfds build mnist") as info:
        datasets.load("mnist", "train", data_dir=tmp_path)
    assert str(tmp_path) in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize("kind", ["gaussian", "salt_pepper"])
def test_noise_is_seeded_bounded_and_scaled(kind):
    x, _ = datasets.load("digits", "test")
    a, _ = datasets.load("digits", "test", noise=(kind, 0.2))
    b, _ = datasets.load("digits", "test", noise={"kind": kind, "level": 0.2, "seed": 0})
    c, _ = datasets.load("digits", "test", noise=(kind, 0.2, 1))
    np.testing.assert_array_equal(a, b)  # same seed -> same noise
    assert not np.array_equal(a, c)  # other seed -> other noise
    assert a.min() >= 0 and a.max() <= 1 and a.dtype == np.float32
    changed = np.mean(a != x)
    assert changed > 0.05
    weak, _ = datasets.load("digits", "test", noise=(kind, 0.02))
    assert np.abs(weak - x).mean() < np.abs(a - x).mean()
    if kind == "salt_pepper":
        # Every changed value is 0 or 1 and about `level` of them were hit.
        assert set(np.unique(a[a != x])) <= {0.0, 1.0}
        assert 0.1 < np.mean(a != x) <= 0.2 + 0.02


def test_noise_level_zero_and_none_are_clean():
    x, _ = datasets.load("digits", "test")
    for noise in (None, ("gaussian", 0.0)):
        z, _ = datasets.load("digits", "test", noise=noise)
        np.testing.assert_array_equal(z, x)


def test_apply_noise_does_not_modify_input():
    x = np.full((4, 3, 2), 0.5, np.float32)
    y = datasets.apply_noise(x, "gaussian:0.5:7")
    assert np.all(x == 0.5) and not np.all(y == 0.5)


@pytest.mark.parametrize(
    "noise, error",
    [
        ("gaussian", ValueError),
        (("speckle", 0.1), ValueError),
        (("gaussian", -0.1), ValueError),
        (("gaussian", float("nan")), ValueError),
        (("salt_pepper", 1.5), ValueError),
        (("gaussian", 0.1, 1.5), ValueError),
        ({"kind": "gaussian"}, ValueError),
        ({"kind": "gaussian", "level": 0.1, "sigma": 1}, ValueError),
        (0.1, TypeError),
        (("gaussian", "abc"), ValueError),
    ],
)
def test_bad_noise_is_rejected(noise, error):
    with pytest.raises(error, match="noise"):
        datasets.load("digits", "test", noise=noise)


def test_bad_name_and_split():
    with pytest.raises(ValueError, match="name"):
        datasets.load("imagenet", "train")
    with pytest.raises(ValueError, match="split"):
        datasets.load("digits", "validation")
    assert datasets.dataset_info("speech_commands")["num_classes"] == 12
