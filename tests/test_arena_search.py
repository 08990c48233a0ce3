"""TFLM's smallest arena: one child process runs the whole binary search and logs each probe;
a probe that crashes the child counts as "too small" and a new child goes on from the log.
Checked against the search with one process per probe (the method before)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tf_expander_pruning import datasets, export
from tf_expander_pruning.deployment.export import runtimes

RESOLUTION = 16


def _plain_search(works, start: int, resolution: int = RESOLUTION) -> int:
    """The binary search with an independent oracle ``works(arena)``."""
    high = start
    while not works(high):
        high *= 4
    low = 0
    while high - low > resolution:
        mid = (low + high) // 2 // resolution * resolution
        if mid <= low:
            break
        if works(mid):
            high = mid
        else:
            low = mid
    return high


@pytest.mark.slow
@pytest.mark.parametrize("quantization", [None, "int8"])
def test_search_equals_one_process_per_probe(quantization):
    from tf_expander_pruning.keras_compat import keras

    x = datasets.load("digits", "train")[0][:50]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.GRU(16),
                              keras.layers.Dense(10)])
    data = export.to_tflite(model, quantization=quantization, representative_data=x)
    sample = np.zeros((1, 8, 8), np.int8 if quantization else np.float32)
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
    assert measured == _plain_search(lambda arena: arena >= FITS, 4096)
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
