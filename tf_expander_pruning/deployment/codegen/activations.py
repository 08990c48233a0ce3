"""The activation functions written into the generated C: float (``ACTIVATION_C``) and Q16 fixed
point (``INTEGER_ACTIVATION_C``, no floating-point operation at all).

NumPy only.  ``PFX`` in the sources is replaced by the model name.  Why our own functions: no libm
(a bare-metal toolchain may not have one), branch-light, and the documented error bounds below are
checked by the tests.

Q16: a real value ``v`` is the int32 ``round(v * 65536)``.  The fixed-point tanh is a 257-entry
table of ``tanh(k / 32)`` on ``[0, 8]`` with linear interpolation (saturating beyond 8),
``sigmoid(x) = (1 + tanh(x / 2)) / 2``, and ``exp`` (softmax only, ``x <= 0``) is
``2**(x log2 e)``: the integer part by a shift, the fraction by a 33-entry table of ``2**(-k/32)``
with linear interpolation.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACTIVATION_C", "INTEGER_ACTIVATION_C", "TANH_MAX_ABS_ERROR", "SIGMOID_MAX_ABS_ERROR",
    "EXP_MAX_REL_ERROR", "QTANH_MAX_ABS_ERROR", "QSIGMOID_MAX_ABS_ERROR", "QEXP_MAX_ABS_ERROR",
    "TANH_TABLE", "EXP2_TABLE", "Q_ONE", "select_functions", "integer_activation_c",
]

#: Documented worst-case absolute error of the generated ``tanh`` (float32 evaluation) against
#: the exact tanh, over all float inputs.  Measured max is 3.9e-7 (float32 rounding dominates).
TANH_MAX_ABS_ERROR = 1e-6
#: ``sigmoid(x) = 0.5 + 0.5 * tanh(x / 2)``: half the tanh error plus a rounding (measured 2.3e-7).
SIGMOID_MAX_ABS_ERROR = 5e-7
#: Worst-case relative error of the generated ``exp`` on [-87, 88] (softmax only; measured 1.0e-7).
EXP_MAX_REL_ERROR = 5e-7

# The activation code shared by every generated model.  ``PFX`` is replaced by the model name.
# Why these: no libm needed (a bare-metal toolchain may not have one), branch-light, and the
# error bounds above are far below int8 quantisation noise and well inside the 1e-4 float target.
ACTIVATION_C = r"""
/* tanh: Eigen's rational approximation x*P(x^2)/Q(x^2), exact to float rounding on
 * [-7.9053, 7.9053]; outside, tanh is within 2.7e-7 of +-1.  Max abs error < TANH_MAX_ABS_ERROR. */
static float PFX_tanh(float x) {
    float x2, p, q;
    if (x > 7.90531110763549805f) x = 7.90531110763549805f;
    if (x < -7.90531110763549805f) x = -7.90531110763549805f;
    if (x > -0.0004f && x < 0.0004f) return x;
    x2 = x * x;
    p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

static float PFX_sigmoid(float x) { return 0.5f + 0.5f * PFX_tanh(0.5f * x); }

static float PFX_hard_sigmoid(float x) {
    float y = 0.2f * x + 0.5f;
    return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
}

static float PFX_relu(float x) { return x > 0.0f ? x : 0.0f; }

static float PFX_linear(float x) { return x; }

/* exp: x = k ln2 + r, |r| <= ln2/2, exp(r) by its degree-7 Taylor polynomial (remainder < 6e-9
 * relative), 2^k through the float exponent bits.  Inputs are clamped to [-87, 88]. */
static float PFX_exp(float x) {
    union { float f; uint32_t u; } scale;
    float kf, r, p;
    int k;
    if (x > 88.0f) x = 88.0f;
    if (x < -87.0f) x = -87.0f;
    kf = x * 1.44269504088896341f;
    k = (int)(kf + (kf >= 0.0f ? 0.5f : -0.5f));
    r = x - (float)k * 0.693145751953125f;
    r = r - (float)k * 1.428606765330187045e-06f;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667163e-1f + r * (4.1666667908e-2f
        + r * (8.3333337680e-3f + r * (1.3888889225e-3f + r * 1.9841270114e-4f))))));
    scale.u = (uint32_t)(k + 127) << 23;
    return p * scale.f;
}
"""

#: Q16 fixed point: the int32 that stands for 1.0.
Q_ONE = 1 << 16
#: tanh(k / 32), k = 0..256, in Q16 (1.0 saturates to 65535 so the table fits uint16).
TANH_TABLE = np.minimum(np.round(np.tanh(np.arange(257) / 32.0) * Q_ONE), Q_ONE - 1).astype(
    np.uint16)
#: 2**(-k / 32), k = 0..32, in Q16 (int32: the first entry is 65536).
EXP2_TABLE = np.round(2.0 ** (-np.arange(33) / 32.0) * Q_ONE).astype(np.int32)

#: Worst-case absolute error of the Q16 tanh (interpolation 9.4e-5 + table and output rounding).
QTANH_MAX_ABS_ERROR = 1.5e-4
#: Q16 sigmoid: half the tanh error, plus the halving of the argument and a rounding.
QSIGMOID_MAX_ABS_ERROR = 1.0e-4
#: Q16 exp on ``x <= 0`` (values in [0, 1]): interpolation 5.9e-5 relative plus roundings.
QEXP_MAX_ABS_ERROR = 1.0e-4

# Each function is separated by "\nstatic int32_t " so only the used ones are emitted.
INTEGER_ACTIVATION_C = r"""
/* Q16 fixed point (1.0 = 65536); no floating-point operation anywhere. */
static int32_t PFX_qmul(int32_t a, int32_t b) {
    return (int32_t)(((int64_t)a * b + 32768) >> 16);
}

