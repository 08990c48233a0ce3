"""TFLM arena search: one child for the whole search against one child process per probe.

Both arms run the same binary search (start at max(4096, 4 x model bytes), grow x4, halve to
16 bytes) on the same flatbuffer and must give the same arena:

* per probe: ``measure_tflm_arena(..., one_process_per_probe=True)``, a new process for every
  probe (the method before);
* package:   ``export.measure_tflm_arena``: one child runs every probe and logs them, and only a
  segfaulting probe costs a new child.

Interleaved repeats; the figure is the ratio of the medians.  Prints one line.

Usage: python benchmarks/arena_search.py [--units 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from tf_expander_pruning.keras_compat import keras

# isort: split
from tf_expander_pruning import datasets, export


def per_probe(data: bytes, sample: np.ndarray) -> int:
    return export.measure_tflm_arena(data, sample, one_process_per_probe=True)


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
