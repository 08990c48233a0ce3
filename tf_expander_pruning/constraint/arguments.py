"""Constructor checks for :class:`RamanujanConstraint`: each error names its argument."""

from __future__ import annotations

import math
import numbers
from typing import Any

from tf_expander_pruning.constraint.criterion import CRITERIA, UNDEFINED_POLICIES
from tf_expander_pruning.constraint.decisions import higher_is_better
from tf_expander_pruning.core.cells import check_roles
from tf_expander_pruning.core.validation import (
    check_choice,
    check_flags,
    check_int,
    check_path,
    check_real,
)

__all__ = ["check_arguments", "check_roles", "SPECTRAL_MODES"]

#: ``spectral=``: "stop" freezes a matrix whose graph fails, "report" only records the verdict,
#: "auto" stops only when the guard is off.
SPECTRAL_MODES = ("auto", "stop", "report")


def _check_margin(margin: Any) -> float:
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise TypeError(f"`margin` must be a number, got {type(margin).__name__} {margin!r}.")
    if not math.isfinite(float(margin)):
        raise ValueError(f"`margin` must be a finite number, got {margin!r}.")
    return float(margin)


def _check_criterion(criterion: Any) -> None:
    # isinstance first: an unhashable criterion such as a list would raise a bare TypeError
    if not callable(criterion) and not (isinstance(criterion, str) and criterion in CRITERIA):
        raise ValueError(
            f"Unknown criterion {criterion!r}. Use 'ramanujan' (Delta_r >= margin), "
            "'spectral_gap' (Delta_s >= margin) or a callable taking a SpectralReport and "
            "returning True (pass), False (fail) or None (undefined)."
        )


def _check_max_drop(max_drop: Any, monitor: Any, mode: Any) -> float:
    """An accuracy-like metric lives in [0, 1]: ``max_drop=2`` means 2 %, not 200 points."""
    value = check_real(max_drop, "max_drop", minimum=0.0)
    if value >= 1.0 and higher_is_better(monitor, mode):
        raise ValueError(
            f"`max_drop`={max_drop!r} for monitor={monitor!r}: an accuracy-like metric lies in "
            f"[0, 1], so this tolerance can never be exceeded and the guard would be off. "
            f"max_drop is a fraction: for {value:g} % pass max_drop={value / 100:g}."
        )
    return value


def check_arguments(args: dict[str, Any]) -> dict[str, Any]:
    """Validated and normalised constructor arguments (same keys)."""
    _check_criterion(args["criterion"])
    if not isinstance(args["undefined"], str) or args["undefined"] not in UNDEFINED_POLICIES:
        raise ValueError(
            f"Unknown undefined={args['undefined']!r}. Use 'fail' (an undefined bound freezes "
            "the matrix), 'pass' (it counts as passing) or 'skip'/'ignore' (keep pruning "
            "without moving the rollback point)."
        )
    if isinstance(args["verbose"], bool) or not isinstance(args["verbose"], numbers.Integral):
        raise TypeError(f"`verbose` must be 0, 1 or 2, got {args['verbose']!r}.")
    check_flags(
        per_gate=args["per_gate"], restore_last_good_mask=args["restore_last_good_mask"],
        stop_training_when_all_frozen=args["stop_training_when_all_frozen"],
    )
    guard = args["guard"]
    if guard is not None and not isinstance(guard, bool):
        raise TypeError(
            f"`guard` must be True (validation guard on), False or None (the paper's spectral "
            f"rule alone), got {guard!r}."
        )
    if not isinstance(args["monitor"], str) or not args["monitor"]:
        raise TypeError(
            f"`monitor` must be the name of a logged metric such as 'val_accuracy' or "
            f"'val_loss', got {args['monitor']!r}."
        )
    check_choice(args["mode"], "mode", ("auto", "max", "min"))
    check_choice(args["spectral"], "spectral", SPECTRAL_MODES)
    if args["spectral"] == "report" and not guard:
        raise ValueError(
            "spectral='report' with guard=None: nothing would ever stop pruning. Use "
            "spectral='stop' (or 'auto') for the paper's rule, or guard=True."
        )
    out = dict(args)
    out.update(
        margin=_check_margin(args["margin"]),
        roles=check_roles(args["roles"]),
        undefined="skip" if args["undefined"] == "ignore" else args["undefined"],
        verbose=int(check_int(args["verbose"], "verbose", minimum=0)),
        log_dir=check_path(args["log_dir"], "log_dir"),
        csv_path=check_path(args["csv_path"], "csv_path"),
        guard=bool(guard),
        max_drop=_check_max_drop(args["max_drop"], args["monitor"], args["mode"]),
        min_step=check_real(args["min_step"], "min_step", minimum=0.0, maximum=1.0,
                            open_interval=True),
        max_retries=check_int(args["max_retries"], "max_retries", minimum=0),
        patience=check_int(args["patience"], "patience", minimum=0, maximum=1),
        noise_margin=check_real(args["noise_margin"], "noise_margin", minimum=0.0, maximum=5.0),
        max_loss_rise=check_real(args["max_loss_rise"], "max_loss_rise", minimum=0.0,
                                 maximum=100.0, open_interval=True, allow_none=True),
        baseline=check_real(args["baseline"], "baseline", allow_none=True),
    )
    for flag in ("per_gate", "restore_last_good_mask", "stop_training_when_all_frozen"):
        out[flag] = bool(args[flag])
    return out
