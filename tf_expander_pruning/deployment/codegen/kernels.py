"""The matrix-vector kernels of the generated C: ``y += M x`` for each storage format and mode.

Modes:

* ``f32``: float weights and vector.
* ``i8``: int8 weights, int8 vector with a float scale ``xs``; int32 accumulation, one float
  rescale per row (``scale[r] * xs``).
* ``q``: integer only: int8 weights, int16 vector ``x`` standing for ``x * 2**sh`` in Q16; int32
  accumulation; per row ``(acc * mult[r]) >> (shift[r] - sh)`` into a Q16 int32 output.

Inner loops are unrolled four ways (fewer loop instructions per multiply-accumulate).  On cores
with the DSP extension (``__ARM_FEATURE_DSP``: Cortex-M4/M7/M33) the dense and blocked rows of the
int8 mode use ``__SMLAD`` (two 16-bit multiply-accumulates per instruction) on sign-extended
pairs; other cores and the host compile the portable loop.
"""

from __future__ import annotations

from tf_expander_pruning.deployment.codegen.packing import BLOCK

__all__ = ["kernel_key", "kernel_source", "DSP_PRELUDE"]

_VAL = {"f32": "float", "i8": "int8_t", "q": "int8_t"}
_VEC = {"f32": "float", "i8": "int8_t", "q": "int16_t"}
_ACC = {"f32": "float", "i8": "int32_t", "q": "int32_t"}
_TAIL = {
    "f32": "const float *x, float *y",
    "i8": "const float *scale, const int8_t *x, float xs, float *y",
    "q": "const int32_t *mult, const int8_t *shift, const int16_t *x, int sh, int32_t *y",
}
_FINISH = {
    "f32": "y[r] += acc;",
    "i8": "y[r] += (float)acc * (scale[r] * xs);",
    "q": "y[r] += PFX_requant(acc, mult[r], shift[r] - sh);",
}

#: Included once when a kernel uses the DSP path: 4 int8 -> two pairs, two SMLADs.
DSP_PRELUDE = """#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#include <string.h>
/* acc + w . x for 4 int8 weights and 4 int8 inputs (any alignment): SXTB16 splits each word
 * into its even (then, shifted, odd) bytes as two signed 16-bit lanes; SMLAD multiplies lanes
 * pairwise and adds both products. */
static inline int32_t PFX_dot4(const int8_t *w, const int8_t *x, int32_t acc) {
    uint32_t a, b;
    memcpy(&a, w, 4);
    memcpy(&b, x, 4);
    acc = __smlad(__sxtb16((int32_t)a), __sxtb16((int32_t)b), acc);
    return __smlad(__sxtb16((int32_t)(a >> 8)), __sxtb16((int32_t)(b >> 8)), acc);
}
#define PFX_HAVE_DOT4 1
#endif
"""


def kernel_key(fmt: str, mode: str, index_ctype: str | None = None,
               pointer_ctype: str | None = None) -> str:
    """Name suffix of the kernel for a format, a mode and (sparse) index/pointer C types."""
    if fmt in ("dense", "bitmap"):
        return f"{fmt}_{mode}"
    return f"{fmt}_{mode}_{index_ctype[:-2]}_{pointer_ctype[:-2]}"


def _mac(mode: str, w: str, x: str) -> str:
    cast = "(int32_t)" if mode != "f32" else ""
    return f"{cast}{w} * {x}"


def _unrolled(mode: str, w: str, x: str, index: str) -> str:
    """Four multiply-accumulates, ``index`` replaced by ``i``, ``i + 1``, ..."""
    terms = [_mac(mode, w.replace(index, f"{index} + {j}" if j else index),
                  x.replace(index, f"{index} + {j}" if j else index)) for j in range(4)]
    return " + ".join(terms)


def _dense(prefix: str, key: str, mode: str) -> str:
    vt, acc = _VAL[mode], _ACC[mode]
    dsp = mode == "i8"
    body = [
        f"static void {prefix}_mv_{key}(int rows, int cols, const {vt} *val, {_TAIL[mode]}) {{",
        "    int r, c;",
        "    for (r = 0; r < rows; ++r) {",
        f"        const {vt} *row = val + (long)r * cols;",
        f"        {acc} acc = 0;",
        "        c = 0;",
    ]
    if dsp:
        body += ["#ifdef PFX_HAVE_DOT4",
                 "        for (; c + 3 < cols; c += 4) acc = PFX_dot4(row + c, x + c, acc);",
                 "#endif"]
    body += [
        f"        for (; c + 3 < cols; c += 4) acc += {_unrolled(mode, 'row[c]', 'x[c]', 'c')};",
        f"        for (; c < cols; ++c) acc += {_mac(mode, 'row[c]', 'x[c]')};",
        f"        {_FINISH[mode]}",
        "    }",
        "}",
    ]
    return "\n".join(body).replace("PFX", prefix) + "\n"


