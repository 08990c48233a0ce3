"""Training-time overhead of the Keras 3 pruning path over the same Keras 3 model fitted dense,
on the TensorFlow and JAX backends, each measured in one run (issue 24, item 6).

Both arms train the same Keras 3 LSTM classifier (same initial weights) on the embedded digits
data, in the same process:

* dense:  the Keras 3 model, ``fit`` with no callbacks;
* pruned: ``prune_rnn(model, GeometricSchedule(0.2, frequency=steps per epoch))`` +
  ``UpdatePruningStep`` + ``RamanujanConstraint(margin=-1e9, undefined="pass", guard=None)``:
  a mask update per epoch, every update checked, nothing ever freezes, so every epoch does the
  same pruning work;
* masking: the same pruned model and ``UpdatePruningStep`` without the constraint (the Keras 3
  masking path alone), printed for information after the ratio.

Time per arm is the shortest epoch among epochs 2..N of all interleaved repeats (epoch 1
includes tracing; the machine may be shared and noise only ever adds time).  The parent runs one
child process per backend (a backend is chosen when Keras 3 is first imported) and prints one
line per backend.

Usage: python benchmarks/keras3_overhead.py [--backends tensorflow,jax] [--units 32]
       [--epochs 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

TARGET = 1.10


def child(args) -> str:
    import keras
    from tf_expander_pruning.datasets import load
    from tf_expander_pruning.schedules import GeometricSchedule

    from tf_expander_pruning.constraint import RamanujanConstraint
    from tf_expander_pruning.pruning import UpdatePruningStep, prune_rnn

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    def dense_model(weights=None):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(args.units, name="lstm"),
                                  keras.layers.Dense(10)])
        if weights is not None:
            model.set_weights(weights)
        return model

    x, y = load("digits", "train")
    steps = -(-len(x) // args.batch_size)
    weights = dense_model().get_weights()

    def run_arm(arm: str) -> list[float]:
        model, callbacks = dense_model(weights), []
        if arm != "dense":
            schedule = GeometricSchedule(rate=0.2, frequency=steps, max_sparsity=0.9)
            model = prune_rnn(model, schedule)
            callbacks = [UpdatePruningStep()]
        if arm == "pruned":
            callbacks.append(RamanujanConstraint(
                margin=-1e9, undefined="pass", guard=None, verbose=0))
        timer = EpochTimer()
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
                  callbacks=[*callbacks, timer])
        return timer.times[1:]

    best = {"dense": float("inf"), "pruned": float("inf"), "masking": float("inf")}
    for _ in range(args.repeats):
        for arm in ("dense", "pruned", "masking"):
            best[arm] = min(best[arm], *run_arm(arm))
    ratio = best["pruned"] / best["dense"]
    return (
        f"keras3_overhead[{keras.backend.backend()}]: pruned/dense time ratio = {ratio:.3f} "
        f"(target <= {TARGET:.2f}; {'OK' if ratio <= TARGET else 'ABOVE TARGET'}) | Keras 3 "
        f"LSTM({args.units}) on digits, {steps} steps/epoch, a mask update and check every "
        f"epoch; fastest of epochs 2-{args.epochs} x {args.repeats} interleaved repeats: dense "
        f"{best['dense'] * 1e3:.1f} ms/epoch, pruned {best['pruned'] * 1e3:.1f} ms/epoch; "
        f"masking alone (no constraint) {best['masking'] * 1e3:.1f} ms/epoch, ratio "
        f"{best['masking'] / best['dense']:.3f}"
    )


def main(argv=None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        line = child(args)
        print(line)
        return [line]
    lines = []
    for backend in args.backends.split(","):
        command = [sys.executable, __file__, "--child", "--units", str(args.units),
                   "--epochs", str(args.epochs), "--repeats", str(args.repeats),
                   "--batch-size", str(args.batch_size)]
        done = subprocess.run(command, env={**os.environ, "KERAS_BACKEND": backend},
                              capture_output=True, text=True, check=False)
        found = [line for line in done.stdout.splitlines() if line.startswith("keras3_overhead")]
        line = found[-1] if found else f"keras3_overhead[{backend}]: FAILED\n{done.stderr[-2000:]}"
        print(line, flush=True)
        lines.append(line)
    return lines


if __name__ == "__main__":
    main()
