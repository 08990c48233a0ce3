"""``tf-expander export``: convert a saved (pruned) model to TFLite, optionally a C array, and
check it in LiteRT and/or TFLM.

Example::

    tf-expander export model.keras --quantization int8 --representative-data digits \
        --out model.tflite --c-array model_data --verify tflm
    tf-expander export model.keras --streaming --quantization int8 \
        --representative-data digits --verify tflm tflm-cortex-m4

``--representative-data`` is a data set name (its train split calibrates int8, its test split is
used by ``--verify``) or a ``.npy`` file of inputs ``(samples, time, features)``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

from tf_expander_pruning.cli.commands._quantization import add_quantization_option
from tf_expander_pruning.core.quantization import TFLITE_QUANTIZATIONS

HELP = ("Convert a model to TFLite (float32/dynamic/float16/int8), write a C array, verify in "
        "TFLM.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``export`` options on ``parser``."""
    parser.add_argument("model", metavar="MODEL",
                        help="a tf_keras model saved as .keras, .h5 or a SavedModel directory")
    add_quantization_option(parser, TFLITE_QUANTIZATIONS, "float32",
                            "dynamic and float16 run in LiteRT only; int8 is full-integer for "
                            "TFLM and needs --representative-data")
    parser.add_argument("--representative-data", default=None, metavar="DATASET|FILE.npy",
                        help="data set name (e.g. digits: train split calibrates, test split "
                        "verifies) or a .npy array of inputs")
    parser.add_argument("--streaming", action="store_true", default=None,
                        help="write a one-time-step model (inputs x_t and the states, outputs y "
                        "and the new states): size and arena do not depend on T (the default "
                        "for a model with a stateful=True layer)")
    parser.add_argument("--no-streaming", dest="streaming", action="store_false",
                        help="write the whole sequence, also for a stateful=True model (made "
                        "stateless: the state starts at zero on every invoke)")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="fixed batch dimension of the flatbuffer (1 for microcontrollers)")
    parser.add_argument("--out", default=None,
                        help="output .tflite path (default: MODEL with the suffix .tflite)")
    parser.add_argument("--c-array", default=None, metavar="NAME",
                        help="also write NAME.h and NAME.cc (xxd -i style, 16-byte aligned) "
                        "next to --out")
    parser.add_argument("--verify", nargs="+", default=[],
                        choices=("litert", "tflm", "tflm-cortex-m4"),
                        help="run the flatbuffer in these runtimes and compare with Keras "
                        "(tflm-cortex-m4: TFLM + CMSIS-NN on an emulated Cortex-M4, int8 only)")
    parser.add_argument("--verify-samples", type=int, default=500,
                        help="at most this many samples for --verify (default 500)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")


def _data(spec: str | None, *, verify: bool):
    """(calibration inputs, verify inputs, verify labels or None) from the option.

    A data set's test split is loaded only when ``verify`` (it is not needed otherwise).
    """
    import numpy as np

    from tf_expander_pruning.research import datasets

    if spec is None:
        return None, None, None
    if spec.endswith(".npy"):
        if not os.path.exists(spec):
            raise FileNotFoundError(f"--representative-data file {spec!r} does not exist.")
        x = np.load(spec)
        x = x if x.dtype.kind in "iu" else x.astype("float32")  # token ids stay integers
        return x, x, None
    if spec not in datasets.DATASETS:
        raise ValueError(
            f"--representative-data {spec!r} is neither a .npy file nor a data set "
            f"({', '.join(datasets.DATASETS)})."
        )
    x_train, _ = datasets.load(spec, "train")
    if not verify:
        return x_train, None, None
    x_test, y_test = datasets.load(spec, "test")
    return x_train, x_test, y_test


def run(args: argparse.Namespace) -> int:
    """Convert, write and verify as ``args`` says; 0 on success, 1 on a conversion error."""
    from tf_expander_pruning.cli.commands._common import load_model
    from tf_expander_pruning.deployment import export
    from tf_expander_pruning.deployment.export.streaming import stream_plan

    if args.quantization == "int8" and args.representative_data is None:
        raise ValueError("--quantization int8 needs --representative-data (e.g. digits).")
    if args.verify and args.representative_data is None:
        raise ValueError("--verify needs --representative-data to have inputs to run.")
    if args.batch_size < 1:
        raise ValueError("--batch-size must be >= 1.")
    model = load_model(args.model)
    calibration, x_verify, y_verify = _data(args.representative_data, verify=bool(args.verify))
    out = Path(args.out) if args.out else Path(args.model.rstrip("/")).with_suffix(".tflite")
    try:
        data = export.to_tflite(model, quantization=args.quantization,
                                representative_data=calibration, batch_size=args.batch_size,
                                streaming=args.streaming)
    except export.ExportError as error:
        print(f"tf-expander export: error: {error}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    summary = {
        "out": str(out),
        "quantization": args.quantization,
        "stored_as": export.quantization_of(data),
        "streaming": stream_plan(data) is not None,
        "flatbuffer_bytes": len(data),
        "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0)),
        "ops": export.list_ops(data),
    }
    if args.c_array:
        header, source = export.to_c_array(data, args.c_array).write(out.parent)
        summary["c_array"] = [str(header), str(source)]
    reports = []
    for runtime in args.verify:
        n = args.verify_samples
        labels = y_verify[:n] if y_verify is not None else None
        try:
            report = export.verify(data, model, x_verify[:n], runtime=runtime, labels=labels)
        except export.ExportError as error:
            print(f"tf-expander export: {runtime}: {error}", file=sys.stderr)
            return 1
        reports.append(report)
    if args.json:
        # "runtime" and "flatbuffer_bytes": the names this JSON had before the one report shape
        rows = [{**r.to_dict(), "runtime": r.target, "flatbuffer_bytes": r.model_bytes}
                for r in reports]
        print(json.dumps({**summary, "verify": rows}, indent=2))
    else:
        print(f"wrote {out}: {summary['flatbuffer_bytes']} bytes ({summary['gzip_bytes']} gzip), "
              f"{summary['stored_as']}, ops: {', '.join(summary['ops'])}")
        if args.c_array:
            print("wrote " + " and ".join(summary["c_array"]))
        for report in reports:
            print(report)
    return 0