def _bitmap(prefix: str, key: str, mode: str) -> str:
    """One bit per element: a byte's set bits select the next values, in column order.

    Plain bit tests (a 16-way switch per half byte measured slower on a Cortex-M4), no
    count-trailing-zeros: C99, and no library call on a Cortex-M0.
    """
    vt, xt, acc = _VAL[mode], _VEC[mode], _ACC[mode]
    tests = [f"            if (m & {1 << j}u) acc += {_mac(mode, '*v++', f'xb[{j}]')};"
             for j in range(8)]
    return "\n".join([
        f"static void {prefix}_mv_{key}(int rows, int cols, const {vt} *val,"
        f" const uint8_t *bits, {_TAIL[mode]}) {{",
        "    int r, b, nb = (cols + 7) >> 3;",
        f"    const {vt} *v = val;",
        "    for (r = 0; r < rows; ++r) {",
        f"        {acc} acc = 0;",
        "        for (b = 0; b < nb; ++b) {",
        "            unsigned m = *bits++;",
        f"            const {xt} *xb = x + (b << 3);",
        "            if (!m) continue;",
        *tests,
        "        }",
        f"        {_FINISH[mode]}",
        "    }",
        "}",
    ]).replace("PFX", prefix) + "\n"


def _sparse(prefix: str, key: str, fmt: str, mode: str, itype: str, ptype: str) -> str:
    vt, xt, acc = _VAL[mode], _VEC[mode], _ACC[mode]
    if fmt == "csr":
        # Values and indices are walked with pointers across rows: little work per row.
        head = [
            f"static void {prefix}_mv_{key}(int rows, const {vt} *val, const {itype} *idx,"
            f" const {ptype} *ptr, {_TAIL[mode]}) {{",
            "    int r;",
            f"    const {vt} *v = val;",
            f"    const {itype} *ix = idx;",
            "    for (r = 0; r < rows; ++r) {",
            f"        const {vt} *end = val + ptr[r + 1];",
            f"        {acc} acc = 0;",
        ]
        loop = [
            f"        while (v < end) acc += {_mac(mode, '*v++', 'x[*ix++]')};",
        ]
    else:
        head = [
            f"static void {prefix}_mv_{key}(int rows, const {vt} *val, const {itype} *idx,"
            f" const {ptype} *ptr, {_TAIL[mode]}) {{",
            "    int r;",
            "    for (r = 0; r < rows; ++r) {",
            f"        {acc} acc = 0;",
            "        int k = (int)ptr[r], end = (int)ptr[r + 1];",
        ]
        block = (f"const {vt} *v = val + (long)k * {BLOCK}; "
                 f"const {xt} *xb = x + (int)idx[k] * {BLOCK};")
        loop = ["        for (; k < end; ++k) {", f"            {block}"]
        if mode == "i8":
            loop += ["#ifdef PFX_HAVE_DOT4", "            acc = PFX_dot4(v, xb, acc);", "#else"]
        terms = " + ".join(_mac(mode, f"v[{j}]", f"xb[{j}]") for j in range(BLOCK))
        loop.append(f"            acc += {terms};")
        if mode == "i8":
            loop.append("#endif")
        loop.append("        }")
    tail = [f"        {_FINISH[mode]}", "    }", "}"]
    return "\n".join(head + loop + tail).replace("PFX", prefix) + "\n"


def kernel_source(prefix: str, key: str) -> str:
    """C source of the kernel named by :func:`kernel_key` (``prefix`` = model name)."""
    parts = key.split("_")
    fmt, mode = parts[0], parts[1]
    if fmt == "dense":
        return _dense(prefix, key, mode)
    if fmt == "bitmap":
        return _bitmap(prefix, key, mode)
    return _sparse(prefix, key, fmt, mode, parts[2] + "_t", parts[3] + "_t")
