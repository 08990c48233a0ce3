"""Training-time overhead of RamanujanConstraint over plain TF-MOT pruning, measured in one run.

Both arms train the same LSTM classifier (same initial weights) on the embedded digits data with
the same GeometricSchedule:

* plain:      ``tfmot.sparsity.keras.prune_low_magnitude`` + ``UpdatePruningStep``;
* constraint: ``prune_rnn`` + ``UpdatePruningStep`` + ``RamanujanConstraint`` checking W_xh and
  W_hh after every mask update.  ``margin=-1e9, undefined="pass"`` so that nothing ever freezes
  and both arms do exactly the same pruning work (a freeze would make the constraint arm
  cheaper); every check still runs the full spectral analysis.

The mask is updated once per epoch by default (``--frequency`` = steps per epoch), as in the
paper's iterative magnitude pruning; TF-MOT's own default is every 100 steps.  Each update
triggers one check per pruned matrix.

Time per arm is the shortest epoch among epochs 2..N of all interleaved repeats (epoch 1
includes tracing; every timed epoch contains the same number of mask updates and checks; the
machine may be shared and noise only ever adds time).  Prints one line.

Usage: python benchmarks/callback_overhead.py [--units 32] [--epochs 6] [--repeats 3]
       [--frequency STEPS]
"""

from __future__ import annotations

import argparse
import time

from tf_expander_pruning.keras_compat import keras

# isort: split
import tensorflow_model_optimization as tfmot
from tf_expander_pruning.datasets import load
from tf_expander_pruning.schedules import GeometricSchedule

from tf_expander_pruning.constraint import RamanujanConstraint
from tf_expander_pruning.pruning import prune_rnn


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def dense_model(units: int, weights=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8)), keras.layers.LSTM(units, name="lstm"), keras.layers.Dense(10),
    ])
    if weights is not None:
        model.set_weights(weights)
    return model


def run_arm(arm: str, args, weights, x, y) -> tuple[list[float], int]:
    """Seconds of each of epochs 2..N of one training run, and the number of checks made."""
    schedule = GeometricSchedule(rate=0.2, frequency=args.frequency, max_sparsity=0.9)
    dense = dense_model(args.units, weights)
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
    constraint = None
    if arm == "plain":
        model = tfmot.sparsity.keras.prune_low_magnitude(dense, pruning_schedule=schedule)
    else:
        model = prune_rnn(dense, schedule)
        constraint = RamanujanConstraint(margin=-1e9, undefined="pass", verbose=0)
        callbacks.append(constraint)
    timer = EpochTimer()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
              callbacks=[*callbacks, timer])
    checks = len({(r["step"], r["role"]) for r in constraint.history}) if constraint else 0
    return timer.times[1:], checks


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--frequency", type=int, default=None,
                        help="steps between mask updates (default: steps per epoch)")
    args = parser.parse_args(argv)
    x, y = load("digits", "train")
    steps = -(-len(x) // args.batch_size)
    if args.frequency is None:
        args.frequency = steps
    weights = dense_model(args.units).get_weights()
    best = {"plain": float("inf"), "constraint": float("inf")}
    checks = 0
    for _ in range(args.repeats):
        for arm in ("plain", "constraint"):
            seconds, made = run_arm(arm, args, weights, x, y)
            best[arm] = min(best[arm], *seconds)
            checks = max(checks, made)
    ratio = best["constraint"] / best["plain"]
    line = (
        f"callback_overhead: RamanujanConstraint/plain TF-MOT time ratio = {ratio:.3f} "
        f"(target <= 1.05; {'OK' if ratio <= 1.05 else 'ABOVE TARGET'}) | LSTM({args.units}) "
        f"on digits, {steps} steps/epoch, mask update every {args.frequency} steps, "
        f"{checks} weight checks per run; fastest of epochs 2-{args.epochs} x {args.repeats} "
        f"interleaved repeats: plain {best['plain'] * 1e3:.1f} ms/epoch, constraint "
        f"{best['constraint'] * 1e3:.1f} ms/epoch"
    )
    print(line)
    return line


if __name__ == "__main__":
    main()
