"""Criterion variants of the stopping-rule study that the constraint's named criteria lack.

:class:`NormalizedMargin` is a margin scaled per layer: ``Delta_r / bound >= margin``.  An
absolute margin means little across layers, because Delta_r grows with the square roots of the
degrees; divided by the bound it does not.  Selected in a stopping-rule method's options with
``normalized_margin=<value>`` (CLI: ``--constraint name:normalized_margin=0.1``).
"""

from __future__ import annotations

import math
from typing import Any

from tf_expander_pruning.core.validation import check_real

__all__ = ["NormalizedMargin", "constraint_options"]


class NormalizedMargin:
    """A ``RamanujanConstraint`` criterion: pass while ``delta_r_normalized >= margin``;
    ``None`` (undefined) when the bound is undefined."""

    def __init__(self, margin: float) -> None:
        self.margin = check_real(margin, "normalized_margin", minimum=-math.inf, maximum=1.0)

    def __call__(self, report: Any) -> bool | None:
        value = getattr(report, "delta_r_normalized", None)
        return None if value is None else value >= self.margin

    def __repr__(self) -> str:
        return f"NormalizedMargin({self.margin:g})"


def constraint_options(option: dict[str, Any]) -> dict[str, Any]:
    """``RamanujanConstraint`` keyword arguments from a method's options: ``normalized_margin``
    becomes a :class:`NormalizedMargin` criterion; everything else passes through."""
    option = dict(option)
    if "normalized_margin" in option:
        if "criterion" in option:
            raise ValueError("Give either `criterion` or `normalized_margin`, not both.")
        option["criterion"] = NormalizedMargin(option.pop("normalized_margin"))
    return option
