"""C inference time per sequence: sparse C build vs a dense C build of the same pruned model.

    .venv/bin/python benchmarks/codegen_speed.py

Same demo model as ``codegen_size.py`` (LSTM(64) on digits, pruned to 80 %).  Both builds come
from :func:`tf_expander_pruning.codegen.to_c` (``sparse_format="auto"`` vs ``"dense"``), are
compiled with ``cc -O2`` in the same run and timed on the 450 digits test sequences (batch run
inside C, best of 3), for int8 and float32.  The summary line gives dense time / sparse time
(> 1 means the sparse build is faster).  Host-CPU timings: they show the relative cost of the
index indirection versus the skipped multiply-adds, not absolute microcontroller latency.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from codegen_size import build_demo  # noqa: E402

from tf_expander_pruning import codegen, datasets  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--sparsity", type=float, default=0.8)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    start = time.time()
    # Timing does not depend on accuracy: a short training run is enough.
    model = build_demo(args.units, args.sparsity, epochs=2, finetune_epochs=0)
    x, _ = datasets.load("digits", "test")
    parts = []
    for quantization in ("int8", "float32"):
        times = {}
        for fmt in ("auto", "dense"):
            c_model = codegen.to_c(model, quantization=quantization, sparse_format=fmt)
            compiled = codegen.compile_model(c_model)
            try:
                times[fmt] = compiled.seconds_per_sequence(x, repeats=args.repeats)
            finally:
                compiled.close()
        parts.append(
            f"{quantization}: sparse {times['auto'] * 1e6:.1f} us/seq, dense "
            f"{times['dense'] * 1e6:.1f} us/seq, dense/sparse {times['dense'] / times['auto']:.2f}x"
        )
    print(f"codegen_speed: LSTM({args.units}) digits at {args.sparsity:.0%} sparsity, cc -O2, "
          f"{len(x)} sequences x {args.repeats}: " + "; ".join(parts)
          + f" [{time.time() - start:.0f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