/* (acc * mult) >> shift, rounded: acc times a real scale to 31 significant bits.  The usual
 * case (shift > 32) keeps only the high word of the product (one SMULL on a Cortex-M3/M4) and
 * rounds with 32-bit arithmetic; the low word's contribution is below half an output step. */
static int32_t PFX_requant(int32_t acc, int32_t mult, int shift) {
    int64_t p = (int64_t)acc * mult;
    if (shift > 32) {
        int32_t hi = (int32_t)(p >> 32);
        int s = shift - 32;
        return s >= 31 ? 0 : (hi + ((int32_t)1 << (s - 1))) >> s;
    }
    if (shift <= 0) return (int32_t)(p * ((int64_t)1 << -shift));
    return (int32_t)((p + ((int64_t)1 << (shift - 1))) >> shift);
}

/* tanh by PFX_tanh_tab (tanh(k/32)) and linear interpolation; |error| < QTANH_MAX_ABS_ERROR. */
static int32_t PFX_tanh(int32_t x) {
    int32_t a, i, f, y;
    if (x >= (8 << 16)) return 65536;
    if (x <= -(8 << 16)) return -65536;
    a = x < 0 ? -x : x;
    i = a >> 11;
    f = a & 2047;
    y = (int32_t)PFX_tanh_tab[i]
        + ((((int32_t)PFX_tanh_tab[i + 1] - (int32_t)PFX_tanh_tab[i]) * f + 1024) >> 11);
    return x < 0 ? -y : y;
}

static int32_t PFX_sigmoid(int32_t x) { return (65536 + PFX_tanh(x / 2)) / 2; }

static int32_t PFX_hard_sigmoid(int32_t x) {
    if (x <= -163840) return 0;
    if (x >= 163840) return 65536;
    return ((x * 13107 + 32768) >> 16) + 32768;
}

static int32_t PFX_relu(int32_t x) { return x > 0 ? x : 0; }

static int32_t PFX_linear(int32_t x) { return x; }

/* exp(x) for x <= 0: 2**-(n + f) with n by a shift, 2**-f by PFX_exp2_tab and interpolation. */
static int32_t PFX_exp(int32_t x) {
    int32_t y, n, f, i, v;
    if (x >= 0) return 65536;
    if (x <= -(24 << 16)) return 0;
    y = (int32_t)(((int64_t)(-x) * 94548 + 32768) >> 16); /* -x * log2(e) in Q16 */
    n = y >> 16;
    f = y & 65535;
    i = f >> 11;
    v = PFX_exp2_tab[i] - (((PFX_exp2_tab[i] - PFX_exp2_tab[i + 1]) * (f & 2047) + 1024) >> 11);
    return n >= 31 ? 0 : (v + ((1 << n) >> 1)) >> n;
}
"""

#: Which tables each fixed-point function reads.
INTEGER_TABLES = {"tanh": ("tanh_tab",), "sigmoid": ("tanh_tab",), "exp": ("exp2_tab",)}


def select_functions(source: str, ctype: str, needed: set[str], prefix: str) -> list[str]:
    """The functions of ``source`` (split at ``static <ctype> PFX_``) whose names are ``needed``.

    Only what is used is emitted, so ``-Wunused-function`` stays quiet.
    """
    text = source.replace("PFX", prefix)
    marker = f"\nstatic {ctype} "
    blocks = text.split(marker)
    out = [blocks[0]]
    for block in blocks[1:]:
        name = block.split("(", 1)[0][len(prefix) + 1:]
        if name in needed:
            out.append(f"static {ctype} " + block.rstrip() + "\n")
    return out


def integer_activation_c(prefix: str) -> str:
    """Every fixed-point function with its tables, as one standalone C fragment (for tests)."""
    tables = [
        f"static const uint16_t {prefix}_tanh_tab[257] = {{"
        + ", ".join(str(int(v)) for v in TANH_TABLE) + "};",
        f"static const int32_t {prefix}_exp2_tab[33] = {{"
        + ", ".join(str(int(v)) for v in EXP2_TABLE) + "};",
    ]
    return "\n".join(tables) + "\n" + INTEGER_ACTIVATION_C.replace("PFX", prefix)
