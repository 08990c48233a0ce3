"""The one quantization vocabulary of ``export.to_tflite``, ``codegen.to_c``, the CLI and reports.

Pure Python; no TensorFlow.  Every function that takes a ``quantization`` (or a list of them)
passes it through :func:`normalize_quantization`, and every report and table prints these
spellings, so that a value read from a report can be passed back as an argument.

===================  ======================================================================
``"float32"``        float weights and arithmetic (TFLite and C)
``"dynamic"``        int8 weights, float activations (TFLite only)
``"float16"``        float16 weights (TFLite only; LiteRT runs it, TFLM does not)
``"int8"``           int8 weights; full-integer TFLite, or C with per-row scales and float
                     gates (cores with an FPU)
``"int8-integer"``   C without any floating point (``to_c(..., integer_only=True)``)
===================  ======================================================================

:func:`~tf_expander_pruning.deployment.export.quantization_of` also reports
``"weights-int8"`` (:data:`STORED_FORMS`): a flatbuffer whose int8 weights only feed
``DEQUANTIZE`` ops, which is what ``"dynamic"`` makes of a fused LSTM.

Old spellings (``None`` and ``"fp32"`` for ``"float32"``) still work and raise a
:class:`DeprecationWarning` naming the new one.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["QUANTIZATIONS", "TFLITE_QUANTIZATIONS", "C_QUANTIZATIONS", "STORED_FORMS",
           "DEPRECATED_SPELLINGS", "normalize_quantization", "normalize_quantizations"]

#: Every quantization an export function takes, in the canonical spelling.
QUANTIZATIONS = ("float32", "dynamic", "float16", "int8", "int8-integer")
#: What ``export.to_tflite`` takes.
TFLITE_QUANTIZATIONS = ("float32", "dynamic", "float16", "int8")
#: What ``codegen.to_c`` and ``codegen.verify`` take.
C_QUANTIZATIONS = ("float32", "int8", "int8-integer")
#: What ``export.quantization_of`` reads from a flatbuffer (and TFLite reports print).
STORED_FORMS = ("float32", "dynamic", "float16", "weights-int8", "int8")
#: Old spelling -> canonical spelling (accepted with a DeprecationWarning).
DEPRECATED_SPELLINGS = {None: "float32", "fp32": "float32"}

_PACKAGE = str(Path(__file__).parents[1])


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside this package (the user's call)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def normalize_quantization(value: Any, argument: str = "quantization",
                           choices: Sequence[str] = QUANTIZATIONS) -> str:
    """The canonical spelling of ``value``, one of ``choices``.

    ``None`` and ``"fp32"`` give ``"float32"`` with a :class:`DeprecationWarning` (attributed to
    the first caller outside this package) that names ``argument`` and the new spelling.

    Raises:
        ValueError: ``value`` is not a known spelling, or not one of ``choices``; the message
            names ``argument`` and lists ``choices``.
    """
    choices = tuple(choices)
    hashable = value is None or isinstance(value, str)
    if hashable and value in DEPRECATED_SPELLINGS:
        new = DEPRECATED_SPELLINGS[value]
        warnings.warn(f"`{argument}={value!r}` is deprecated; use `{argument}={new!r}` (the "
                      "same thing).", DeprecationWarning, stacklevel=_caller_stacklevel())
        value = new
    if not hashable or value not in choices:
        options = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"`{argument}` must be one of {options}, got {value!r}.")
    return value


def normalize_quantizations(values: Any, argument: str = "quantizations",
                            choices: Sequence[str] = QUANTIZATIONS) -> tuple[str, ...]:
    """:func:`normalize_quantization` on each of ``values`` (a sequence, not a string)."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"`{argument}` must be a list or tuple of quantizations, got "
                        f"{values!r}.")
    return tuple(normalize_quantization(value, argument, choices) for value in values)
