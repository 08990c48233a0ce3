"""TFLM arena search: one child for the whole search against one child process per probe.

Both arms run the same binary search (start at max(4096, 4 x model bytes), grow x4, halve to
16 bytes) on the same flatbuffer and must give the same arena:

* per probe: a new ``runtime_child.py`` process for every probe (the method before);
* package:   ``export.measure_tflm_arena``: one child runs every probe and logs them, and only a
  segfaulting probe costs a new child.

Interleaved repeats; the figure is the ratio of the medians.  Prints one line.

Usage: python benchmarks/arena_search.py [--units 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tf_expander_pruning.keras_compat import keras

# isort: split
from tf_expander_pruning import datasets, export
from tf_expander_pruning.deployment.export.children import child_env, script_source


def per_probe(data: bytes, sample: np.ndarray, resolution: int = 16) -> int:
    child = script_source("runtime_child.py")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "m.tflite").write_bytes(data)
        np.save(os.path.join(tmp, "x.npy"), sample[None])

        def works(arena: int) -> bool:
            cfg = {"model": os.path.join(tmp, "m.tflite"), "inputs": os.path.join(tmp, "x.npy"),
                   "masks": None, "out": "", "runtime": "tflm", "mode": "probe",
                   "arena": arena, "stream": None, "mask_inputs": None}
            Path(tmp, "probe.json").write_text(json.dumps(cfg))
            return subprocess.run([sys.executable, "-c", child, os.path.join(tmp, "probe.json")],
                                  capture_output=True, env=child_env()).returncode == 0

        high, low = max(4096, 4 * len(data)), 0
        while not works(high):
            high *= 4
        while high - low > resolution:
            mid = (low + high) // 2 // resolution * resolution
            if mid <= low:
                break
            high, low = (mid, low) if works(mid) else (high, mid)
        return high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    x = datasets.load("digits", "train")[0][:100]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(args.units),
                              keras.layers.Dense(10)])
    data = export.to_tflite(model, quantization="int8", representative_data=x)
    sample = np.zeros((1, 8, 8), np.int8)
    base_times, new_times, arenas = [], [], set()
    for _ in range(args.repeats):
        for arm, times in ((per_probe, base_times), (export.measure_tflm_arena, new_times)):
            start = time.perf_counter()
            arenas.add(arm(data, sample))
            times.append(time.perf_counter() - start)
    ratio = statistics.median(new_times) / statistics.median(base_times)
    print(f"arena_search: measure_tflm_arena/one process per probe time ratio = {ratio:.3f} "
          f"(same arena: {'yes' if len(arenas) == 1 else 'NO'}, {sorted(arenas)} B) | int8 "
          f"LSTM({args.units}), median of {args.repeats} interleaved: per probe "
          f"{statistics.median(base_times):.2f} s, one child {statistics.median(new_times):.2f} s")
    if len(arenas) != 1:
        raise SystemExit("the two arms measured different arenas")


if __name__ == "__main__":
    main()
