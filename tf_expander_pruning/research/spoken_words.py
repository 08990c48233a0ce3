"""``spoken_words``: the ten Speech Commands core words spoken by espeak-ng voices, made offline.

Each *voice* is an espeak-ng English accent with a voice variant (``en-us+m3``,
``en-gb-scotland+Storm``, ...): every variant of ``espeak-ng --voices=variant`` speaks with
:data:`ACCENTS_PER_VARIANT` of the :data:`ACCENTS` (chosen by rotation), and every voice says
every word of :data:`WORDS` once, at a random speed (:data:`SPEED_WPM` words per minute) and
pitch (:data:`PITCH`).  The 22,050 Hz output is cropped to the spoken part, resampled to 16 kHz
(``scipy.signal.resample_poly``), scaled to a random peak level and placed at a random offset
in a 1 s clip (the time shift), ``copies`` times with different offsets, levels and background
noise (white, pink or brown, at a signal-to-noise ratio drawn from :data:`SNR_DB`).

The split is by variant: the sorted variants with index ``i % 4 == 0`` are the test voices,
the others train, so no voice (not even the same variant with another accent) is in both.
Every voice says every word, so labels are balanced exactly.

:func:`load_clips` builds a split once and caches it (``.npz``) under
``<cache>/spoken_words/``, where ``<cache>`` is ``$TEP_CACHE_DIR``, else
``$XDG_CACHE_HOME/tf_expander_pruning``, else ``~/.cache/tf_expander_pruning``;
:func:`load_features` adds the MFCCs of :mod:`tf_expander_pruning.core.audio_frontend`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tf_expander_pruning.core.audio_frontend import DEFAULT, FrontendConfig, mfcc
from tf_expander_pruning.core.validation import check_choice, check_int
from tf_expander_pruning.deployment.mcu.tflm_library import cache_dir

__all__ = [
    "WORDS", "ACCENTS", "SPLITS", "SAMPLE_RATE", "CLIP_SAMPLES", "SpokenWords", "espeak_variants",
    "split_variants", "synthesize", "build", "load_clips", "load_features",
]

WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
ACCENTS_PER_VARIANT = 3
SPLITS = ("train", "test")
SAMPLE_RATE = 16_000
CLIP_SAMPLES = 16_000
SPEED_WPM = (120, 220)
PITCH = (20, 80)
SNR_DB = (5.0, 30.0)
PEAK = (0.25, 0.9)
_VERSION = 1  # bump when the recipe changes (invalidates the cache)


@dataclass(frozen=True)
class SpokenWords:
    """One split: ``clips`` int16 ``(n, 16000)`` at 16 kHz, ``labels`` int64 ``(n,)`` indexing
    :data:`WORDS`, ``voices`` ``(n,)`` str (``accent+variant``), ``variants`` ``(n,)`` str."""

    clips: np.ndarray
    labels: np.ndarray
    voices: np.ndarray
    variants: np.ndarray


def _espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise RuntimeError("espeak-ng is not installed; it makes the spoken_words data set: "
                           "`apt-get install -y espeak-ng` (make install does it).")
    return path


def espeak_variants() -> tuple[str, ...]:
    """The voice variant file names of the installed espeak-ng, sorted (``m3``, ``Storm``...)."""
    out = subprocess.run([_espeak(), "--voices=variant"], capture_output=True, text=True,
                         check=True).stdout
    names = {line.split()[4].split("/")[-1] for line in out.splitlines()[1:] if line.split()}
    return tuple(sorted(names))


def split_variants(variants, split: str) -> tuple[str, ...]:
    """The variants of ``split``: sorted, index ``i % 4 == 0`` -> test, else train."""
    check_choice(split, "split", SPLITS)
    ordered = sorted(variants)
    return tuple(v for i, v in enumerate(ordered) if (i % 4 == 0) == (split == "test"))


def _voices(variants) -> list[tuple[str, str]]:
    """``(accent, variant)`` pairs: variant ``i`` of the sorted list with accents i, i+1, i+2."""
    pairs = []
    for i, variant in enumerate(sorted(variants)):
        for j in range(ACCENTS_PER_VARIANT):
            pairs.append((ACCENTS[(i + j) % len(ACCENTS)], variant))
    return pairs


def _wav_samples(data: bytes) -> tuple[np.ndarray, int]:
    """Samples and rate of espeak-ng's 16-bit mono WAV (its header sizes are placeholders)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError(f"espeak-ng did not write a WAV file: {data[:64]!r}")
    rate = int.from_bytes(data[24:28], "little")
    start = data.find(b"data") + 8
    return np.frombuffer(data[start:len(data) - (len(data) - start) % 2], np.int16), rate


