"""The spectral test the callback runs after each mask update (the guard and the knee search,
judged at the end of each recovery window, are :class:`~.guard.GuardStage`).  It returns the
history records it made and adds the matrices it froze to the shared ``frozen`` set."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tf_expander_pruning.constraint.criterion import Criterion
from tf_expander_pruning.constraint.policy import FreezeKeeper, apply_freeze
from tf_expander_pruning.constraint.records import spectral_record
from tf_expander_pruning.constraint.runner import CheckRunner, across_workers
from tf_expander_pruning.core.layers import mask_sparsity
from tf_expander_pruning.pruning.adapter import PrunedMatrix

__all__ = ["SpectralStage"]

Records = list[dict[str, Any]]


class SpectralStage:
    """Judge changed masks; freeze (and roll back to ``good_mask``) the ones that fail.

    With ``stop=False`` (``spectral="report"``) every verdict is recorded but none freezes:
    the mask that was checked is the next rollback point whatever the verdict."""

    def __init__(self, entries: list[PrunedMatrix], criterion: Criterion, per_gate: bool,
                 restore: bool, keeper: FreezeKeeper, say: Callable[[str], None],
                 stop: bool = True) -> None:
        self.entries, self.criterion, self.restore = entries, criterion, restore
        self.stop = stop
        self.runner = CheckRunner(per_gate)
        self.keeper, self.say = keeper, say
        self.warned: set[str] = set()

    def run(self, model, indices: Iterable[int], step: int, epoch: int,
            frozen: set[int]) -> Records:
        records, failed = [], []
        for index in indices:
            entry = self.entries[index]
            if index in frozen:
                continue
            if not np.all(np.isfinite(entry.weight_array())):
                self.non_finite(entry)
                continue
            rows, worst, failed_at = self.check_one(model, entry, step, epoch)
            if failed_at is not None:
                failed.append((index, failed_at, worst))
            records.extend(rows)
        for index, failed_at, worst in failed:
            self.freeze(index, step, failed_at, worst, frozen)
        return records

    def check_one(self, model, entry: PrunedMatrix, step: int, epoch: int):
        """(records, worst failing (gate, report), sparsity if it failed else None)."""
        mask = entry.mask_array()
        reports = self.runner.gate_reports(entry, mask)
        outcomes = [self.criterion.outcome(report) for _, report in reports]
        rows = [spectral_record(entry, step, epoch, gate, report, outcome)
                for (gate, report), outcome in zip(reports, outcomes, strict=True)]
        any_failed, all_passed = across_workers(
            model, any(o is False for o in outcomes), all(o is True for o in outcomes))
        failing = [item for item, o in zip(reports, outcomes, strict=True) if o is False]
        worst = self.criterion.worst(failing) if failing else None
        if not self.stop:
            entry.keep_as_good()
            return rows, worst, None
        if any_failed:
            for row in rows:
                row.update(frozen=True, stopped_by="spectral")
            return rows, worst, mask_sparsity(mask)
        if all_passed:
            entry.keep_as_good()  # the new rollback point
        return rows, worst, None

    def freeze(self, index: int, step: int, failed_at: float, worst, frozen: set[int]) -> None:
        entry = self.entries[index]
        keep = entry.good_mask_array() if self.restore else None
        apply_freeze(entry, step, keep)
        frozen.add(index)
        self.keeper.remember(index, "spectral")
        kept = mask_sparsity(entry.mask_array())
        if worst is None:  # passed here, failed on another worker (see across_workers)
            self.say(f"{entry.layer}: {entry.role} failed the check on another worker at "
                     f"sparsity {failed_at:.2f}; frozen at {kept:.2f}")
            return
        gate, report = worst
        what, detail = self.criterion.describe_failure(report)
        where = entry.role + (f" gate {gate}" if gate else "")
        self.say(f"{entry.layer}: {where} {what} at sparsity {failed_at:.2f} ({detail}); "
                 f"frozen at {kept:.2f}")

    def non_finite(self, entry: PrunedMatrix) -> None:
        """Weights with NaN/inf (a diverged run): TF-MOT ranks NaN below every threshold, so the
        new mask prunes nearly everything.  Keep the last passing mask, judge nothing, warn once."""
        entry.revert_to_good()
        if entry.name in self.warned:
            return
        self.warned.add(entry.name)
        line = (f"{entry.name}: weights contain NaN or inf (training diverged?); the mask "
                "computed from them was replaced by the last passing mask and not checked. "
                "Lower the learning rate or add keras.callbacks.TerminateOnNaN().")
        self.say(line)
        warnings.warn(line, RuntimeWarning, stacklevel=3)
