"""Repeated Ramanujan checks over a real pruning run: cold ``analyze`` vs ``SpectralCache``.

A ``LSTM(256)`` classifier of the UCI digits (8 time steps x 8 features) is trained with TF-MOT
``prune_low_magnitude``.  The default schedule is the package's paper schedule,
``GeometricSchedule(rate=0.2, frequency=10, max_sparsity=0.9)``: 20 % of the remaining weights are
removed at every mask update until 90 % sparsity, after which TF-MOT keeps recomputing the mask
every 10 steps (what ``RamanujanConstraint`` checks after each of those updates).
``--schedule polynomial`` uses ``tfmot PolynomialDecay(0 -> 0.9, frequency=10)`` over the first
``--ramp`` of the steps (every check then sees a changed mask); ``--schedule constant`` uses
``ConstantSparsity(0.9, frequency=10)``.  A tiny callback records the masks of W_xh (8 x 1024)
and W_hh (256 x 1024) after every mask update.

Then, in one process and interleaved (best of ``--repeats`` for each side, BLAS limited to one
thread as in the callback), every recorded check is analysed cold with ``spectral.analyze`` and
through one ``SpectralCache`` (skip unchanged masks; update the Gram rows of changed nodes or
warm-start Lanczos otherwise).  A third side analyses cold with the Gram path switched off
(Lanczos for every matrix above the dense-SVD size: the solver before the Gram path existed),
so the gain of the Gram path is a same-run ratio too.  The results must agree to 1e-9
relative.  Prints one summary line.

    .venv/bin/python benchmarks/repeated_checks.py [--epochs 8 --units 256 --schedule geometric]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from unittest import mock

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np
from tf_expander_pruning.keras_compat import keras, tf

# isort: split
import tensorflow_model_optimization as tfmot
from tf_expander_pruning.datasets import load
from tf_expander_pruning.schedules import GeometricSchedule
from tf_expander_pruning.spectral import SpectralCache, analyze, solvers

FREQUENCY = 10  # optimizer steps between mask updates
REL = 1e-9


def single_threaded_blas():
    """One BLAS thread, as RamanujanConstraint runs its checks (busy cores otherwise spin)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class MaskRecorder(keras.callbacks.Callback):
    """Copies every wrapper's masks after each batch whose step is a mask-update step."""

    def __init__(self, schedule) -> None:
        super().__init__()
        self.schedule = schedule
        self.checks: list[dict[str, np.ndarray]] = []

    def on_train_batch_end(self, batch, logs=None):
        wrappers = [layer for layer in self.model.layers if hasattr(layer, "pruning_vars")]
        step = int(wrappers[0].pruning_step.numpy())
        # One record per mask update (the schedule's own predicate, so PolynomialDecay stops
        # recording after end_step like the callback stops checking); each record holds the
        # mask that update produced.
        should_prune, _ = self.schedule(tf.constant(step, tf.int64))
        if not bool(should_prune):
            return
        record = {}
        for wrapper in wrappers:
            # pruning_vars order is get_prunable_weights(): kernel, then recurrent_kernel.
            for role, (_, mask, _) in zip(("W_xh", "W_hh"), wrapper.pruning_vars, strict=True):
                record[f"{wrapper.layer.name}/{role}"] = mask.numpy() != 0
        self.checks.append(record)


def pruning_run(args) -> list[dict[str, np.ndarray]]:
    """Train the pruned LSTM; return the recorded masks of every check."""
    tf.keras.utils.set_random_seed(0)
    x, y = load("digits", "train")
    steps = args.epochs * int(np.ceil(len(x) / args.batch))
    if args.schedule == "geometric":
        schedule = GeometricSchedule(rate=0.2, frequency=FREQUENCY, max_sparsity=0.9)
    elif args.schedule == "polynomial":
        schedule = tfmot.sparsity.keras.PolynomialDecay(
            0.0, 0.9, begin_step=0, end_step=int(args.ramp * steps), frequency=FREQUENCY
        )
    else:
        schedule = tfmot.sparsity.keras.ConstantSparsity(0.9, 0, frequency=FREQUENCY)
    model = keras.Sequential([
        keras.Input(x.shape[1:]),
        keras.layers.LSTM(args.units, name="lstm"),
        keras.layers.Dense(10),
    ])
    # Only the recurrent layer is pruned (the dense output layer stays dense, as in the paper).
    model = _prune_lstm_only(model, schedule)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    recorder = MaskRecorder(schedule)
    start = time.perf_counter()
    history = model.fit(
        x, y, batch_size=args.batch, epochs=args.epochs, verbose=0,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), recorder],
    )
    args.train_seconds = time.perf_counter() - start
    args.accuracy = float(history.history["accuracy"][-1])
    return recorder.checks


