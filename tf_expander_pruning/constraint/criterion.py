"""The spectral test: which report field must clear the margin, and what "undefined" means.

One :class:`Criterion` decides pass/fail for a :class:`SpectralReport` and ranks reports by how
far they are from passing *on that criterion* (``Delta_s`` for ``"spectral_gap"``), so the log
and the summary name the graph that really failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tf_expander_pruning.analysis.spectral import SpectralReport

__all__ = ["CRITERIA", "UNDEFINED_POLICIES", "Criterion"]

#: Named criteria: which report field must be >= ``margin``.
CRITERIA = {"ramanujan": "delta_r", "spectral_gap": "delta_s"}

#: What to do with a graph whose criterion is undefined (average degree < 3, empty graph).
UNDEFINED_POLICIES = ("fail", "pass", "skip", "ignore")

_WORDS = {"ramanujan": "the Ramanujan property", "spectral_gap": "its spectral gap"}
_SYMBOL = {"delta_r": "Delta_r", "delta_s": "Delta_s"}


class Criterion:
    """A named criterion (``"ramanujan"``, ``"spectral_gap"``) or a callable on a report.

    A callable returns True (pass), False (fail) or None (undefined); it is ranked by
    ``Delta_r`` since it has no field of its own.
    """

    def __init__(
        self,
        criterion: str | Callable[[SpectralReport], bool | None],
        margin: float,
        undefined: str,
    ) -> None:
        self.criterion = criterion
        self.margin = float(margin)
        self.undefined = "skip" if undefined == "ignore" else undefined

    @property
    def field(self) -> str:
        """Report field the criterion reads (``delta_r`` for a callable: used for ranking)."""
        return "delta_r" if callable(self.criterion) else CRITERIA[self.criterion]

    @property
    def name(self) -> str:
        if callable(self.criterion):
            return getattr(self.criterion, "__name__", "callable")
        return self.criterion

    def verdict(self, report: SpectralReport) -> bool | None:
        """True pass, False fail, None undefined (before the ``undefined`` policy)."""
        if callable(self.criterion):
            result = self.criterion(report)
            return None if result is None else bool(result)
        value = getattr(report, self.field)
        if value is None or (self.criterion == "ramanujan" and report.bound is None):
            return None
        if self.criterion == "ramanujan" and (report.components or 0) > 1:
            return False  # not an expander, whatever Delta_r says (docs/constraint.md)
        return bool(value >= self.margin)

    def outcome(self, report: SpectralReport) -> bool | None:
        """The verdict after the ``undefined`` policy: None only under ``"skip"``."""
        verdict = self.verdict(report)
        if verdict is not None:
            return verdict
        return {"fail": False, "pass": True, "skip": None}[self.undefined]

    def badness(self, report: SpectralReport) -> tuple[Any, ...]:
        """Sort key, smallest = furthest from passing: failed, then undefined, then by value."""
        verdict = self.verdict(report)
        value = getattr(report, self.field)
        rank = 0 if verdict is False else (1 if verdict is None else 2)
        return (rank, value is not None, value if value is not None else 0.0)

    def worst(self, reports: Sequence[tuple[Any, SpectralReport]]) -> tuple[Any, SpectralReport]:
        """The ``(gate, report)`` furthest from passing under this criterion."""
        return min(reports, key=lambda item: self.badness(item[1]))

    def describe_failure(self, report: SpectralReport) -> tuple[str, str]:
        """(what failed, detail) for a freeze line: ("lost its spectral gap", "Delta_s=-0.10")."""
        if callable(self.criterion):
            what = f"failed the criterion {self.name}"
        else:
            what = "lost " + _WORDS[self.criterion]
        field = self.field
        value = getattr(report, field)
        if value is None or (field == "delta_r" and report.bound is None):
            detail = f"{_SYMBOL[field]} undefined: {report.undefined_reason or 'no bound'}"
        else:
            detail = f"{_SYMBOL[field]}={value:.2f}"
        return what, detail
