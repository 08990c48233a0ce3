"""Argument and data checks of the tuner: each error names the argument and says what to do.

Built on :mod:`tf_expander_pruning.core.validation`; what is added here is the meaning of each
search-space choice, appended to the core message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tf_expander_pruning.core.cells import kind_by_key
from tf_expander_pruning.core.validation import check_choice, check_int, check_real

__all__ = [
    "CELLS", "ROLE_CHOICES", "BASELINES", "explained", "check_choices", "check_cell",
    "check_units", "check_rate", "check_updates", "check_role_choice", "check_tolerance",
    "check_baseline", "check_data",
]

#: Cell type choices -> tf_keras layer class name (a view of :data:`core.cells.CELL_KINDS`).
CELLS = {key: kind_by_key(key).layer for key in ("lstm", "gru", "simplernn")}

#: ``roles`` choice -> weight roles pruned (and checked by the constraint).
ROLE_CHOICES = {"W_xh+W_hh": ("W_xh", "W_hh"), "W_xh": ("W_xh",), "W_hh": ("W_hh",)}

#: ``baseline`` names (a number is also accepted: an accuracy you already know).
BASELINES = ("reference", "trial")


def explained(check: Callable[[], Any], hint: str) -> Any:
    """Run ``check()``; re-raise its TypeError/ValueError with ``hint`` appended."""
    try:
        return check()
    except (TypeError, ValueError) as error:
        raise type(error)(f"{error} {hint}") from None


def check_choices(name: str, values: Any, check: Callable[[Any], Any]) -> tuple:
    """A non-empty tuple of distinct choices, each passed through ``check`` (one value is fine)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        values = (values,)
    values = tuple(check(value) for value in values)
    if not values:
        raise ValueError(f"`{name}` is empty: give at least one choice.")
    if len(set(values)) != len(values):
        raise ValueError(f"`{name}` has repeated choices: {list(values)}.")
    return values


def check_cell(value: Any) -> str:
    if value not in CELLS:
        raise ValueError(f"Unknown cell {value!r} in `cells`; choose from {tuple(CELLS)}.")
    return value


def check_units(value: Any) -> int:
    return explained(lambda: check_int(value, "units", minimum=1),
                     "`units` choices are recurrent layer sizes.")


def check_rate(value: Any) -> float:
    return explained(
        lambda: check_real(value, "rates", minimum=0, maximum=1, open_interval=True),
        "`rates` choices are the fraction of remaining weights removed per mask update.",
    )


def check_updates(value: Any) -> int:
    return explained(lambda: check_int(value, "updates_per_epoch", minimum=1),
                     "`updates_per_epoch` choices are mask updates per epoch.")


def check_role_choice(value: Any) -> str:
    return explained(
        lambda: check_choice(value, "roles", ROLE_CHOICES),
        "(W_xh = kernel, input -> hidden; W_hh = recurrent_kernel, hidden -> hidden).",
    )


def check_tolerance(tolerance: Any) -> float:
    """The allowed accuracy drop, in [0, 1)."""
    hint = "`tolerance` is the accuracy drop allowed below the dense baseline (0.02 = two points)."
    value = explained(lambda: check_real(tolerance, "tolerance", minimum=0, maximum=1), hint)
    if value >= 1:
        raise ValueError(f"`tolerance` must be below 1, got {value}. {hint}")
    return value


def check_baseline(baseline: Any) -> str | float:
    """``"reference"``, ``"trial"`` or an accuracy in (0, 1]."""
    message = f"`baseline` must be 'reference', 'trial' or an accuracy in (0, 1]; got {baseline!r}."
    if isinstance(baseline, str):
        if baseline not in BASELINES:
            raise ValueError(message)
        return baseline
    try:
        value = check_real(baseline, "baseline", minimum=0, maximum=1)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if value == 0:
        raise ValueError(message)
    return value


def check_data(x: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Float32 ``(samples, time, features)`` and int64 labels, or a clear error."""
    try:
        x = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(
            f"`x_{what}` must be an array of shape (samples, time, features), got "
            f"{type(x).__name__}."
        ) from None
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(
            f"`x_{what}` must have shape (samples, time, features) with samples > 0; got "
            f"shape {x.shape}."
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        raise ValueError(
            f"`y_{what}` must be integer class labels of shape (samples,), got shape {y.shape} "
            f"and dtype {y.dtype} (one-hot labels: pass y.argmax(-1))."
        )
    if len(y) != len(x):
        raise ValueError(f"`x_{what}` has {len(x)} samples but `y_{what}` has {len(y)} labels.")
    if y.min() < 0:
        raise ValueError(f"`y_{what}` has negative labels; use classes 0..n-1.")
    return x, y.astype(np.int64)
