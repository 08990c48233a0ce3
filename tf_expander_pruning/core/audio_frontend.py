"""Keyword-spotting audio front end: 16 kHz samples -> log-mel and MFCC frames (NumPy only).

The Python reference of the front end that ``tf_expander_pruning.codegen.frontend_to_c`` emits
as C, and that the ``spoken_words`` data set trains on, so a device computes the features the
network was trained with.  It lives in ``core`` because both the C generator (deployment) and
the data loader (research) need it.  The pipeline, per frame (the kind TFLM's micro_speech and
ARM's ML-KWS use):

1. ``window_samples`` = 480 samples (30 ms at 16 kHz) every ``hop_samples`` = 320 (20 ms); a 1 s
   clip of 16,000 samples gives ``1 + (16000 - 480) // 320`` = 49 frames (no padding);
2. samples ``s / 32768`` times a periodic Hann window, zero-padded to ``fft_length`` = 512;
3. power spectrum ``|X_k|^2``, ``k = 0..256`` (bin width 31.25 Hz);
4. ``n_mel`` = 40 triangular mel filters (HTK mel scale ``1127 ln(1 + f / 700)``, band edges
   equally spaced in mel from ``f_low`` = 20 Hz to ``f_high`` = 4,000 Hz, peak weight 1, the
   same matrix as ``tf.signal.linear_to_mel_weight_matrix``);
5. log-mel ``ln(mel + 2^-20)`` (natural log; the floor 2^-20 ~ -100 dB re a full-scale sine);
6. MFCC: the first ``n_mfcc`` = 10 rows of the orthonormal DCT-II of the log-mel vector
   (``scipy.fft.dct(..., type=2, norm="ortho")``).

:func:`log_mel` / :func:`mfcc` compute this in float64.  :func:`fixed_log_mel` /
:func:`fixed_mfcc` are the fixed-point version (int16 samples in, integer arithmetic only, bit
for bit what the integer C computes; outputs int32 in Q16, ``value / 2^16`` in the units of the
float version).  Fixed-point steps: window in Q30, ``x w >> 22`` (64-bit product); a
512-point radix-2 decimation-in-time FFT on int32 values with Q30 twiddles and 64-bit products
rounded half up; power ``(re^2 + im^2) >> 16``; mel weights in Q15 summed in 64 bits (so the
mel energy is ``mel * 2^45``); ``log2`` from the leading bit and a 65-entry table of
``log2(1 + k / 64)`` with linear interpolation; ``ln = (log2 - 45) ln 2``; DCT in Q30.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tf_expander_pruning.core.validation import check_int, check_real

__all__ = [
    "FrontendConfig", "FixedTables", "LOG_FLOOR", "FRAC_BITS", "frame_count", "frames",
    "hann_window", "mel_filterbank", "dct_matrix", "log_mel", "mfcc", "fixed_tables",
    "fixed_fft", "fixed_log_mel", "fixed_mfcc",
]

#: Floor added to the mel energies before the log (2^-20, exact in fixed point).
LOG_FLOOR = 2.0 ** -20
#: Fractional bits of the fixed-point outputs (Q16).
FRAC_BITS = 16
_WINDOW_SHIFT = 22    # x (int16) * w (Q30) >> 22: the windowed value is x_float * w * 2^23
_POWER_SHIFT = 16     # (re^2 + im^2) >> 16: power_float * 2^30
_ENERGY_EXP = 45      # mel energy = mel_float * 2^(2 * 23 - 16 + 15)
_LOG_TABLE_BITS = 6   # 65-entry log2(1 + k / 64) table


@dataclass(frozen=True)
class FrontendConfig:
    """Front-end parameters (defaults: 16 kHz, 30 ms window, 20 ms hop, 40 mel, 10 MFCC).

    Attributes:
        sample_rate: samples per second (Hz).
        window_samples: samples per analysis window (480 = 30 ms).
        hop_samples: samples between window starts (320 = 20 ms).
        fft_length: FFT size, a power of two >= ``window_samples`` (512).
        n_mel: number of mel bands.
        n_mfcc: number of MFCCs kept (1..n_mel).
        f_low, f_high: lower and upper mel band edges in Hz (``0 <= f_low < f_high <= fs/2``).
    """

    sample_rate: int = 16_000
    window_samples: int = 480
    hop_samples: int = 320
    fft_length: int = 512
    n_mel: int = 40
    n_mfcc: int = 10
    f_low: float = 20.0
    f_high: float = 4_000.0

    def __post_init__(self) -> None:
        check_int(self.sample_rate, "sample_rate", minimum=1000)
        check_int(self.window_samples, "window_samples", minimum=16)
        check_int(self.hop_samples, "hop_samples", minimum=1)
        check_int(self.fft_length, "fft_length", minimum=self.window_samples, maximum=4096)
        if self.fft_length & (self.fft_length - 1):
            raise ValueError(f"`fft_length` must be a power of two, got {self.fft_length}.")
        check_int(self.n_mel, "n_mel", minimum=2, maximum=self.fft_length // 2)
        check_int(self.n_mfcc, "n_mfcc", minimum=1, maximum=self.n_mel)
        check_real(self.f_low, "f_low", minimum=0.0)
        check_real(self.f_high, "f_high", maximum=self.sample_rate / 2)
        if not self.f_low < self.f_high:
            raise ValueError(f"`f_low` ({self.f_low}) must be below `f_high` ({self.f_high}).")

    @property
    def n_bins(self) -> int:
        """Power-spectrum bins kept: ``fft_length // 2 + 1``."""
        return self.fft_length // 2 + 1


