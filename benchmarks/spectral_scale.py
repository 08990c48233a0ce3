"""How ``spectral.analyze`` scales: masks from 256 x 1024 to 4096 x 16384 at 90 % sparsity.

Each mask is a uniformly random 0/1 matrix with exactly ``(1 - sparsity) * m * n`` edges, given
to ``analyze`` as CSR (the no-copy path; a dense 4096 x 16384 bool mask alone would be 64 MiB).
For each size: best-of-``--repeats`` wall time of ``analyze`` (BLAS limited to one thread, as in
the pruning callback) and the peak of memory allocated during one call (``tracemalloc``, which
NumPy and SciPy report their buffers to; measured in a separate call so tracing does not slow
the timed ones).  Ends with one summary line: the least-squares exponent ``b`` of
``time ~ edges ** b`` on log-log axes (1 = linear in the number of edges).

    .venv/bin/python benchmarks/spectral_scale.py [--sparsity 0.9 --repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import time
import tracemalloc

import numpy as np
import scipy.sparse

# The package root is lazy: this imports NumPy and SciPy only, never TensorFlow.
from tf_expander_pruning import spectral

SHAPES = [(256, 1024), (512, 2048), (1024, 4096), (2048, 8192), (4096, 16384)]


def single_threaded_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def random_mask(m: int, n: int, sparsity: float, rng: np.random.Generator):
    """CSR 0/1 mask with exactly round((1 - sparsity) m n) distinct random edges.

    Draws linear indices with replacement, de-duplicates and tops up: memory O(edges), unlike
    ``scipy.sparse.random`` whose sampling without replacement is O(m n) for large masks.
    """
    edges = int(round((1.0 - sparsity) * m * n))
    chosen = np.unique(rng.integers(0, m * n, size=int(edges * 1.06) + 16, dtype=np.int64))
    while chosen.size < edges:
        extra = rng.integers(0, m * n, size=edges - chosen.size + 16, dtype=np.int64)
        chosen = np.unique(np.concatenate([chosen, extra]))
    chosen = rng.permutation(chosen)[:edges]
    chosen.sort()
    rows, cols = np.divmod(chosen, n)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m))])
    data = np.ones(edges, dtype=np.float32)
    return scipy.sparse.csr_matrix((data, cols.astype(np.int32), indptr), shape=(m, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-rows", type=int, default=4096)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    edges, times = [], []
    for m, n in SHAPES:
        if m > args.max_rows:
            break
        mask = random_mask(m, n, args.sparsity, rng)
        # Fewer repeats for the big ones keep the whole run within a few minutes.
        repeats = args.repeats if m <= 1024 else max(1, args.repeats - 1)
        best = float("inf")
        with single_threaded_blas():
            for _ in range(repeats):
                start = time.perf_counter()
                report = spectral.analyze(mask)
                best = min(best, time.perf_counter() - start)
            tracemalloc.start()
            spectral.analyze(mask)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        input_mib = (mask.data.nbytes + mask.indices.nbytes + mask.indptr.nbytes) / 2**20
        edges.append(report.edges)
        times.append(best)
        print(
            f"{m:>5} x {n:<6} edges {report.edges:>9,}  time {best:8.3f} s  "
            f"peak {peak / 2**20:7.1f} MiB (input CSR {input_mib:6.1f} MiB)  "
            f"lambda1 {report.lambda1:8.2f}  mu_hat {report.mu_hat:6.2f}  "
            f"Ramanujan {report.is_ramanujan}",
            flush=True,
        )
    slope, _ = np.polyfit(np.log(edges), np.log(times), 1)
    print(
        f"spectral_scale sparsity={args.sparsity:.2f}: {len(edges)} sizes "
        f"{SHAPES[0][0]}x{SHAPES[0][1]}..{SHAPES[len(edges) - 1][0]}x"
        f"{SHAPES[len(edges) - 1][1]}, {edges[0]:,}..{edges[-1]:,} edges, "
        f"{times[0] * 1e3:.0f} ms..{times[-1]:.2f} s; fitted exponent time ~ edges^{slope:.2f}"
    )


if __name__ == "__main__":
    main()
