"""Running a flatbuffer in LiteRT or TFLM (child processes) and finding TFLM's smallest arena.

TFLM segfaults when the arena is too small, and measuring the smallest arena that works means
trying arenas that are too small: each probe is its own child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tf_expander_pruning.deployment.export.children import (
    CHILD_TIMEOUT_S,
    child_env,
    run_child,
    script_source,
)
from tf_expander_pruning.deployment.export.errors import ExportError
from tf_expander_pruning.deployment.export.flatbuffer import check_bytes

__all__ = ["run_runtime", "measure_tflm_arena"]

_RUNTIME_CHILD = script_source("runtime_child.py")


def _json_safe(plan: dict | None) -> dict | None:
    """The JSON-safe part of a stream or mask plan (tensor infos with NumPy dtypes stay here)."""
    if plan is None:
        return None
    return {key: value for key, value in plan.items() if not key.endswith("_info")}


def _config(tmp: str, runtime: str, mode: str, arena: int | None, stream, masks,
            mask_plan) -> dict:
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
            hint="Check the op list (verify().ops) and the quantisation.",
        )
        return np.load(cfg["out"])


def _arena_works(data: bytes, sample: np.ndarray, arena: int, tmp: str, stream: dict | None,
                 mask, mask_plan) -> bool:
    cfg = _config(tmp, "tflm", "probe", arena, stream, mask, mask_plan)
    if not os.path.exists(cfg["model"]):
        _write(cfg, data, sample[None], None if mask is None else mask[None])
    path = os.path.join(tmp, f"probe_{arena}.json")
    Path(path).write_text(json.dumps(cfg))
    # Too-small arenas either raise or segfault inside TFLM: both just mean "does not fit".
    done = subprocess.run(
        [sys.executable, "-c", _RUNTIME_CHILD, path],
        capture_output=True,
        timeout=CHILD_TIMEOUT_S,
        env=child_env(),
    )
    return done.returncode == 0


def measure_tflm_arena(tflite_bytes: bytes, sample: np.ndarray, *, resolution: int = 16,
                       stream: dict | None = None, mask: np.ndarray | None = None,
                       mask_plan: dict | None = None) -> int:
    """Smallest TFLM ``arena_size`` (bytes, to ``resolution``) that allocates and runs once.

    Binary search; each probe is a child process because TFLM may segfault on a short arena.
    ``sample`` is one input batch in the flatbuffer's input dtype (for a streaming model,
    ``stream`` is its :func:`~.streaming.stream_plan` and ``sample`` a ``(batch, T, F)`` batch;
    a masked-sequence model also needs its ``mask`` batch and ``mask_plan``).
    """
    data = check_bytes(tflite_bytes)
    with tempfile.TemporaryDirectory(prefix="tfexp_arena_") as tmp:
        high = max(4096, 4 * len(data))
        while not _arena_works(data, sample, high, tmp, stream, mask, mask_plan):
            high *= 4
            if high > 1 << 30:
                raise ExportError(
                    "TFLM could not run the model with a 1 GiB arena; check "
                    "verify(..., runtime='tflm') for the reason (unsupported op?)."
                )
        low = 0  # invariant: low fails (or is 0), high works
        while high - low > resolution:
            mid = (low + high) // 2 // resolution * resolution
            if mid <= low:
                break
            if _arena_works(data, sample, mid, tmp, stream, mask, mask_plan):
                high = mid
            else:
                low = mid
        return high