DEFAULT = FrontendConfig()


def frame_count(n_samples: int, config: FrontendConfig = DEFAULT) -> int:
    """Frames in ``n_samples`` samples: ``1 + (n - window) // hop`` (0 if shorter than one)."""
    check_int(n_samples, "n_samples", minimum=0)
    if n_samples < config.window_samples:
        return 0
    return 1 + (n_samples - config.window_samples) // config.hop_samples


def frames(samples: np.ndarray, config: FrontendConfig = DEFAULT) -> np.ndarray:
    """The analysis windows of a 1-D signal: shape ``(frame_count, window_samples)``, a copy."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"`samples` must be 1-D (one clip), got shape {samples.shape}.")
    n = frame_count(samples.shape[0], config)
    if n == 0:
        raise ValueError(f"`samples` has {samples.shape[0]} samples, fewer than one window "
                         f"({config.window_samples}).")
    starts = np.arange(n) * config.hop_samples
    return samples[starts[:, None] + np.arange(config.window_samples)]


def _int16_samples(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        raise TypeError(f"`samples` must be int16 PCM, got dtype {samples.dtype}.")
    return samples


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window ``0.5 - 0.5 cos(2 pi i / n)``, ``i < n``; float64 ``(n,)``."""
    check_int(n, "n", minimum=1)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _hz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_filterbank(config: FrontendConfig = DEFAULT) -> np.ndarray:
    """Triangular mel weights, float64 ``(n_bins, n_mel)``: power spectrum @ it = mel energies.

    Band ``m`` rises linearly (in mel) from edge ``m`` to 1 at edge ``m + 1`` and falls to 0 at
    edge ``m + 2``, the ``n_mel + 2`` edges equally spaced in mel between ``f_low`` and
    ``f_high``; bin ``k`` sits at ``k * sample_rate / fft_length`` Hz.
    """
    bins_mel = _hz_to_mel(np.arange(config.n_bins) * config.sample_rate / config.fft_length)
    edges = np.linspace(_hz_to_mel(config.f_low), _hz_to_mel(config.f_high), config.n_mel + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling))


def dct_matrix(n_mel: int, n_mfcc: int) -> np.ndarray:
    """Orthonormal DCT-II rows ``0..n_mfcc-1``: float64 ``(n_mfcc, n_mel)``."""
    check_int(n_mel, "n_mel", minimum=1)
    check_int(n_mfcc, "n_mfcc", minimum=1, maximum=n_mel)
    j, m = np.arange(n_mfcc)[:, None], np.arange(n_mel)[None, :]
    basis = np.cos(np.pi * j * (2 * m + 1) / (2 * n_mel)) * np.sqrt(2.0 / n_mel)
    basis[0] /= np.sqrt(2.0)
    return basis


def log_mel(samples: np.ndarray, config: FrontendConfig = DEFAULT) -> np.ndarray:
    """Float reference log-mel of one clip of int16 samples: float64 ``(frames, n_mel)``, nats.

    ``ln(mel + LOG_FLOOR)`` with ``mel = |rfft(s / 32768 * hann, fft_length)|^2 @ filterbank``.
    """
    x = frames(_int16_samples(samples), config).astype(np.float64) / 32768.0
    spectrum = np.fft.rfft(x * hann_window(config.window_samples), n=config.fft_length)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    return np.log(power @ mel_filterbank(config) + LOG_FLOOR)


