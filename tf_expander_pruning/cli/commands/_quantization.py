"""The ``--quantization`` option of ``export`` and ``codegen``: the one vocabulary of
:mod:`tf_expander_pruning.core.quantization` (no TensorFlow at argument-parsing time)."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence

from tf_expander_pruning.core.quantization import DEPRECATED_SPELLINGS, normalize_quantization

__all__ = ["add_quantization_option"]


def _parse(choices: Sequence[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        """The canonical spelling; an old one ("fp32") is accepted with a warning on stderr."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            try:
                canonical = normalize_quantization(value, "--quantization", choices)
            except ValueError as error:
                raise argparse.ArgumentTypeError(str(error)) from None
        if caught:
            print(f"tf-expander: warning: --quantization {value} is deprecated; use "
                  f"--quantization {canonical} (the same thing).", file=sys.stderr)
        return canonical

    parse.__name__ = "quantization"
    return parse


def add_quantization_option(parser: argparse.ArgumentParser, choices: Sequence[str],
                            default: str, help: str) -> None:  # noqa: A002 (argparse's name)
    """``--quantization {choices}``; the old spellings of :data:`DEPRECATED_SPELLINGS` still
    parse (with a warning) but are not listed."""
    old = ", ".join(repr(key) for key in DEPRECATED_SPELLINGS if isinstance(key, str))
    parser.add_argument("--quantization", default=default, type=_parse(tuple(choices)),
                        metavar="{" + ",".join(choices) + "}",
                        help=f"{help} (default: {default}; deprecated: {old})")
