"""The keyword-spotting audio front end as a self-contained C99 ``.h``/``.c`` pair.

:func:`frontend_to_c` emits the front end of :mod:`tf_expander_pruning.core.audio_frontend`
(30 ms Hann windows every 20 ms at 16 kHz, 512-point FFT, mel filterbank, log, DCT) with its
tables (window, bit reversal, twiddles, mel weights, log table, DCT) as ``const`` arrays:

.. code-block:: c

    void NAME_frontend_init(void);                                   /* zero the scratch */
    void NAME_frontend_frame(const int16_t *samples, float *features);  /* 480 samples in */
    int  NAME_frontend_clip(const int16_t *samples, int n_samples, float *features);

``integer_only=True`` writes ``int32_t`` features in Q16 (``NAME_FRONTEND_FRAC_BITS``) and uses
no floating point (for cores without an FPU): bit for bit
:func:`~tf_expander_pruning.core.audio_frontend.fixed_mfcc`.  The float version computes in
float32 with its own ``ln`` (no libm) and follows the float64 reference
:func:`~tf_expander_pruning.core.audio_frontend.mfcc` to rounding (docs/codegen.md, "Audio
front end").  ``_clip`` runs every frame of a clip (``1 + (n - 480) // 320``) and returns the
frame count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tf_expander_pruning.core.audio_frontend import (
    DEFAULT,
    FRAC_BITS,
    LOG_FLOOR,
    FrontendConfig,
    dct_matrix,
    fixed_tables,
    hann_window,
    mel_filterbank,
)
from tf_expander_pruning.core.validation import check_choice, check_flag

__all__ = ["CFrontend", "frontend_to_c", "FEATURE_KINDS", "FLOAT_C_MAX_ABS_ERROR",
           "FIXED_MAX_ABS_ERROR"]

FEATURE_KINDS = ("mfcc", "log_mel")
#: Documented bound (nats, log-mel and MFCC) of float32 C vs the float64 reference: measured
#: 7.0e-5 (MFCC) and 2.5e-4 (log-mel) on the spoken_words test split, 5.9e-4 on a full-scale
#: square wave (docs/codegen.md, "Audio front end").
FLOAT_C_MAX_ABS_ERROR = 1e-3
#: Documented bound (nats) of the fixed-point front end (integer C = fixed_mfcc bit for bit) vs
#: the float reference: measured 5.7e-3 (MFCC) and 4.0e-3 (log-mel) on the spoken_words test
#: split, 6.3e-3 on +-2 LSB noise.
FIXED_MAX_ABS_ERROR = 1e-2
_IDENTIFIER_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class CFrontend:
    """Generated front-end C: ``header`` / ``source`` text and what they hold.

    ``flash_bytes`` sums the ``const`` tables, ``ram_bytes`` the ``static`` scratch (FFT
    buffers and the log-mel vector); ``n_features`` is ``n_mfcc`` or ``n_mel``.
    """

    name: str
    header: str
    source: str
    config: FrontendConfig
    integer_only: bool
    features: str
    flash_bytes: int
    ram_bytes: int

    @property
    def n_features(self) -> int:
        """Features per frame."""
        return self.config.n_mfcc if self.features == "mfcc" else self.config.n_mel

    @property
    def prefix(self) -> str:
        """Prefix of the C functions: ``NAME_frontend``."""
        return f"{self.name}_frontend"

    def write(self, directory: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``NAME_frontend.h`` and ``NAME_frontend.c`` into ``directory``; their paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        header, source = directory / f"{self.prefix}.h", directory / f"{self.prefix}.c"
        header.write_text(self.header)
        source.write_text(self.source)
        return header, source


class _Tables:
    """Collects ``static const`` arrays and counts their bytes."""

    _SIZES = {"float": 4, "int32_t": 4, "uint16_t": 2, "uint32_t": 4}

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.bytes = 0

    def add(self, ctype: str, name: str, values) -> None:
        values = np.asarray(values).ravel()
        if ctype == "float":
            items = [f"{float(v):.9g}f" if float(v) != int(v) else f"{int(v)}.0f"
                     for v in values.astype(np.float32)]
        else:
            items = [str(int(v)) for v in values]
        rows = [", ".join(items[i:i + 8]) for i in range(0, len(items), 8)]
        body = ",\n    ".join(rows)
        self.lines.append(f"static const {ctype} {name}[{len(items)}] = {{\n    {body}\n}};")
        self.bytes += self._SIZES[ctype] * len(items)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or not set(name) <= _IDENTIFIER_CHARS \
            or name[0].isdigit():
        raise ValueError(f"`name` must be a lower-case C identifier, got {name!r}.")
    return name


def frontend_to_c(config: FrontendConfig = DEFAULT, *, name: str = "kws",
                  integer_only: bool = False, features: str = "mfcc") -> CFrontend:
    """Generate the front-end C for ``config``.

    Args:
        config: window, hop, FFT, mel and MFCC sizes (default 480 / 320 / 512 / 40 / 10).
        name: C prefix: functions ``NAME_frontend_*``, files ``NAME_frontend.{h,c}``.
        integer_only: int32 Q16 outputs and integer arithmetic only (no ``float`` in the C).
        features: ``"mfcc"`` (``n_mfcc`` per frame) or ``"log_mel"`` (``n_mel``, nats).

    Returns:
        A :class:`CFrontend`.

    Raises:
        TypeError: ``config`` is not a :class:`FrontendConfig` or ``integer_only`` not a bool.
        ValueError: bad ``name`` or ``features``.
    """
    if not isinstance(config, FrontendConfig):
        raise TypeError(f"`config` must be a FrontendConfig, got {type(config).__name__}.")
    _check_name(name)
    check_flag(integer_only, "integer_only")
    check_choice(features, "features", FEATURE_KINDS)
    tables, fixed = _Tables(), fixed_tables(config)
    tables.add("uint16_t", "BITREV", fixed.bit_reverse)
    tables.add("uint16_t", "MEL_START", fixed.mel_start)
    tables.add("uint16_t", "MEL_LENGTH", fixed.mel_length)
    if integer_only:
        for ctype, table_name, values in (
                ("int32_t", "WINDOW", fixed.window_q30), ("int32_t", "TW_RE", fixed.twiddle_re),
                ("int32_t", "TW_IM", fixed.twiddle_im),
                ("int32_t", "MEL_WEIGHTS", fixed.mel_weights_q15),
                ("int32_t", "LOG2_TABLE", fixed.log2_q16), ("int32_t", "DCT", fixed.dct_q30)):
            tables.add(ctype, table_name, values)
    else:
        angle = -2.0 * np.pi * np.arange(config.fft_length // 2) / config.fft_length
        # The same bands (start, length) as the fixed tables, float64 weights.
        weights = _float_mel_weights(config, fixed.mel_start, fixed.mel_length)
        tables.add("float", "WINDOW", hann_window(config.window_samples) / 32768.0)
        tables.add("float", "TW_RE", np.cos(angle))
        tables.add("float", "TW_IM", np.sin(angle))
        tables.add("float", "MEL_WEIGHTS", weights)
        tables.add("float", "DCT", dct_matrix(config.n_mel, config.n_mfcc))
    value = "int32_t" if integer_only else "float"
    ram = 4 * (2 * config.fft_length + config.n_mel)
    header = _header(name, config, integer_only, features, value, tables.bytes, ram)
    body = _INTEGER_BODY if integer_only else _FLOAT_BODY
    source = _source(name, config, fixed, features, tables, body, value)
    return CFrontend(name, header, source, config, integer_only, features, tables.bytes, ram)


def _float_mel_weights(config: FrontendConfig, starts, lengths) -> np.ndarray:
    bank = mel_filterbank(config)
    bands = enumerate(zip(starts, lengths, strict=True))
    return np.concatenate([bank[s:s + n, m] for m, (s, n) in bands])


def _header(name, config, integer_only, features, value, flash, ram) -> str:
    up = f"{name.upper()}_FRONTEND"
    n_features = config.n_mfcc if features == "mfcc" else config.n_mel
    unit = (f"int32_t in Q{FRAC_BITS} (value / 2^{FRAC_BITS})" if integer_only else "float")
    return f"""/* Audio front end generated by tf_expander_pruning (see docs/codegen.md).
 * {config.sample_rate} Hz int16 samples; {config.window_samples}-sample Hann windows every
 * {config.hop_samples} samples; {config.fft_length}-point FFT; {config.n_mel} mel bands
 * ({config.f_low:g}-{config.f_high:g} Hz); ln(mel + 2^-20); {features} features, {unit}.
 * {"Integer arithmetic only." if integer_only else "float32, no libm."} Not reentrant.
 */
