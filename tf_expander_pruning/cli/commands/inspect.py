"""``tf-expander inspect MODEL_PATH``: the spectral table of a saved model's recurrent weights."""

from __future__ import annotations

import json

HELP = "Print the Ramanujan analysis of every recurrent weight graph of a saved model."


def add_arguments(parser) -> None:
    parser.add_argument("model_path", metavar="MODEL_PATH",
                        help="a .keras or .h5 file (tf_keras or Keras 3), or a SavedModel "
                             "directory")
    parser.add_argument("--per-gate", action="store_true",
                        help="analyse each LSTM/GRU gate's block separately")
    parser.add_argument("--weighted", action="store_true",
                        help="spectrum of |w| on the kept edges: the spectral gap, no "
                             "Ramanujan verdict (the bound counts edges)")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")


def load_for_analysis(path):
    """The model at ``path``: with Keras 3 when Keras 3 saved it, else with tf_keras."""
    from tf_expander_pruning.analysis.saved_models import load_keras3_model, saved_keras_version

    version = saved_keras_version(path)
    if version is not None and version.startswith("3"):
        return load_keras3_model(path)
    from tf_expander_pruning.cli.commands._common import load_model

    return load_model(path)


def run(args) -> int:
    from tf_expander_pruning.analysis import graphs

    model = load_for_analysis(args.model_path)
    if args.json:
        rows = graphs.summary_rows(model, per_gate=args.per_gate, weighted=args.weighted)
        print(json.dumps(rows, indent=2, default=list))
    else:
        graphs.summary(model, per_gate=args.per_gate, weighted=args.weighted)
    return 0