def mfcc(samples: np.ndarray, config: FrontendConfig = DEFAULT) -> np.ndarray:
    """Float reference MFCCs of one clip of int16 samples: float64 ``(frames, n_mfcc)``."""
    return log_mel(samples, config) @ dct_matrix(config.n_mel, config.n_mfcc).T


@dataclass(frozen=True)
class FixedTables:
    """Integer tables of the fixed-point front end (the C emits exactly these).

    Attributes:
        window_q30: int32 ``(window_samples,)``, ``round(hann * 2^30)``.
        bit_reverse: uint16 ``(fft_length,)``, the FFT input permutation.
        twiddle_re, twiddle_im: int32 ``(fft_length / 2,)``, ``round(2^30 exp(-2 pi i k / N))``.
        mel_start, mel_length: int ``(n_mel,)``, first bin and number of bins of each band.
        mel_weights_q15: int32, the nonzero weights of all bands, concatenated, in Q15.
        log2_q16: int32 ``(65,)``, ``round(2^16 log2(1 + k / 64))``.
        dct_q30: int32 ``(n_mfcc, n_mel)``, the DCT in Q30.
        ln2_q30: ``round(2^30 ln 2)``.
    """

    window_q30: np.ndarray
    bit_reverse: np.ndarray
    twiddle_re: np.ndarray
    twiddle_im: np.ndarray
    mel_start: np.ndarray
    mel_length: np.ndarray
    mel_weights_q15: np.ndarray
    log2_q16: np.ndarray
    dct_q30: np.ndarray
    ln2_q30: int = int(round(np.log(2.0) * 2 ** 30))
    energy_exponent: int = _ENERGY_EXP
    floor: int = 2 ** (_ENERGY_EXP - 20)


def bit_reverse_permutation(n: int) -> np.ndarray:
    """Index ``i`` -> ``i`` with its ``log2(n)`` bits reversed; int64 ``(n,)``."""
    bits = int(n).bit_length() - 1
    index = np.arange(n)
    return np.array([int(f"{i:0{bits}b}"[::-1], 2) if bits else 0 for i in index], np.int64)