#ifndef {up}_H
#define {up}_H
#include <stdint.h>
#define {up}_SAMPLE_RATE {config.sample_rate}
#define {up}_WINDOW {config.window_samples}
#define {up}_HOP {config.hop_samples}
#define {up}_N_FEATURES {n_features}
{f"#define {up}_FRAC_BITS {FRAC_BITS}" if integer_only else ""}
#define {up}_FLASH_BYTES {flash}
#define {up}_RAM_BYTES {ram}
#ifdef __cplusplus
extern "C" {{
#endif
void {name}_frontend_init(void);
/* One frame: samples[0..{up}_WINDOW-1] -> features[0..{up}_N_FEATURES-1]. */
void {name}_frontend_frame(const int16_t *samples, {value} *features);
/* Every frame of a clip (frame f starts at sample f * HOP); returns the number of frames. */
int {name}_frontend_clip(const int16_t *samples, int n_samples, {value} *features);
#ifdef __cplusplus
}}
#endif
#endif
"""


def _source(name, config, fixed, features, tables, body, value) -> str:
    defines = {
        "N_FFT": config.fft_length, "WINDOW_N": config.window_samples,
        "HOP_N": config.hop_samples, "N_MEL": config.n_mel, "N_MFCC": config.n_mfcc,
        "ENERGY_EXP": fixed.energy_exponent, "LN2_Q30": fixed.ln2_q30,
        "ENERGY_FLOOR": f"{fixed.floor}ull",
    }
    if value == "float":
        defines["LOG_FLOOR_F"] = f"{LOG_FLOOR:.9g}f"
    define_text = "\n".join(f"#define FE_{k} {v}" for k, v in defines.items())
    output = ("{ int j; for (j = 0; j < FE_N_MEL; ++j) features[j] = fe_logmel[j]; }\n"
              "    (void)fe_dct;"
              if features == "log_mel" else "fe_dct(features);")
    n_out = config.n_mel if features == "log_mel" else config.n_mfcc
    text = body.replace("@OUTPUT@", output).replace("@VALUE@", value)
    text = text.replace("@NAME@", name).replace("@N_OUT@", str(n_out))
    return (f'#include "{name}_frontend.h"\n{define_text}\n\n' + "\n".join(tables.lines)
            + "\n" + text)


_COMMON = """
void @NAME@_frontend_init(void) {
    int i;
    for (i = 0; i < FE_N_FFT; ++i) fe_re[i] = fe_im[i] = 0;
    for (i = 0; i < FE_N_MEL; ++i) fe_logmel[i] = 0;
}

