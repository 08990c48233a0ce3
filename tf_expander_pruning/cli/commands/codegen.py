"""``tf-expander codegen``: sparse C99 inference code for a (pruned) recurrent model.

Example::

    tf-expander codegen model.keras --out firmware/model --quantization int8 --verify

writes ``model.h`` and ``model.c`` to ``--out``, prints the per-matrix storage format and the flash
and static-RAM bytes, and with ``--verify`` compiles the C with the system compiler (``$CC`` or
``cc``), or for ``--target cortex-m4|cortex-m0`` into a bare-metal image run in QEMU, and compares
it with Keras on the test split of ``--dataset`` (default: digits).  ``--integer-only`` writes C
without any floating-point operation (int8 inputs scaled by ``--input-scale``, default
``max|x| / 127`` over the data set's train split).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from tf_expander_pruning.cli.commands._quantization import add_quantization_option
from tf_expander_pruning.core.quantization import C_QUANTIZATIONS

HELP = "Generate dependency-free sparse C99 inference code (int8 or float32) for a model."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``codegen`` options on ``parser``."""
    parser.add_argument("model", help="a .keras / .h5 file (tf_keras or Keras 3) or a SavedModel "
                        "directory")
    parser.add_argument("--out", required=True, help="directory for NAME.h and NAME.c")
    add_quantization_option(parser, C_QUANTIZATIONS, "int8",
                            "int8-integer is int8 without any floating point (--integer-only)")
    parser.add_argument("--name", default="model", help="C identifier prefix (default: model)")
    parser.add_argument("--format", default="auto",
                        choices=("auto", "dense", "csr", "bcsr", "bitmap"),
                        help="weight storage: auto = smallest per matrix (default)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="longest sequence (only needed for Bidirectional models whose "
                        "time dimension is not fixed)")
    parser.add_argument("--verify", action="store_true",
                        help="compile the C and compare it with Keras on the test split")
    parser.add_argument("--dataset", default="digits",
                        help="data set whose test split --verify uses (default: digits)")
    parser.add_argument("--min-agreement", type=float, default=None,
                        help="with --verify: exit 1 if the argmax agreement is below this (0-1)")
    parser.add_argument("--json", action="store_true", help="print the verify report as JSON")
    parser.add_argument("--integer-only", action="store_true",
                        help="no floating point in the C (cores without an FPU): the same as "
                        "--quantization int8-integer")
    parser.add_argument("--input-scale", type=float, default=None,
                        help="with --integer-only: real value of one int8 input step (default: "
                        "max|x| / 127 over the --dataset train split)")
    parser.add_argument("--target", default="host", choices=("host", "cortex-m4", "cortex-m0"),
                        help="with --verify: where the C runs (QEMU for the Cortex-M cores)")


def load_model(path: str):
    """Load a model: with Keras 3 when Keras 3 saved it (codegen reads it through its tf_keras
    twin), else with the loader shared by all sub-commands (pruning wrappers included)."""
    from tf_expander_pruning.analysis.saved_models import load_keras3_model, saved_keras_version

    version = saved_keras_version(path)
    if version is not None and version.startswith("3"):
        return load_keras3_model(path)
    from tf_expander_pruning.cli.commands._common import load_model as shared_loader

    return shared_loader(path)


def _input_scale(args: argparse.Namespace) -> float | None:
    if not args.integer_only or args.input_scale is not None:
        return args.input_scale
    from tf_expander_pruning.deployment.codegen.assemble import input_scale_from
    from tf_expander_pruning.research import datasets

    return input_scale_from(datasets.load(args.dataset, "train")[0])


def run(args: argparse.Namespace) -> int:
    """Generate (and optionally verify) the C code; return the exit status."""
    from tf_expander_pruning.deployment import codegen

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(
            f"--out {args.out!r} is an existing file; --out is the folder for {args.name}.h "
            f"and {args.name}.c. Pass a folder (e.g. --out {os.path.dirname(args.out) or '.'}) "
            "or remove the file."
        )
    if args.quantization == "int8-integer":
        args.integer_only = True
    model = load_model(args.model)
    c_model = codegen.to_c(
        model,
        quantization=args.quantization,
        name=args.name,
        sparse_format=args.format,
        max_steps=args.max_steps,
        integer_only=args.integer_only,
        input_scale=_input_scale(args),
    )
    paths = c_model.write(args.out)
    print(c_model.summary())
    print("wrote " + ", ".join(str(p) for p in paths))
    print(f"flash_bytes={c_model.flash_bytes} weight_bytes={c_model.weight_bytes} "
          f"ram_bytes={c_model.ram_bytes}")
    if not args.verify:
        return 0
    from tf_expander_pruning.research import datasets

    x, y = datasets.load(args.dataset, "test")
    expected = tuple(model.input_shape[1:])
    if x.shape[2] != c_model.n_features or (expected[0] is not None and x.shape[1] != expected[0]):
        raise ValueError(
            f"The {args.dataset} test split has shape {x.shape[1:]} but the model expects "
            f"{expected}; choose a matching --dataset."
        )
    report = codegen.verify(model, x, labels=y, c_model=c_model, target=args.target)
    print(json.dumps(report.to_dict(), indent=2) if args.json else str(report))
    if args.min_agreement is not None and report.argmax_agreement < args.min_agreement:
        print(
            f"argmax agreement {report.argmax_agreement:.2%} is below --min-agreement "
            f"{args.min_agreement:.2%}",
            file=sys.stderr,
        )
        return 1
    return 0
