"""``tf-expander`` command line: one sub-command per module in ``tf_expander_pruning.cli.commands``.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tf_expander_pruning.core.extras import MissingExtraError

# Sub-command name -> module under tf_expander_pruning.cli.commands.
COMMANDS = {
    "inspect": "inspect",
    "export": "export",
    "codegen": "codegen",
    "reproduce": "reproduce",
    "kws": "kws",
}


def _load(module_name: str):
    return importlib.import_module(f"tf_expander_pruning.cli.commands.{module_name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tf-expander",
        description="Prune recurrent Keras models while their weight graphs stay Ramanujan "
        "expanders; inspect, export and reproduce.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = _load(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, OSError, MissingExtraError) as error:
        print(f"tf-expander {args.command}: error: {error}", file=sys.stderr)
        return 1