void @NAME@_frontend_frame(const int16_t *samples, @VALUE@ *features) {
    fe_window(samples);
    fe_fft();
    fe_mel();
    @OUTPUT@
}

int @NAME@_frontend_clip(const int16_t *samples, int n_samples, @VALUE@ *features) {
    int f, n_frames;
    if (n_samples < FE_WINDOW_N) return 0;
    n_frames = 1 + (n_samples - FE_WINDOW_N) / FE_HOP_N;
    for (f = 0; f < n_frames; ++f)
        @NAME@_frontend_frame(samples + (long)f * FE_HOP_N, features + (long)f * @N_OUT@);
    return n_frames;
}
"""

_FLOAT_BODY = """
static float fe_re[FE_N_FFT], fe_im[FE_N_FFT], fe_logmel[FE_N_MEL];

/* ln(x) for normal x > 0: x = 2^e m, m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s),
   s = (m - 1) / (m + 1), |s| <= 0.1716, odd series to s^9 (truncation < 1e-9). */
static float fe_log(float x) {
    union { float f; uint32_t u; } v;
    int e;
    float m, s, s2;
    v.f = x;
    e = (int)((v.u >> 23) & 255u) - 127;
    v.u = (v.u & 0x007FFFFFu) | 0x3F800000u;
    m = v.f;
    if (m > 1.41421356f) { m *= 0.5f; e += 1; }
    s = (m - 1.0f) / (m + 1.0f);
    s2 = s * s;
    return (float)e * 0.693147181f
        + 2.0f * s * (1.0f + s2 * (0.333333333f + s2 * (0.2f + s2 * (0.142857143f
        + s2 * 0.111111111f))));
}

static void fe_window(const int16_t *samples) {
    int i;
    for (i = 0; i < FE_N_FFT; ++i) { fe_re[i] = 0.0f; fe_im[i] = 0.0f; }
    for (i = 0; i < FE_WINDOW_N; ++i) fe_re[BITREV[i]] = (float)samples[i] * WINDOW[i];
}

static void fe_fft(void) {
    int half, stride, g, j;
    for (half = 1, stride = FE_N_FFT / 2; half < FE_N_FFT; half *= 2, stride /= 2)
        for (g = 0; g < FE_N_FFT; g += 2 * half)
            for (j = 0; j < half; ++j) {
                int a = g + j, b = a + half;
                float wr = TW_RE[j * stride], wi = TW_IM[j * stride];
                float tr = fe_re[b] * wr - fe_im[b] * wi, ti = fe_re[b] * wi + fe_im[b] * wr;
                fe_re[b] = fe_re[a] - tr; fe_im[b] = fe_im[a] - ti;
                fe_re[a] += tr; fe_im[a] += ti;
            }
}

