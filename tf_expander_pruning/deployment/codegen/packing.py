"""Weight matrices as the generated C stores them: dense, CSR or blocked CSR, float or int8.

NumPy only.  The format with the fewest bytes is picked matrix by matrix; int8 uses one symmetric
scale per output row.  :func:`quantize_multiplier` turns a real scale into the int32 multiplier
and shift that integer-only C uses instead of a float multiply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tf_expander_pruning.core.quantization import normalize_quantization
from tf_expander_pruning.core.validation import check_choice

__all__ = ["PackedMatrix", "pack_matrix", "index_dtype", "quantize_multiplier", "C_TYPES",
           "BLOCK", "FORMATS", "WEIGHT_QUANTIZATIONS"]

FORMATS = ("auto", "dense", "csr", "bcsr", "bitmap")
#: How one matrix stores its weights (integer-only C stores int8 weights too).
WEIGHT_QUANTIZATIONS = ("float32", "int8")
BLOCK = 4  # blocked CSR: 1 x 4 blocks of consecutive input columns
#: ``auto`` takes ``bitmap`` only at this density or above: it decodes more slowly per nonzero
#: than CSR, and below this density CSR is nearly as small.
BITMAP_MIN_DENSITY = 0.3


def index_dtype(max_value: int) -> np.dtype:
    """Smallest unsigned type holding ``max_value`` (indices are < cols, pointers <= nnz)."""
    if max_value <= 0xFF:
        return np.dtype(np.uint8)
    if max_value <= 0xFFFF:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


C_TYPES = {
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.uint16): "uint16_t",
    np.dtype(np.uint32): "uint32_t",
    np.dtype(np.int8): "int8_t",
    np.dtype(np.float32): "float",
}


@dataclass
class PackedMatrix:
    """One weight matrix as stored in C: ``rows`` = output units, ``cols`` = input units.

    The C orientation is the transpose of the Keras kernel (Keras computes ``x @ W``; C computes
    ``y[r] += sum_c M[r, c] x[c]`` row by row).  ``format`` is ``dense`` (values row-major),
    ``csr`` (``values[nnz]``, column ``indices[nnz]``, row pointers ``indptr[rows + 1]``) or
    ``bcsr`` (1x4 blocks: ``values[nblocks * 4]``, block column ``indices[nblocks]`` = first
    column / 4, ``indptr[rows + 1]`` counting blocks) or ``bitmap`` (``values[nnz]`` row-major and
    ``indices`` = one bit per element, ``ceil(cols / 8)`` bytes per row, bit ``c % 8`` of byte
    ``c / 8`` for column ``c``; no row pointers: the kernel walks the values in order).
    """

    name: str
    layer: str
    role: str
    rows: int
    cols: int
    format: str
    values: np.ndarray
    indices: np.ndarray | None
    indptr: np.ndarray | None
    scales: np.ndarray | None
    nnz: int
    candidate_bytes: dict = field(default_factory=dict)

    @property
    def weight_bytes(self) -> int:
        """Bytes of values + indices + row pointers (what the format choice minimises)."""
        total = self.values.nbytes
        for extra in (self.indices, self.indptr):
            total += 0 if extra is None else extra.nbytes
        return total

    @property
    def scale_bytes(self) -> int:
        """Bytes of the int8 row scales (0 for float32)."""
        return 0 if self.scales is None else self.scales.nbytes

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nnz / float(self.rows * self.cols)

    def dense(self) -> np.ndarray:
        """Rebuild the (dequantised) float matrix from the stored arrays (for tests and checks)."""
        values = self.values.astype(np.float64)
        if self.format == "dense":
            out = values.reshape(self.rows, self.cols)
        elif self.format == "bitmap":
            bits = np.unpackbits(self.indices.reshape(self.rows, -1), axis=1, bitorder="little")
            mask = bits[:, : self.cols].astype(bool)
            out = np.zeros((self.rows, self.cols))
            out[mask] = values
        else:
            out = np.zeros((self.rows, self.cols))
            width = 1 if self.format == "csr" else BLOCK
            for r in range(self.rows):
                for k in range(int(self.indptr[r]), int(self.indptr[r + 1])):
                    c0 = int(self.indices[k]) * width
                    out[r, c0 : c0 + width] = values[k * width : (k + 1) * width]
        if self.scales is not None:
            out = out * self.scales.astype(np.float64)[:, None]
        return out


def format_sizes(data: np.ndarray) -> dict:
    """Bytes of values + indices + row pointers of ``data`` in each applicable format."""
    rows, cols = data.shape
    item = data.dtype.itemsize
    nz = data != 0
    nnz = int(nz.sum())
    sizes = {
        "dense": rows * cols * item,
        "csr": nnz * item
        + nnz * index_dtype(cols - 1).itemsize
        + (rows + 1) * index_dtype(nnz).itemsize,
    }
    if cols % BLOCK == 0:
        nblocks = int(nz.reshape(rows, cols // BLOCK, BLOCK).any(axis=2).sum())
        sizes["bcsr"] = (
            nblocks * BLOCK * item
            + nblocks * index_dtype(cols // BLOCK - 1).itemsize
            + (rows + 1) * index_dtype(nblocks).itemsize
        )
    sizes["bitmap"] = nnz * item + rows * ((cols + 7) // 8)
    return sizes


def _choose(sizes: dict, sparse_format: str, density: float) -> str:
    if sparse_format == "auto":
        options = ["dense", "csr", "bcsr"] + (["bitmap"] if density >= BITMAP_MIN_DENSITY else [])
        return min(options, key=lambda f: sizes.get(f, np.inf))
    if sparse_format == "bcsr" and "bcsr" not in sizes:
        return "csr"
    return sparse_format


def _pack(data: np.ndarray, fmt: str):
    """``(values, indices, indptr)`` of ``data`` in format ``fmt``."""
    rows, cols = data.shape
    nz = data != 0
    if fmt == "dense":
        return data.reshape(-1).copy(), None, None
    if fmt == "bitmap":
        bits = np.packbits(nz, axis=1, bitorder="little").reshape(-1)
        return data[nz], bits.astype(np.uint8), None
    if fmt == "csr":
        counts = nz.sum(axis=1)
        r_idx, c_idx = np.nonzero(nz)  # row-major order, as CSR needs
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index_dtype(int(counts.sum())))
        return data[r_idx, c_idx], c_idx.astype(index_dtype(cols - 1)), indptr
    blocks = data.reshape(rows, cols // BLOCK, BLOCK)
    bnz = nz.reshape(rows, cols // BLOCK, BLOCK).any(axis=2)
    r_idx, b_idx = np.nonzero(bnz)
    indptr = np.concatenate([[0], np.cumsum(bnz.sum(axis=1))]).astype(index_dtype(len(b_idx)))
    return (blocks[r_idx, b_idx].reshape(-1), b_idx.astype(index_dtype(cols // BLOCK - 1)),
            indptr)


def pack_matrix(
    matrix: np.ndarray,
    quantization: str = "int8",
    sparse_format: str = "auto",
    *,
    name: str = "m",
    layer: str = "",
    role: str = "",
) -> PackedMatrix:
    """Quantise (optionally) and compress one C-oriented matrix ``(rows=out, cols=in)``.

    ``sparse_format="auto"`` picks the format with the fewest bytes of values + indices + row
    pointers (ties go to dense, the fastest; ``bitmap`` only at a density of at least
    :data:`BITMAP_MIN_DENSITY`); ``"dense"``, ``"csr"``, ``"bcsr"`` or ``"bitmap"`` force one
    (``bcsr`` falls back to ``csr`` when ``cols`` is not a multiple of 4).
    For int8 each row r gets ``scale[r] = max|M[r]| / 127`` and ``q = round(M / scale[r])``;
    weights that round to 0 are dropped from the sparse formats (they contribute nothing).
    """
    quantization = normalize_quantization(quantization, "quantization", WEIGHT_QUANTIZATIONS)
    check_choice(sparse_format, "sparse_format", FORMATS)
    m = np.asarray(matrix, dtype=np.float32)
    rows, cols = m.shape
    scales = None
    if quantization == "int8":
        amax = np.abs(m).max(axis=1)
        scales = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        data = np.clip(np.round(m / scales[:, None]), -127, 127).astype(np.int8)
    else:
        data = m
    sizes = format_sizes(data)
    nnz = int((data != 0).sum())
    fmt = _choose(sizes, sparse_format, nnz / float(rows * cols))
    values, indices, indptr = _pack(data, fmt)
    return PackedMatrix(
        name=name,
        layer=layer,
        role=role,
        rows=rows,
        cols=cols,
        format=fmt,
        values=np.ascontiguousarray(values),
        indices=indices,
        indptr=indptr,
        scales=scales,
        nnz=nnz,
        candidate_bytes=sizes,
    )


def quantize_multiplier(scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scale ~= mult * 2**-shift`` with ``mult`` in ``[2**30, 2**31)`` (int32) per element.

    The integer-only C rescales an int32 accumulator ``acc`` by ``(acc * mult) >> shift`` (64-bit
    product, rounded), which is ``acc * scale`` to 31 significant bits.  Zero scales give
    ``mult = 0``.
    """
    scale = np.asarray(scale, dtype=np.float64)
    mant, exp = np.frexp(scale)  # scale = mant * 2**exp, mant in [0.5, 1)
    mult = np.round(mant * (1 << 31)).astype(np.int64)
    carry = mult == (1 << 31)  # rounding up to 2**31: renormalise
    mult = np.where(carry, 1 << 30, mult)
    exp = np.where(carry, exp + 1, exp)
    shift = 31 - exp
    mult = np.where(scale > 0, mult, 0)
    shift = np.where(scale > 0, shift, 0)
    return mult.astype(np.int32), shift.astype(np.int32)
