"""When did a mask change?  Schedule-step arithmetic plus the wrappers' update counters.

Every pruned matrix has a ``mask_updates`` counter that the wrapper's traced train step bumps
whenever it recomputes that matrix's mask.  Reading the counters costs a few scalar reads, so the
watcher only reads them after batches at which a schedule may have fired: TF-MOT's (and our)
schedules update at ``begin_step + k * frequency`` up to ``end_step``.  Steps are the wrappers'
``pruning_step``, which counts optimizer steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from tf_expander_pruning.pruning.adapter import ModelAdapter, PrunedMatrix, adapter_of

__all__ = ["UpdateWatcher", "schedule_rule"]

Rule = tuple[int, int, int]


def schedule_rule(entry: PrunedMatrix) -> Rule | None:
    """``(begin_step, end_step, frequency)`` of the matrix's schedule, None if not of that form."""
    base = entry.schedule.base_schedule
    try:
        begin, end, frequency = (int(getattr(base, k)) for k in
                                 ("begin_step", "end_step", "frequency"))
    except (AttributeError, TypeError, ValueError):
        return None  # unknown schedule: read the counters after every batch
    return (begin, end, frequency) if frequency > 0 else None


class UpdateWatcher:
    """Tracks the pruning step and reports which matrices' masks changed since the last look."""

    def __init__(self, entries: Sequence[PrunedMatrix], steps_per_batch: int = 1,
                 adapter: ModelAdapter | None = None) -> None:
        self.entries = list(entries)
        self.adapter = adapter or adapter_of(self.entries[0].wrapper)
        self.rules = [schedule_rule(entry) for entry in self.entries]
        self.steps_per_batch = max(1, int(steps_per_batch))
        self.counters = self.read_counters()
        self.step = self.read_step()
        self.last_update: int | None = None  # step of the latest mask change seen

    def recovery_steps(self, per_epoch: int | None, frozen: set[int]) -> int:
        """Steps a mask update needs before it is judged: half the shorter of the update
        interval and the epoch (at least 1)."""
        spans = [rule[2] for i, rule in enumerate(self.rules) if rule and i not in frozen]
        if per_epoch:
            spans.append(int(per_epoch))
        return max(1, min(spans) // 2) if spans else 1

    def read_counters(self) -> list[int]:
        return [entry.update_count() for entry in self.entries]

    def read_step(self) -> int:
        """The wrappers' pruning step (they all advance together): optimizer steps so far."""
        return self.adapter.pruning_step(self.entries)

    def may_update(self, low: int, high: int, frozen: set[int]) -> bool:
        """Could an unfrozen matrix's mask have been updated at a step in [low, high]?"""
        for index, rule in enumerate(self.rules):
            if index in frozen:
                continue
            if rule is None:
                return True
            begin, end, frequency = rule
            first = max(low, begin)
            last = high if end < 0 else min(high, end)
            if first <= last and (first + (-(first - begin) % frequency)) <= last:
                return True
        return False

    def next_update(self, after: int, frozen: set[int]) -> int | None:
        """First step >= ``after`` at which an unfrozen matrix's schedule may fire.

        Returns ``after`` for a schedule of unknown form (it may fire at any step) and None
        when no unfrozen schedule fires again.
        """
        found = None
        for index, rule in enumerate(self.rules):
            if index in frozen:
                continue
            if rule is None:
                return after
            begin, end, frequency = rule
            step = max(after, begin)
            step += -(step - begin) % frequency
            if end >= 0 and step > end:
                continue
            found = step if found is None else min(found, step)
        return found

    def after_batch(self, frozen: set[int]) -> list[int] | None:
        """Indices of unfrozen matrices whose mask changed in the last batch (None: none can have).

        Batches on which no schedule can have fired cost only this arithmetic.  The range
        includes the previous step so an off-by-one in the step estimate cannot hide an update;
        the counters are the ground truth.
        """
        low, self.step = self.step, self.step + self.steps_per_batch
        if not self.may_update(low, self.step, frozen):
            return None
        return self.changed(frozen)

    def changed(self, frozen: set[int]) -> list[int]:
        """Indices of unfrozen matrices whose mask changed since the last look (counters)."""
        counters = self.read_counters()
        changed = [
            index for index, (new, old) in enumerate(zip(counters, self.counters, strict=True))
            if new != old and index not in frozen
        ]
        if counters != self.counters:
            self.last_update = self.read_step()
        self.counters = counters
        self.step = self.read_step()  # resynchronise
        return changed

    def resynchronise(self) -> None:
        """Re-read counters and step (after something restored the wrappers' variables)."""
        self.counters = self.read_counters()
        self.step = self.read_step()
