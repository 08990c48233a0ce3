"""``tf-expander reproduce``: the paper's iterative-pruning experiment on one data set and cell.

Example::

    tf-expander reproduce --dataset digits --cell lstm --seeds 3 --out results/digits-lstm

writes ``config.json``, ``rounds.csv``, ``graphs.csv``, ``summary.json``, ``summary.md`` and the
PNG plots listed in :data:`tf_expander_pruning.research.experiments.OUTPUT_FILES` to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time

HELP = "Reproduce the paper: iterative magnitude pruning with per-round spectra, noise, plots."

_DEFAULT_NOISE = ["gaussian:0.3", "salt_pepper:0.1"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``reproduce`` options on ``parser``."""
    from tf_expander_pruning.research.datasets import DATASETS
    from tf_expander_pruning.research.experiments import CELLS, VARIANTS

    parser.add_argument("--dataset", default="digits", choices=DATASETS,
                        help="data set (digits is embedded; the others need TFDS data)")
    parser.add_argument("--cell", default="lstm", choices=tuple(CELLS), help="recurrent cell")
    parser.add_argument("--units", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--seeds", type=parse_seeds, default=3, metavar="N|S1,S2,...",
                        help="number of seeds (0..N-1) or a comma-separated list of seeds; rows "
                        "of other seeds already in --out are kept (runs can be added seed by seed)")
    parser.add_argument("--rounds", type=int, default=10,
                        help="pruning rounds; sparsity after k rounds is 1 - 0.8**k")
    parser.add_argument("--prune-fraction", type=float, default=0.2,
                        help="share of the remaining weights pruned per round (default 0.2)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=tuple(VARIANTS),
                        help="both = W_xh and W_hh, kernel = W_xh only, recurrent = W_hh only, "
                        "random = random masks of the same density (control)")
    parser.add_argument("--dense-epochs", type=int, default=30)
    parser.add_argument("--finetune-epochs", type=int, default=3,
                        help="epochs of fine-tuning after each round (masks held)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--finetune-learning-rate", type=float, default=1e-3)
    parser.add_argument("--noise", nargs="*", default=None, metavar="KIND:LEVEL[:SEED]",
                        help="noisy test sets, e.g. gaussian:0.3 salt_pepper:0.1 (none: --noise; "
                        "default gaussian:0.3 salt_pepper:0.1, none for mnist1d, whose values "
                        "are not in [0, 1])")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--max-train", type=int, default=None,
                        help="use at most this many training examples")
    parser.add_argument("--max-test", type=int, default=None,
                        help="use at most this many test examples")
    parser.add_argument("--experiment", default="curves",
                        choices=("curves", "stopping-rule", "all", "table"),
                        help="curves: iterative pruning with per-round spectra (default); "
                        "stopping-rule: RamanujanConstraint's automatic stop vs fixed targets; "
                        "table: print the headline table of the results under --out "
                        "(<out>/<dataset>/<cell>/stopping_rule.csv and curves/summary.json) "
                        "and write <out>/headline.{csv,md}, stops.md and curves.md")
    parser.add_argument("--stop-targets", nargs="*", type=float, default=None,
                        help="fixed TF-MOT final sparsities for --experiment stopping-rule "
                        "(default 0.5 0.6 0.7 0.75 0.8 0.85 0.9 0.95; none: only the "
                        "constraint runs, e.g. to add criterion variants to a directory)")
    parser.add_argument("--constraint", action="append", default=None,
                        metavar="NAME[:KEY=VALUE,...]",
                        help="a RamanujanConstraint configuration for the stopping rule, e.g. "
                        "'default' or 'skip:undefined=skip,per_gate=true,margin=0.5' (repeatable; "
                        "default: the constraint's own defaults)")
    parser.add_argument("--no-unrolled", action="store_true",
                        help="skip the unrolled-graph analysis")
    parser.add_argument("--no-plots", action="store_true", help="write CSV/JSON only")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--out", default="results", help="output directory (created)")


def _value(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return float(text)
    except ValueError:
        return text


def parse_constraint(text: str) -> tuple[str, dict]:
    """``"name:key=value,key=value"`` -> ``(name, {key: value})`` (numbers and true/false parsed).

    Raises:
        ValueError: an empty name or an item without ``=`` (naming ``--constraint``).
    """
    name, _, rest = text.partition(":")
    if not name:
        raise ValueError(f"--constraint needs a name before ':', got {text!r}.")
    options = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--constraint items must be KEY=VALUE, got {item!r} in {text!r}.")
        options[key.strip()] = _value(value.strip())
    return name, options


def parse_seeds(text: str) -> int | list[int]:
    """``"3"`` -> 3 (seeds 0..2); ``"1,2"`` -> ``[1, 2]``.

    Raises:
        argparse.ArgumentTypeError: anything else (naming ``--seeds``).
    """
    try:
        if "," in text:
            return [int(part) for part in text.split(",") if part.strip()]
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds must be a count N or a list like 0,1,2; got {text!r}."
        ) from None


