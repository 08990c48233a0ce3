"""TFLM's smallest arena: one child process runs the whole binary search and logs each probe;
a probe that crashes the child counts as "too small" and a new child goes on from the log.
Checked against the search with one process per probe (the method before)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from tf_expander_pruning.export import arena_search, runtimes

from tf_expander_pruning import datasets, export

RESOLUTION = 16


def _search(works, model_bytes: int = 0) -> int:
    """The package's search (the one state machine the parent and the child share)."""
    return arena_search.run(arena_search.start(model_bytes, resolution=RESOLUTION), works)["high"]


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_search_equals_one_process_per_probe(quantization):
    from tf_expander_pruning.keras_compat import keras

    x = datasets.load("digits", "train")[0][:50]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.GRU(16),
                              keras.layers.Dense(10)])
    data = export.to_tflite(model, quantization=quantization, representative_data=x)
    sample = np.zeros((1, 8, 8), np.int8 if quantization == "int8" else np.float32)
    measured = export.measure_tflm_arena(data, sample)
    assert measured == export.measure_tflm_arena(data, sample, one_process_per_probe=True)
    assert measured % RESOLUTION == 0 or measured == max(4096, 4 * len(data))


# A stand-in TFLM: arenas below CRASH abort the process, below FITS raise, others work.
CRASH, FITS = 2_600, 3_000
STAND_IN = f"""
import json, os, runpy, sys
child = runpy.run_path({str(Path(runtimes.__file__).with_name("runtime_child.py"))!r})

def fake_run(cfg, model, inputs, masks, arena):
    if arena < {CRASH}:
        os.abort()
    if arena < {FITS}:
        raise RuntimeError("arena too small")
    return []

child["_search"].__globals__["_run"] = fake_run
child["_search"](json.load(open(sys.argv[1])), b"", [None], [None])
"""


def test_crashing_probes_count_as_too_small_and_the_search_goes_on(monkeypatch):
    started = []
    real_run = subprocess.run

    def counting_run(*args, **kwargs):
        started.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(runtimes, "_RUNTIME_CHILD", STAND_IN)
    monkeypatch.setattr(runtimes.subprocess, "run", counting_run)
    data = b"\0\0\0\0TFL3" + bytes(200)  # 4 x 208 < 4096: the search starts at 4096
    measured = export.measure_tflm_arena(data, np.zeros((1, 2), np.float32))
    assert measured == _search(lambda arena: arena >= FITS) == 3008
    assert len(started) == 3  # probes 2048 and 2560 crashed a child each; a third finished


def test_one_process_per_probe_is_a_flag():
    with pytest.raises(TypeError, match="one_process_per_probe"):
        export.measure_tflm_arena(b"\0\0\0\0TFL3", np.zeros((1, 2), np.float32),
                                  one_process_per_probe="yes")


def test_replay_of_a_probe_log():
    start = {"low": 0, "high": 4096, "high_works": False, "resolution": 16}
    # growth: 4096 crashed (a "try" with no outcome), 16384 fails, 65536 works
    state = runtimes.replay_probe_log(start, ["try 4096", "try 16384", "fail 16384",
                                              "try 65536", "ok 65536"])
    assert (state["low"], state["high"], state["high_works"]) == (0, 65536, True)
    state = runtimes.replay_probe_log(start, ["try 4096", "ok 4096", "try 2048", "ok 2048",
                                              "try 1024"])  # the last probe crashed
    assert (state["low"], state["high"], state["high_works"]) == (1024, 2048, True)
    assert not runtimes.search_finished(state)
    assert runtimes.search_finished({**state, "low": 2032})


@pytest.mark.parametrize("fits", [1, 16, 17, 1000, 3000, 4096, 4097, 50_000, 1 << 20])
def test_the_search_ends_at_the_smallest_working_arena(fits):
    """Against a brute-force answer, not a second copy of the search: the result works and
    the arena one resolution step below it does not."""
    probes = []

    def works(arena):
        probes.append(arena)
        return arena >= fits

    found = _search(works)
    assert found >= fits and (found - RESOLUTION < fits or found == probes[0])
    assert all(arena % RESOLUTION == 0 for arena in probes)
    assert len(probes) <= 30


def test_nothing_works_up_to_the_limit():
    state = arena_search.run(arena_search.start(100, limit=1 << 20), lambda arena: False)
    assert arena_search.gave_up(state) and not arena_search.finished(state)
    assert arena_search.next_probe(state) is None


def test_the_log_replays_to_the_same_state_and_a_crash_is_a_failure(tmp_path):
    """What the parent does: replay a child's log; a child stopped early (``max_probes``) or
    killed mid-probe is continued from the replayed state and ends where one run ends."""
    start = arena_search.start(0)
    fits = 2_700
    log = tmp_path / "probes.log"
    with open(log, "w") as stream:
        whole = arena_search.run(start, lambda arena: arena >= fits, log=stream)
    assert arena_search.replay(start, log.read_text().splitlines()) == whole

    with open(log, "w") as stream:  # a child allowed 3 probes
        arena_search.run(start, lambda arena: arena >= fits, log=stream, max_probes=3)
    lines = log.read_text().splitlines()
    assert len(lines) == 6
    crashed = lines[:-1]  # the third probe's outcome never written: the child died
    state = arena_search.replay(start, crashed)
    assert state == arena_search.record(arena_search.replay(start, lines[:4]),
                                        int(lines[4].split()[1]), False)
    state = arena_search.replay(start, lines)
    assert arena_search.run(state, lambda arena: arena >= fits) == whole


def test_the_runtime_child_runs_the_shared_state_machine(tmp_path):
    """runtime_child loads arena_search.py by path (no package import) and logs its probes."""
    import json
    import runpy

    child = runpy.run_path(str(Path(runtimes.__file__).with_name("runtime_child.py")))
    assert child["_arena_search"]().run.__code__.co_filename == arena_search.__file__
    fits = 5_000
    child["_search"].__globals__["_run"] = lambda cfg, model, inputs, masks, arena: (
        None if arena >= fits else 1 / 0)
    state = {**arena_search.start(0), "log": str(tmp_path / "log"), "max_probes": None}
    child["_search"]({"search": state}, b"", [None], [None])
    replayed = runtimes.replay_probe_log(state, (tmp_path / "log").read_text().splitlines())
    assert runtimes.search_finished(replayed)
    assert replayed["high"] == _search(lambda arena: arena >= fits)
    json.dumps(replayed)  # the state the parent hands to the next child stays JSON
