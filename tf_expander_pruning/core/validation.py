"""The one place for argument checks: each raises TypeError or ValueError naming the argument.

Pure Python and NumPy; no TensorFlow.  ``bool`` is never accepted as a number (``True`` is an
``int`` in Python, and ``frequency=True`` is a mistake, not 1).
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np

__all__ = ["check_flag", "check_flags", "check_int", "check_real", "check_choice", "check_path"]


def check_flag(value: Any, name: str) -> bool:
    """``value`` must be True or False (a string such as ``"no"`` is truthy: refuse it)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


def check_flags(**flags: Any) -> None:
    """:func:`check_flag` on each keyword argument."""
    for name, value in flags.items():
        check_flag(value, name)


def _is_int(value: Any) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_int(value: Any, name: str, *, minimum: int | None = None,
              maximum: int | None = None, allow_none: bool = False) -> int | None:
    """An integer (not bool) within ``[minimum, maximum]``; ``None`` passes with ``allow_none``."""
    if value is None and allow_none:
        return None
    if not _is_int(value):
        raise TypeError(f"`{name}` must be an integer, got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}.")
    return int(value)


def check_real(value: Any, name: str, *, minimum: float | None = None,
               maximum: float | None = None, open_interval: bool = False,
               allow_none: bool = False) -> float | None:
    """A finite real number (not bool) within the bounds (exclusive with ``open_interval``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating,
                                                                      np.integer)):
        raise TypeError(f"`{name}` must be a number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value}.")
    low_bad = minimum is not None and (value <= minimum if open_interval else value < minimum)
    high_bad = maximum is not None and (value >= maximum if open_interval else value > maximum)
    if low_bad or high_bad:
        low = "(" if open_interval else "["
        high = ")" if open_interval else "]"
        raise ValueError(f"`{name}` must be in {low}{minimum}, {maximum}{high}, got {value}.")
    return value


def check_choice(value: Any, name: str, choices) -> Any:
    """``value`` must be one of ``choices``."""
    if value not in tuple(choices):
        options = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}.")
    return value


def check_path(value: Any, name: str, *, allow_none: bool = True) -> str | None:
    """A file-system path given as ``str`` or ``os.PathLike`` (not a number: ``5`` is a mistake)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"`{name}` must be a path (str or pathlib.Path), got {type(value).__name__} {value!r}."
        )
    path = os.fspath(value)
    if not path:
        raise ValueError(f"`{name}` must not be an empty path.")
    return path
