"""``tf-expander inspect MODEL_PATH``: the spectral table of a saved model's recurrent weights."""

from __future__ import annotations

import json

HELP = "Print the Ramanujan analysis of every recurrent weight graph of a saved model."


def add_arguments(parser) -> None:
    parser.add_argument("model_path", metavar="MODEL_PATH",
                        help="a .keras or .h5 file, or a SavedModel directory")
    parser.add_argument("--per-gate", action="store_true",
                        help="analyse each LSTM/GRU gate's block separately")
    parser.add_argument("--weighted", action="store_true",
                        help="use |w| on the kept edges instead of the 0/1 mask for the spectrum")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")


def run(args) -> int:
    from tf_expander_pruning.analysis import graphs
    from tf_expander_pruning.cli.commands._common import load_model

    model = load_model(args.model_path)
    if args.json:
        rows = graphs.summary_rows(model, per_gate=args.per_gate, weighted=args.weighted)
        print(json.dumps(rows, indent=2, default=list))
    else:
        graphs.summary(model, per_gate=args.per_gate, weighted=args.weighted)
    return 0