def _prune_lstm_only(model, schedule):
    def clone(layer):
        if isinstance(layer, keras.layers.LSTM):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


def same(a, b) -> bool:
    """Reports equal: counts exactly, spectral values to 1e-9 relative (of the bound's scale)."""
    for name, expected in a.to_dict().items():
        actual = getattr(b, name)
        if isinstance(expected, float) and actual is not None:
            scale = max(abs(a.lambda1 or 0.0), abs(a.bound or 0.0), 1.0)
            if abs(actual - expected) > REL * scale:
                return False
        elif actual != expected:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--schedule", choices=("geometric", "polynomial", "constant"),
                        default="geometric")
    parser.add_argument("--ramp", type=float, default=0.7,
                        help="polynomial: fraction of the steps over which sparsity ramps up")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    checks = pruning_run(args)
    keys = list(checks[0])
    changed_by_key = {
        key.split("/")[-1]: sum(
            not np.array_equal(before[key], after[key])
            for before, after in zip(checks, checks[1:], strict=False)
        )
        for key in keys
    }
    changed = sum(changed_by_key.values())
    changed_text = ", ".join(f"{role} {count}" for role, count in changed_by_key.items())
    total = len(checks) * len(keys)

    cold_best = cache_best = lanczos_best = float("inf")
    cold_reports = cache_reports = lanczos_reports = None
    stats = None
    with single_threaded_blas():
        for _ in range(args.repeats):  # interleaved: machine noise hits every side alike
            start = time.perf_counter()
            cold_reports = [analyze(check[key]) for check in checks for key in keys]
            cold_best = min(cold_best, time.perf_counter() - start)
            with mock.patch.object(solvers, "DENSE_GRAM_MAX_SIDE", 0):
                start = time.perf_counter()
                lanczos_reports = [analyze(check[key]) for check in checks for key in keys]
                lanczos_best = min(lanczos_best, time.perf_counter() - start)
            cache = SpectralCache()
            start = time.perf_counter()
            cache_reports = [cache.analyze(key, check[key]) for check in checks for key in keys]
            cache_best = min(cache_best, time.perf_counter() - start)
            stats = cache.stats
    mismatches = sum(
        not same(a, b) for a, b in zip(cold_reports, cache_reports, strict=True)
    ) + sum(not same(a, b) for a, b in zip(cold_reports, lanczos_reports, strict=True))
    assert mismatches == 0, (
        f"{mismatches} cached or Lanczos-only reports differ from cold analyze"
    )
    final = cold_reports[-1]
    print(
        f"repeated_checks LSTM({args.units}) digits {args.schedule} schedule, "
        f"{len(checks)} mask updates x {len(keys)} matrices = {total} checks "
        f"({changed} changed since the previous update: {changed_text}; "
        f"train {args.train_seconds:.0f} s, acc {args.accuracy:.3f}, "
        f"final W_hh sparsity {final.sparsity:.2f}): cold {cold_best:.3f} s, "
        f"SpectralCache {cache_best:.3f} s (hits {stats['hits']}, warm {stats['warm']}, "
        f"cold {stats['cold']}); speed-up {cold_best / cache_best:.1f}x; "
        f"cold without the Gram path {lanczos_best:.3f} s "
        f"({lanczos_best / cold_best:.1f}x the cold time, {lanczos_best / cache_best:.1f}x the "
        f"SpectralCache time); identical results ({total} reports, 1e-9 relative)"
    )


if __name__ == "__main__":
    main()