def _config(args: argparse.Namespace):
    from tf_expander_pruning.research import experiments

    noise = args.noise
    if noise is None:  # mnist1d keeps its own value range: noise levels are defined on [0, 1]
        noise = [] if args.dataset == "mnist1d" else _DEFAULT_NOISE
    return experiments.ExperimentConfig(
        dataset=args.dataset,
        cell=args.cell,
        units=args.units,
        seeds=args.seeds,
        rounds=args.rounds,
        prune_fraction=args.prune_fraction,
        variants=tuple(dict.fromkeys(args.variants)),
        dense_epochs=args.dense_epochs,
        finetune_epochs=args.finetune_epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        finetune_learning_rate=args.finetune_learning_rate,
        noise=tuple(noise),
        data_dir=args.data_dir,
        max_train=args.max_train,
        max_test=args.max_test,
        unrolled=not args.no_unrolled,
    ).validate()


def _log(args: argparse.Namespace):
    def log(message: str) -> None:
        if not args.quiet:
            from tqdm.auto import tqdm

            tqdm.write(message, file=sys.stderr)

    return log


def _stopping_rule(args: argparse.Namespace, config) -> list:
    """Run the stopping rule, merging each finished row into ``<out>/stopping_rule.csv``."""
    from pathlib import Path

    from tf_expander_pruning.research import experiments
    from tf_expander_pruning.research.experiments.results_io import write_rows

    constraints = dict(parse_constraint(c) for c in args.constraint) if args.constraint else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "stopping_rule.csv"
    keys = ("seed", "dataset", "cell", "method")
    targets = experiments.STOP_TARGETS if args.stop_targets is None else args.stop_targets
    mine = experiments.run_stopping_rule(
        config, targets=targets, constraints=constraints, progress=not args.quiet,
        log=_log(args), on_row=lambda row: write_rows(path, [row], keys),
    )
    rows = write_rows(path, mine, keys)  # all of this run's rows again, whatever happened between
    paths = experiments.save_stopping_rule(
        rows, out, plot=not args.no_plots, write_rows_csv=False
    )
    for method, entry in experiments.summarize_stopping_rule(rows).items():
        std = entry["accuracy"]["std"] or 0.0
        print(f"{method}: sparsity {100 * entry['layer_sparsity']['mean']:.1f} %, accuracy "
              f"{100 * entry['accuracy']['mean']:.1f} ± {100 * std:.1f} % "
              f"({entry['seeds']} seeds)")
    return paths


def _curves(args: argparse.Namespace, config) -> list:
    from tf_expander_pruning.research import experiments

    result = experiments.run_experiment(config, progress=not args.quiet, log=_log(args))
    result = experiments.merge_saved_result(result, args.out)
    paths = experiments.save_results(result, args.out)
    if not args.no_plots:
        paths += experiments.plot_results(result, args.out)
    both = result.summary["variants"].get("both") or next(iter(result.summary["variants"].values()))
    aggregate = both["aggregate"]
    knee = aggregate["knee_sparsity"]
    dense = aggregate["dense_accuracy"]["mean"]
    print(f"dense accuracy {100 * dense:.1f} %; accuracy knee (> 2 points lost) at "
          + (f"{100 * knee['mean']:.1f} % sparsity" if knee["mean"] is not None
             else "no round within the sparsities run"))
    for weight in ("kernel", "recurrent"):
        entry = aggregate.get(f"{weight}/delta_r_concat")
        if entry:
            where = (f"{100 * entry['sparsity_mean']:.1f} %" if entry["sparsity_mean"] is not None
                     else "never")
            print(f"{experiments.ROLE_NAMES[weight]}: Delta_r < 0 first at {where} "
                  f"({entry['seeds_failed']}/{len(both['per_seed'])} seeds)")
    return paths


def run(args: argparse.Namespace) -> int:
    """Run the experiment described by ``args``; returns 0 on success."""
    start = time.time()
    if args.experiment == "table":
        from tf_expander_pruning.research.experiments.headline import write_headline
        from tf_expander_pruning.research.experiments.tables import write_tables

        print(write_headline(args.out))
        for name, table in write_tables(args.out).items():
            print(f"\n{name}:\n{table}")
        return 0
    config = _config(args)
    paths = []
    if args.experiment in ("stopping-rule", "all"):
        paths += _stopping_rule(args, config)
    if args.experiment in ("curves", "all"):
        paths += _curves(args, config)
    print(f"wrote {len(paths)} files to {args.out} in {time.time() - start:.0f} s")
    return 0
