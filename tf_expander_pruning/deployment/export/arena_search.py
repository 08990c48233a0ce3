"""The TFLM arena search as one state machine, used by the parent and by the runtime child.

Standard library only and no package import: :mod:`.runtime_child` (which runs without the
package) loads this file by its path, :mod:`.runtimes` imports it.  The search finds the
smallest ``arena_size`` (to ``resolution`` bytes) with which TFLM allocates and runs a model:

1. **grow**: try ``high`` (from :func:`start`); while it fails, ``high *= 4`` (give up above
   ``limit``);
2. **halve**: try ``mid = (low + high) // 2`` rounded down to ``resolution``; a working ``mid``
   becomes ``high``, a failing one ``low``; stop when ``high - low <= resolution`` or ``mid``
   cannot move.

The state is a JSON-safe dict (``low``, ``high``, ``high_works``, ``resolution``, ``limit``), so
the parent can hand it to a child.  A too-small arena may segfault TFLM, so every probe is
logged before it starts (``try N``) and after (``ok N`` / ``fail N``); :func:`replay` rebuilds the
state from such a log, counting a ``try`` without an outcome (the child died) as a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import IO

__all__ = ["start", "next_probe", "record", "finished", "gave_up", "replay", "run"]


def start(model_bytes: int, *, resolution: int = 16, limit: int = 1 << 30) -> dict:
    """The state before any probe: ``high`` = max(4096, 4 x the flatbuffer size)."""
    return {"low": 0, "high": max(4096, 4 * int(model_bytes)), "high_works": False,
            "resolution": int(resolution), "limit": int(limit)}


def next_probe(state: dict) -> int | None:
    """The arena to try next, or ``None``: the search is over (:func:`finished` or
    :func:`gave_up`)."""
    if not state["high_works"]:
        return None if gave_up(state) else state["high"]
    low, high, resolution = state["low"], state["high"], state["resolution"]
    mid = (low + high) // 2 // resolution * resolution
    if high - low <= resolution or mid <= low:
        return None
    return mid


def record(state: dict, arena: int, ok: bool) -> dict:
    """The state after the probe ``arena`` worked (``ok``) or failed (also: crashed)."""
    state = dict(state)
    if ok:
        state["high"], state["high_works"] = arena, True
    elif not state["high_works"]:
        state["high"] = arena * 4  # grow
    else:
        state["low"] = arena
    return state


def finished(state: dict) -> bool:
    """``state["high"]`` is the answer."""
    return state["high_works"] and next_probe(state) is None


def gave_up(state: dict) -> bool:
    """Nothing up to ``limit`` worked (a state without ``limit`` never gives up)."""
    limit = state.get("limit")
    return not state["high_works"] and limit is not None and state["high"] > limit


def replay(state: dict, log_lines: Iterable[str]) -> dict:
    """The state after the logged probes; a ``try`` without an outcome crashed: a failure."""
    pending = None
    for line in log_lines:
        word, _, value = line.strip().partition(" ")
        if word == "try":
            if pending is not None:
                state = record(state, pending, False)
            pending = int(value)
        elif word in ("ok", "fail"):
            state = record(state, int(value), word == "ok")
            pending = None
    if pending is not None:
        state = record(state, pending, False)
    return state


def run(state: dict, works: Callable[[int], bool], *, log: IO[str] | None = None,
        max_probes: int | None = None) -> dict:
    """Probe ``works(arena)`` until the search is over (or ``max_probes`` probes were made);
    the final state.  An exception from ``works`` counts as a failure; with ``log``, each probe
    is written (and flushed) before it starts and after it ends."""
    probes = 0
    while (arena := next_probe(state)) is not None and probes != max_probes:
        probes += 1
        if log is not None:
            log.write(f"try {arena}\n")
            log.flush()
        try:
            ok = bool(works(arena))
        except Exception:  # a too-small arena raises (or kills the process: see replay)
            ok = False
        if log is not None:
            log.write(f"{'ok' if ok else 'fail'} {arena}\n")
            log.flush()
        state = record(state, arena, ok)
    return state