def synthesize(word: str, accent: str, variant: str, speed: int, pitch: int) -> np.ndarray:
    """``word`` spoken by ``accent+variant``: float64 samples at 16 kHz in [-1, 1], the silence
    before and after cropped (``speed`` in words per minute, ``pitch`` 0..99)."""
    from scipy.signal import resample_poly

    cmd = [_espeak(), "-v", f"{accent}+{variant}", "-s", str(int(speed)), "-p", str(int(pitch)),
           "--stdout", word]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng failed: {' '.join(cmd)}\n{proc.stderr.decode()[-500:]}")
    samples, rate = _wav_samples(proc.stdout)
    x = resample_poly(samples.astype(np.float64) / 32768.0, SAMPLE_RATE, rate)
    loud = np.nonzero(np.abs(x) > 0.02 * np.abs(x).max(initial=0.0))[0]
    if loud.size == 0:
        raise RuntimeError(f"espeak-ng produced silence for {word!r} with {accent}+{variant}.")
    margin = SAMPLE_RATE // 100
    return x[max(loud[0] - margin, 0):loud[-1] + margin][:CLIP_SAMPLES]


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS white, pink (1/f power) or brown (1/f^2) noise of ``n`` samples."""
    kind = rng.integers(3)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequency = np.maximum(np.arange(spectrum.size), 1.0)
    spectrum /= frequency ** (0.5 * kind)
    noise = np.fft.irfft(spectrum, n)
    return noise / np.sqrt(np.mean(noise ** 2))


def _place(speech: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 1 s int16 clip: ``speech`` at a random offset and peak level, plus noise."""
    clip = np.zeros(CLIP_SAMPLES)
    offset = rng.integers(0, CLIP_SAMPLES - speech.size + 1)
    clip[offset:offset + speech.size] = speech * (rng.uniform(*PEAK) / np.abs(speech).max())
    speech_rms = np.sqrt(np.mean(clip[offset:offset + speech.size] ** 2))
    snr = rng.uniform(*SNR_DB)
    clip += _noise(rng, CLIP_SAMPLES) * speech_rms * 10.0 ** (-snr / 20.0)
    return np.clip(np.round(clip * 32768.0), -32768, 32767).astype(np.int16)


def _utterance(args) -> np.ndarray:
    word, accent, variant, copies, seed = args
    key = zlib.crc32(f"{accent}+{variant}/{word}".encode())
    rng = np.random.default_rng([seed, key])
    speech = synthesize(word, accent, variant, rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1),
                        rng.integers(PITCH[0], PITCH[1] + 1))
    return np.stack([_place(speech, rng) for _ in range(copies)])


def build(variants, *, copies: int = 2, seed: int = 0, workers: int | None = None) -> SpokenWords:
    """Synthesise every word for every voice of ``variants`` (no cache).

    Args:
        variants: espeak-ng variant names (see :func:`espeak_variants`).
        copies: clips per utterance (different shifts, levels and noise).
        seed: the random draws (speed, pitch, shift, level, noise) depend on it and on the
            voice and word only, so a subset of variants gives the same clips as the full set.
        workers: parallel espeak-ng processes (default: the CPU count).

    Returns:
        :class:`SpokenWords` with ``len(variants) * 3 * 10 * copies`` clips.
    """
    check_int(copies, "copies", minimum=1)
    check_int(seed, "seed", minimum=0)
    voices = _voices(variants)
    if not voices:
        raise ValueError("`variants` is empty.")
    jobs = [(word, accent, variant, copies, seed) for accent, variant in voices for word in WORDS]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        clips = list(pool.map(_utterance, jobs))
    labels = np.repeat(np.tile(np.arange(len(WORDS)), len(voices)), copies)
    names = np.repeat([f"{a}+{v}" for a, v in voices], len(WORDS) * copies)
    variant_names = np.repeat([v for _, v in voices], len(WORDS) * copies)
    return SpokenWords(np.concatenate(clips), labels.astype(np.int64), names, variant_names)


def _espeak_version() -> str:
    return subprocess.run([_espeak(), "--version"], capture_output=True, text=True).stdout


def load_clips(split: str, *, variants=None, copies: int = 2, seed: int = 0,
               directory: str | os.PathLike | None = None) -> SpokenWords:
    """The clips of ``split``, built on first use and cached.

    Args:
        split: ``"train"`` or ``"test"``.
        variants: restrict to these variants (those of the other split are dropped); default
            every installed variant.
        copies, seed: as in :func:`build`.
        directory: cache directory (default ``<cache>/spoken_words``, see the module docstring).
    """
    check_choice(split, "split", SPLITS)
    chosen = split_variants(espeak_variants() if variants is None else variants, split)
    if not chosen:
        raise ValueError(f"No variant of `variants` falls in the {split!r} split.")
    key = hashlib.sha256(repr((_VERSION, chosen, ACCENTS, copies, seed, _espeak_version()))
                         .encode()).hexdigest()[:16]
    root = Path(directory) if directory is not None else cache_dir() / "spoken_words"
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{split}-{key}.npz"
    with open(root / f"{split}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait and read its file
        if not path.exists():
            data = build(chosen, copies=copies, seed=seed)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, clips=data.clips, labels=data.labels, voices=data.voices,
                     variants=data.variants)
            os.replace(tmp, path)
    with np.load(path) as saved:
        return SpokenWords(saved["clips"], saved["labels"], saved["voices"], saved["variants"])


def load_features(split: str, *, config: FrontendConfig = DEFAULT,
                  **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: float32 MFCCs ``(clips, frames, n_mfcc)`` (49 x 10 by default, the float
    reference front end, nats) and int64 labels of :func:`load_clips` (same arguments)."""
    data = load_clips(split, **kwargs)
    x = np.stack([mfcc(clip, config) for clip in data.clips]).astype(np.float32)
    return x, data.labels