static void fe_mel(void) {
    int m, k, w = 0;
    for (m = 0; m < FE_N_MEL; ++m) {
        float energy = 0.0f;
        for (k = MEL_START[m]; k < MEL_START[m] + MEL_LENGTH[m]; ++k, ++w)
            energy += (fe_re[k] * fe_re[k] + fe_im[k] * fe_im[k]) * MEL_WEIGHTS[w];
        fe_logmel[m] = fe_log(energy + FE_LOG_FLOOR_F);
    }
}

static void fe_dct(float *out) {
    int j, m;
    for (j = 0; j < FE_N_MFCC; ++j) {
        float acc = 0.0f;
        for (m = 0; m < FE_N_MEL; ++m) acc += DCT[j * FE_N_MEL + m] * fe_logmel[m];
        out[j] = acc;
    }
}
""" + _COMMON

_INTEGER_BODY = """
static int32_t fe_re[FE_N_FFT], fe_im[FE_N_FFT], fe_logmel[FE_N_MEL];

static void fe_window(const int16_t *samples) {
    int i;
    for (i = 0; i < FE_N_FFT; ++i) { fe_re[i] = 0; fe_im[i] = 0; }
    for (i = 0; i < FE_WINDOW_N; ++i)  /* x_float * w * 2^23 */
        fe_re[BITREV[i]] = (int32_t)(((int64_t)samples[i] * WINDOW[i] + (1 << 21)) >> 22);
}

static void fe_fft(void) {  /* no overflow: sum |x| <= 240 * 2^23 < 2^31 */
    int half, stride, g, j;
    for (half = 1, stride = FE_N_FFT / 2; half < FE_N_FFT; half *= 2, stride /= 2)
        for (g = 0; g < FE_N_FFT; g += 2 * half)
            for (j = 0; j < half; ++j) {
                int a = g + j, b = a + half;
                int64_t wr = TW_RE[j * stride], wi = TW_IM[j * stride];
                int32_t tr = (int32_t)((fe_re[b] * wr - fe_im[b] * wi + (1 << 29)) >> 30);
                int32_t ti = (int32_t)((fe_re[b] * wi + fe_im[b] * wr + (1 << 29)) >> 30);
                fe_re[b] = fe_re[a] - tr; fe_im[b] = fe_im[a] - ti;
                fe_re[a] += tr; fe_im[a] += ti;
            }
}

/* round(2^16 log2(e)) for e >= 2^16: leading bit + interpolated table of log2(1 + k/64). */
static int32_t fe_log2_q16(uint64_t e) {
    int msb = 0, step;
    uint32_t fraction, index, rest;
    for (step = 32; step > 0; step /= 2)
        if (e >> (msb + step)) msb += step;
    fraction = (uint32_t)(e >> (msb - 16)) & 0xFFFFu;
    index = fraction >> 10;
    rest = fraction & 1023u;
    return (int32_t)(msb << 16) + LOG2_TABLE[index]
        + (int32_t)(((uint32_t)(LOG2_TABLE[index + 1] - LOG2_TABLE[index]) * rest + 512u) >> 10);
}

static void fe_mel(void) {
    int m, k, w = 0;
    for (m = 0; m < FE_N_MEL; ++m) {
        uint64_t energy = FE_ENERGY_FLOOR;  /* mel_float * 2^FE_ENERGY_EXP */
        int32_t log2;
        for (k = MEL_START[m]; k < MEL_START[m] + MEL_LENGTH[m]; ++k, ++w) {
            uint64_t power = (uint64_t)((int64_t)fe_re[k] * fe_re[k]
                                        + (int64_t)fe_im[k] * fe_im[k]) >> 16;
            energy += power * (uint64_t)MEL_WEIGHTS[w];
        }
        log2 = fe_log2_q16(energy) - (FE_ENERGY_EXP << 16);
        fe_logmel[m] = (int32_t)(((int64_t)log2 * FE_LN2_Q30 + (1 << 29)) >> 30);
    }
}

static void fe_dct(int32_t *out) {
    int j, m;
    for (j = 0; j < FE_N_MFCC; ++j) {
        int64_t acc = 1 << 29;
        for (m = 0; m < FE_N_MEL; ++m) acc += (int64_t)DCT[j * FE_N_MEL + m] * fe_logmel[m];
        out[j] = (int32_t)(acc >> 30);
    }
}
""" + _COMMON