@lru_cache(maxsize=8)
def fixed_tables(config: FrontendConfig = DEFAULT) -> FixedTables:
    """The integer tables for ``config`` (cached; treat the arrays as read-only)."""
    n = config.fft_length
    window = np.round(hann_window(config.window_samples) * 2 ** 30)
    angle = -2.0 * np.pi * np.arange(n // 2) / n
    bank = mel_filterbank(config)
    starts, lengths, weights = [], [], []
    for m in range(config.n_mel):
        nonzero = np.nonzero(bank[:, m] > 0)[0]
        if nonzero.size == 0:
            raise ValueError(f"Mel band {m} covers no FFT bin: lower `n_mel` ({config.n_mel}), "
                             "widen f_low..f_high or raise `fft_length`.")
        first, last = int(nonzero[0]), int(nonzero[-1])
        starts.append(first)
        lengths.append(last - first + 1)
        weights.append(np.round(bank[first:last + 1, m] * 32768))
    log_x = np.arange(2 ** _LOG_TABLE_BITS + 1) / 2 ** _LOG_TABLE_BITS
    return FixedTables(
        window_q30=window.astype(np.int32),
        bit_reverse=bit_reverse_permutation(n).astype(np.uint16),
        twiddle_re=np.round(np.cos(angle) * 2 ** 30).astype(np.int32),
        twiddle_im=np.round(np.sin(angle) * 2 ** 30).astype(np.int32),
        mel_start=np.array(starts, np.int64), mel_length=np.array(lengths, np.int64),
        mel_weights_q15=np.concatenate(weights).astype(np.int32),
        log2_q16=np.round(np.log2(1.0 + log_x) * 2 ** 16).astype(np.int32),
        dct_q30=np.round(dct_matrix(config.n_mel, config.n_mfcc) * 2 ** 30).astype(np.int32),
    )


def fixed_fft(x: np.ndarray, tables: FixedTables) -> tuple[np.ndarray, np.ndarray]:
    """Integer radix-2 DIT FFT of real int rows ``(frames, N)``: ``(re, im)`` int64 ``(frames, N)``.

    Each butterfly: ``t = (b w + 2^29) >> 30`` per component (64-bit products, arithmetic
    shift), ``a + t`` and ``a - t``.  Inputs must satisfy ``sum |x| < 2^31`` per row (no
    per-stage scaling), which the front end's ``x w >> 22`` guarantees
    (``sum |x| <= 2^23 sum(hann) = 240 * 2^23 < 2^31``).
    """
    x = np.asarray(x, dtype=np.int64)
    n = x.shape[-1]
    if n != tables.bit_reverse.shape[0]:
        raise ValueError(f"`x` rows must have {tables.bit_reverse.shape[0]} samples, got {n}.")
    re = x[:, tables.bit_reverse.astype(np.int64)]
    im = np.zeros_like(re)
    half, rounding = 1, np.int64(1 << 29)
    while half < n:
        stride = n // (2 * half)
        wr = tables.twiddle_re[::stride][:half].astype(np.int64)
        wi = tables.twiddle_im[::stride][:half].astype(np.int64)
        re4 = re.reshape(len(re), n // (2 * half), 2, half)
        im4 = im.reshape(len(im), n // (2 * half), 2, half)
        tr = (re4[:, :, 1] * wr - im4[:, :, 1] * wi + rounding) >> 30
        ti = (re4[:, :, 1] * wi + im4[:, :, 1] * wr + rounding) >> 30
        a_re, a_im = re4[:, :, 0], im4[:, :, 0]
        re = np.stack([a_re + tr, a_re - tr], axis=2).reshape(len(re), n)
        im = np.stack([a_im + ti, a_im - ti], axis=2).reshape(len(im), n)
        half *= 2
    return re, im


def _fixed_log2_q16(energy: np.ndarray, tables: FixedTables) -> np.ndarray:
    """``round(2^16 log2(energy))`` by leading bit + table (energy int64 >= 2^16)."""
    msb = np.floor(np.log2(energy.astype(np.float64))).astype(np.int64)
    # float log2 can be off by one next to a power of two: fix it with exact integer tests.
    msb = np.where((np.int64(1) << msb) > energy, msb - 1, msb)
    msb = np.where((np.int64(1) << (msb + 1)) <= energy, msb + 1, msb)
    fraction = (energy >> (msb - 16)) & 0xFFFF
    shift = 16 - _LOG_TABLE_BITS
    index, rest = fraction >> shift, fraction & ((1 << shift) - 1)
    table = tables.log2_q16.astype(np.int64)
    step = table[index + 1] - table[index]
    return (msb << 16) + table[index] + ((step * rest + (1 << (shift - 1))) >> shift)


def fixed_log_mel(samples: np.ndarray, config: FrontendConfig = DEFAULT) -> np.ndarray:
    """Fixed-point log-mel of one int16 clip: int32 ``(frames, n_mel)`` in Q16 (nats * 2^16).

    Integer arithmetic only (see the module docstring); bit for bit the integer C.
    """
    tables = fixed_tables(config)
    x = frames(_int16_samples(samples), config).astype(np.int64)
    windowed = (x * tables.window_q30 + (1 << (_WINDOW_SHIFT - 1))) >> _WINDOW_SHIFT
    padded = np.zeros((len(x), config.fft_length), np.int64)
    padded[:, :config.window_samples] = windowed
    re, im = fixed_fft(padded, tables)
    power = (re[:, :config.n_bins] ** 2 + im[:, :config.n_bins] ** 2) >> _POWER_SHIFT
    energy = np.full((len(x), config.n_mel), tables.floor, np.int64)
    offset = 0
    for m, (start, length) in enumerate(zip(tables.mel_start, tables.mel_length, strict=True)):
        weights = tables.mel_weights_q15[offset:offset + length].astype(np.int64)
        energy[:, m] += power[:, start:start + length] @ weights
        offset += length
    log2 = _fixed_log2_q16(energy, tables) - (tables.energy_exponent << 16)
    return ((log2 * tables.ln2_q30 + (1 << 29)) >> 30).astype(np.int32)


def fixed_mfcc(samples: np.ndarray, config: FrontendConfig = DEFAULT) -> np.ndarray:
    """Fixed-point MFCCs of one int16 clip: int32 ``(frames, n_mfcc)`` in Q16."""
    logs = fixed_log_mel(samples, config).astype(np.int64)
    dct = fixed_tables(config).dct_q30.astype(np.int64)
    return ((logs @ dct.T + (1 << 29)) >> 30).astype(np.int32)
