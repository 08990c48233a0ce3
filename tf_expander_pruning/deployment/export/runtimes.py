"""Running a flatbuffer in LiteRT or TFLM (child processes) and finding TFLM's smallest arena.

TFLM segfaults when the arena is too small, and measuring the smallest arena that works means
trying arenas that are too small: the search runs in a child process that logs each probe, and a
new child goes on after a crash.  Both processes run the one state machine of
:mod:`.arena_search` (the child loads it by path, this module imports it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tf_expander_pruning.core.extras import require_installed
from tf_expander_pruning.core.validation import check_flag
from tf_expander_pruning.deployment.export import arena_search
from tf_expander_pruning.deployment.export.children import (
    CHILD_TIMEOUT_S,
    child_env,
    run_child,
    script_source,
    tail,
)
from tf_expander_pruning.deployment.export.errors import ExportError
from tf_expander_pruning.deployment.export.flatbuffer import check_bytes

__all__ = ["run_runtime", "measure_tflm_arena", "replay_probe_log", "search_finished"]

_RUNTIME_CHILD = script_source("runtime_child.py")


def _json_safe(plan: dict | None) -> dict | None:
    """The JSON-safe part of a stream or mask plan (tensor infos with NumPy dtypes stay here)."""
    if plan is None:
        return None
    return {key: value for key, value in plan.items() if not key.endswith("_info")}


#: The package each runtime needs (the [deploy] extra); the child process imports it.
_RUNTIME_MODULES = {"tflm": "tflite_micro", "litert": "ai_edge_litert"}


def _config(tmp: str, runtime: str, mode: str, arena: int | None, stream, masks,
            mask_plan) -> dict:
    require_installed(_RUNTIME_MODULES[runtime], extra="deploy", feature=f"runtime={runtime!r}")
    return {
        "model": os.path.join(tmp, "m.tflite"),
        "inputs": os.path.join(tmp, "x.npy"),
        "masks": None if masks is None else os.path.join(tmp, "mask.npy"),
        "out": os.path.join(tmp, "y.npy"),
        "runtime": runtime,
        "mode": mode,
        "arena": arena or 0,
        "stream": _json_safe(stream),
        "mask_inputs": _json_safe(mask_plan),
    }


def _write(cfg: dict, data: bytes, batches: np.ndarray, masks) -> None:
    Path(cfg["model"]).write_bytes(data)
    np.save(cfg["inputs"], batches)
    if masks is not None:
        np.save(cfg["masks"], masks)


_RUN_HINT = {
    False: "The runtime's own message is below; export.list_ops(tflite_bytes) lists the "
           "flatbuffer's ops and export.quantization_of(tflite_bytes) its quantisation.",
    True: "TFLM's own message is below (e.g. 'Dynamic tensors are not supported': an op whose "
          "output shape is not fixed). export.list_ops(tflite_bytes) lists the flatbuffer's "
          "ops; to_tflite(..., streaming=True) writes SimpleRNN/LSTM/GRU as a one-step graph of "
          "FULLY_CONNECTED, ADD, MUL, LOGISTIC and TANH that TFLM allocates.",
}


def run_runtime(data: bytes, batches: np.ndarray, runtime: str, arena: int | None,
                stream: dict | None = None, masks: np.ndarray | None = None,
                mask_plan: dict | None = None) -> np.ndarray:
    """Raw outputs of every batch of ``batches`` (already in the model's input dtype).

    ``masks`` ``(batches, batch, T)``: the ``mask`` input of a masked-sequence model
    (``mask_plan``), or for a streaming model the frames to feed (0 = padding, skipped).
    """
    with tempfile.TemporaryDirectory(prefix="tfexp_rt_") as tmp:
        cfg = _config(tmp, runtime, "run", arena, stream, masks, mask_plan)
        _write(cfg, data, batches, masks)
        Path(tmp, "cfg.json").write_text(json.dumps(cfg))
        run_child(
            _RUNTIME_CHILD,
            [os.path.join(tmp, "cfg.json")],
            what=f"Running the model in {'TFLM' if runtime == 'tflm' else 'LiteRT'}",
            hint=_RUN_HINT[runtime == "tflm"],
        )
        return np.load(cfg["out"])


#: Children one arena search may use: a segfaulting probe ends a child, the next goes on.
#: (A search makes about 10-40 probes: growth by 4x from 4 x the model size, then halving.)
_MAX_SEARCH_CHILDREN = 128


#: The search state after a probe log (a "try" without an outcome crashed: a failure), and
#: whether it is over: the one state machine of :mod:`.arena_search`, which the child runs.
replay_probe_log = arena_search.replay
search_finished = arena_search.finished


def measure_tflm_arena(tflite_bytes: bytes, sample: np.ndarray, *, resolution: int = 16,
                       stream: dict | None = None, mask: np.ndarray | None = None,
                       mask_plan: dict | None = None,
                       one_process_per_probe: bool = False) -> int:
    """Smallest TFLM ``arena_size`` (bytes, to ``resolution``) that allocates and runs once.

    Binary search in a child process, because TFLM may segfault on a short arena: the child
    logs each probe, and after a segfault a new child goes on from the logged state (one child
    for the whole search when nothing crashes).  ``sample`` is one input batch in the
    flatbuffer's input dtype (for a streaming model, ``stream`` is its
    :func:`~.streaming.stream_plan` and ``sample`` a ``(batch, T, F)`` batch; a masked-sequence
    model also needs its ``mask`` batch and ``mask_plan``).  ``one_process_per_probe=True``
    gives every probe a fresh process (slower; nothing a failed probe left behind can touch the
    next one).
    """
    check_flag(one_process_per_probe, "one_process_per_probe")
    data = check_bytes(tflite_bytes)
    with tempfile.TemporaryDirectory(prefix="tfexp_arena_") as tmp:
        cfg = _config(tmp, "tflm", "search", None, stream, mask, mask_plan)
        _write(cfg, data, sample[None], None if mask is None else mask[None])
        log = os.path.join(tmp, "probes.log")
        start = {**arena_search.start(len(data), resolution=resolution), "log": log,
                 "max_probes": 1 if one_process_per_probe else None}
        state = start
        for _ in range(_MAX_SEARCH_CHILDREN):
            Path(tmp, "search.json").write_text(json.dumps({**cfg, "search": state}))
            done = subprocess.run(
                [sys.executable, "-c", _RUNTIME_CHILD, os.path.join(tmp, "search.json")],
                capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, env=child_env(),
            )
            if done.returncode > 0:
                raise ExportError(f"Measuring the TFLM arena failed.\n{tail(done.stderr)}")
            lines = Path(log).read_text().splitlines() if os.path.exists(log) else []
            state = arena_search.replay(start, lines)
            if arena_search.finished(state):
                return state["high"]
            if arena_search.gave_up(state):
                raise ExportError(
                    "TFLM could not run the model with a 1 GiB arena; check "
                    "verify(..., runtime='tflm') for the reason (unsupported op?)."
                )
        raise ExportError(f"Measuring the TFLM arena did not finish in {_MAX_SEARCH_CHILDREN} "
                          "child processes (each probe crashed?).")
