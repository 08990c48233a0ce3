"""Exact identities of graphs, so a cache can tell an unchanged graph without solving it."""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse

__all__ = ["csr_fingerprint", "dense_fingerprint"]


def csr_fingerprint(graph: scipy.sparse.csr_matrix, weighted: bool) -> bytes:
    """Exact identity of a canonical CSR graph: shape, structure and (if weighted) values."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(b"csr" + np.asarray(graph.shape, dtype=np.int64).tobytes())
    digest.update(b"w" if weighted else b"u")
    # indptr/indices dtypes differ (int32/int64) with size: hash the values, not the dtype.
    digest.update(np.ascontiguousarray(graph.indptr, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(graph.indices, dtype=np.int64).tobytes())
    if weighted:
        digest.update(np.ascontiguousarray(graph.data, dtype=np.float64).tobytes())
    return digest.digest()


def dense_fingerprint(array: np.ndarray, weighted: bool) -> bytes:
    """Exact identity of the graph of a validated dense array, without building its CSR.

    The 0/1 graph is the bit pattern of ``array != 0`` (packed 8 entries a byte); a weighted
    graph also needs ``|w|``.  A cache hit on a dense mask then costs a packbits and a hash
    instead of a dense-to-sparse conversion.  Dense and sparse inputs hash differently (a
    change of input kind costs one solve, never a wrong hit).
    """
    digest = hashlib.blake2b(digest_size=20)
    digest.update(b"dense" + np.asarray(array.shape, dtype=np.int64).tobytes())
    digest.update(b"w" if weighted else b"u")
    digest.update(np.packbits(array != 0).tobytes())
    if weighted:
        digest.update(np.abs(np.asarray(array, dtype=np.float64)).tobytes())
    return digest.digest()
