"""Weight matrices as the generated C stores them: dense, CSR or blocked CSR, float or int8.

NumPy only.  The format with the fewest bytes is picked matrix by matrix; int8 uses one symmetric
scale per output row.  :func:`quantize_multiplier` turns a real scale into the int32 multiplier
and shift that integer-only C uses instead of a float multiply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tf_expander_pruning.core.validation import check_choice

__all__ = ["PackedMatrix", "pack_matrix", "index_dtype", "quantize_multiplier", "C_TYPES",
           "BLOCK", "FORMATS", "QUANTIZATIONS"]

FORMATS = ("auto", "dense", "csr", "bcsr")
QUANTIZATIONS = ("int8", "float32")
BLOCK = 4  # blocked CSR: 1 x 4 blocks of consecutive input columns


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
    column / 4, ``indptr[rows + 1]`` counting blocks).
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
        if self.indices is not None:
            total += self.indices.nbytes + self.indptr.nbytes
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
    return sizes


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
    pointers (ties go to dense, the fastest); ``"dense"``, ``"csr"`` or ``"bcsr"`` force one
    (``bcsr`` falls back to ``csr`` when ``cols`` is not a multiple of 4).
    For int8 each row r gets ``scale[r] = max|M[r]| / 127`` and ``q = round(M / scale[r])``;
    weights that round to 0 are dropped from the sparse formats (they contribute nothing).
    """
    check_choice(quantization, "quantization", QUANTIZATIONS)
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
    if sparse_format == "auto":
        fmt = min(("dense", "csr", "bcsr"), key=lambda f: sizes.get(f, np.inf))
    elif sparse_format == "bcsr" and "bcsr" not in sizes:
        fmt = "csr"
    else:
        fmt = sparse_format
    nz = data != 0
    if fmt == "dense":
        values, indices, indptr = data.reshape(-1).copy(), None, None
        nnz = int(nz.sum())
    elif fmt == "csr":
        counts = nz.sum(axis=1)
        nnz = int(counts.sum())
        r_idx, c_idx = np.nonzero(nz)  # row-major order, as CSR needs
        values = data[r_idx, c_idx]
        indices = c_idx.astype(index_dtype(cols - 1))
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index_dtype(nnz))
    else:
        blocks = data.reshape(rows, cols // BLOCK, BLOCK)
        bnz = nz.reshape(rows, cols // BLOCK, BLOCK).any(axis=2)
        r_idx, b_idx = np.nonzero(bnz)
        values = blocks[r_idx, b_idx].reshape(-1)
        indices = b_idx.astype(index_dtype(cols // BLOCK - 1))
        nblocks = len(b_idx)
        indptr = np.concatenate([[0], np.cumsum(bnz.sum(axis=1))]).astype(index_dtype(nblocks))
        nnz = int(nz.sum())
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
