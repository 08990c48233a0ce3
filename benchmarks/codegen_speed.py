"""Cost of one inference of the generated C: sparse build vs a dense build of the same model.

    .venv/bin/python benchmarks/codegen_speed.py                       # host CPU, microseconds
    .venv/bin/python benchmarks/codegen_speed.py --target cortex-m4    # instructions in QEMU
    .venv/bin/python benchmarks/codegen_speed.py --target cortex-m4 --sparsity 0.5,0.8,0.9

Same demo model as ``codegen_size.py`` (LSTM(64) on digits, pruned to ``--sparsity``).  Both
builds come from :func:`tf_expander_pruning.codegen.to_c` (``sparse_format="auto"`` vs
``"dense"``), in the same run.  On the host they are compiled with ``cc -O2`` and timed on the
450 digits test sequences (batch run inside C, best of 3; dense/sparse > 1 means sparse is
faster).  With ``--target cortex-m4`` or ``cortex-m0`` each build (int8, and int8 integer-only)
runs as a bare-metal image in QEMU on ``--samples`` test sequences and the line gives
instructions per inference and the model's flash; the TFLM + CMSIS-NN figure for the same
LSTM(64) shape on the same core (``TFLM_INSTRUCTIONS``, measured by ``benchmarks/mcu.py``) is the
reference for the "fewer instructions at >= 80 % sparsity" target.
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

#: TFLM + CMSIS-NN, demo-shaped int8 LSTM(64), 8 steps x 8 features, Cortex-M4 (issue 13).
TFLM_INSTRUCTIONS = 535_088


def host_line(model, x, sparsity: float, repeats: int) -> str:
    parts = []
    for quantization in ("int8", "float32"):
        times = {}
        for fmt in ("auto", "dense"):
            compiled = codegen.compile_c(
                codegen.to_c(model, quantization=quantization, sparse_format=fmt))
            try:
                times[fmt] = compiled.seconds_per_sequence(x, repeats=repeats)
            finally:
                compiled.close()
        parts.append(
            f"{quantization}: sparse {times['auto'] * 1e6:.1f} us/seq, dense "
            f"{times['dense'] * 1e6:.1f} us/seq, "
            f"dense/sparse {times['dense'] / times['auto']:.2f}x")
    return f"{sparsity:.0%}: " + "; ".join(parts)


def core_line(model, x, sparsity: float, target: str) -> str:
    parts = []
    for label, options in (("int8", {}), ("integer-only", {"integer_only": True})):
        for fmt in ("auto", "dense"):
            report = codegen.verify(model, x, quantization="int8", sparse_format=fmt,
                                    target=target, **options)
            parts.append(f"{label} {fmt} {report.instructions_per_inference:,} instr "
                         f"({report.instructions_per_inference / TFLM_INSTRUCTIONS:.2f}x TFLM), "
                         f"flash {report.flash_bytes:,} B")
    return f"{sparsity:.0%}: " + "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--sparsity", default="0.8", help="one value or a comma list")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--target", default="host", choices=("host", "cortex-m4", "cortex-m0"))
    parser.add_argument("--samples", type=int, default=20, help="test sequences on a core")
    args = parser.parse_args(argv)
    start = time.time()
    x, _ = datasets.load("digits", "test")
    lines = []
    for sparsity in (float(s) for s in args.sparsity.split(",")):
        # Cost does not depend on accuracy: a short training run is enough.
        model = build_demo(args.units, sparsity, epochs=2, finetune_epochs=0)
        if args.target == "host":
            lines.append(host_line(model, x, sparsity, args.repeats))
        else:
            lines.append(core_line(model, x[: args.samples], sparsity, args.target))
    where = "cc -O2" if args.target == "host" else f"{args.target} (QEMU)"
    print(f"codegen_speed: LSTM({args.units}) digits, {where}: " + " | ".join(lines)
          + f" [{time.time() - start:.0f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
