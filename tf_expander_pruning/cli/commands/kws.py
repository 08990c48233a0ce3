"""``tf-expander kws``: keyword spotting from microphone samples to a word on a Cortex-M4.

Example::

    tf-expander kws --out kws_output

trains an LSTM on the ``spoken_words`` MFCCs, prunes it with the default stop, generates the C
of the audio front end and of the network, runs every test clip frame by frame (20 ms) on the
host and on an emulated Cortex-M4 (QEMU; the labels must be equal), runs the same network in
TFLM + CMSIS-NN on the same core, prints the table (accuracy, flash, RAM, instructions per frame
of the front end and the network, share of an 80 MHz core) and writes ``kws_results.json``,
``kws_table.csv``, ``kws_report.md`` and ``kws_model.keras`` to ``--out``.  Smaller runs:
``--max-train``, ``--max-test``, ``--units``, ``--dense-epochs``, ``--prune-epochs``.
"""

from __future__ import annotations

import argparse
import os

HELP = "Keyword spotting end to end: train, prune, C front end + network on a Cortex-M4 (QEMU)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``kws`` options on ``parser``."""
    parser.add_argument("--out", default="kws_output", help="output folder (created)")
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru"))
    parser.add_argument("--units", type=int, default=48, help="recurrent units (default 48)")
    parser.add_argument("--dense-epochs", type=int, default=30)
    parser.add_argument("--prune-epochs", type=int, default=30,
                        help="epochs of pruning under the default stop (at least 8)")
    parser.add_argument("--max-train", type=int, default=None,
                        help="train on a seeded subset of this many clips")
    parser.add_argument("--max-test", type=int, default=None,
                        help="test on a seeded subset of this many clips (default: all)")
    parser.add_argument("--tflm-clips", type=int, default=None,
                        help="the first test clips run through TFLM + CMSIS-NN (default: all; "
                        "0: skip)")
    parser.add_argument("--quantization", default="int8", choices=("int8", "float32"),
                        help="the network C's weights (default int8; the front end is float)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Run the pipeline, print the report and write the results; return the exit status."""
    from tf_expander_pruning.research import kws

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out {args.out!r} is an existing file; --out is a folder.")
    settings = dict(cell=args.cell, units=args.units, dense_epochs=args.dense_epochs,
                    prune_epochs=args.prune_epochs, max_train=args.max_train,
                    max_test=args.max_test, tflm_clips=args.tflm_clips,
                    quantization=args.quantization)
    kws.check_settings(**settings)  # a bad option fails before TensorFlow is imported
    from tf_expander_pruning.core.keras_compat import tf

    tf.get_logger().setLevel("ERROR")
    result = kws.run_kws(**settings, seed=args.seed, progress=not args.quiet,
                         print_fn=lambda line: print(line, flush=True))
    report = kws.format_report(result)
    print("\n" + report)
    paths = kws.write_results(result, args.out)
    report_path = os.path.join(args.out, "kws_report.md")
    with open(report_path, "w") as handle:
        handle.write(report + "\n")
    print("wrote " + ", ".join(str(p) for p in [*paths, report_path]))
    return 0
