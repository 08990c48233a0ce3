"""One worker of the MultiWorkerMirroredStrategy test (tests/test_distributed.py); not a test.

Run as ``python tests/distributed_worker.py OUT_DIR SCENARIO [SCENARIO ...]`` with ``TF_CONFIG``
naming this worker.  Every worker builds the same pruned LSTM inside
``MultiWorkerMirroredStrategy().scope()``, trains it with ``UpdatePruningStep`` and a
``RamanujanConstraint``, and writes what it ended with to ``OUT_DIR``:

* ``<scenario>_worker<i>.npz``: every pruned mask, good mask and weight (exact float32 bytes);
* ``<scenario>_worker<i>.json``: frozen flags, frozen steps, mask-update counters, the final
  pruning step, the constraint's history (floats survive JSON exactly) and its freeze lines.

Scenarios (one process trains all of them in turn, so TensorFlow starts once per worker):

* ``callable``: a criterion failing once W_xh (8 inputs) is more than 40 % pruned, so W_xh
  freezes at a known point while W_hh keeps pruning; both workers get the same ``log_dir``
  (``OUT_DIR/tensorboard``), of which only the chief may write;
* ``default``: ``RamanujanConstraint()`` with its defaults (``"ramanujan"``, per gate,
  ``undefined="fail"``); pruning to 90 % makes every gate's bound fail or become undefined;
* ``disagree``: the criterion fails above 40 % on worker 1 only, standing in for a verdict
  that differs between machines (a Delta_r a rounding error away from the margin on different
  CPUs/BLAS).  The constraint must still freeze on both workers at the same step.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np
from tf_expander_pruning.keras_compat import keras, tf

# isort: split
import tensorflow_model_optimization as tfmot
from tf_expander_pruning.datasets import load
from tf_expander_pruning.schedules import GeometricSchedule

from tf_expander_pruning.constraint import RamanujanConstraint
from tf_expander_pruning.pruning import prune_rnn, pruned_weights

EPOCHS = 4
BATCH = 32  # global batch: 256 samples -> 8 steps per epoch, a mask update every 2 steps


def _task_index() -> int:
    return int(json.loads(os.environ["TF_CONFIG"])["task"]["index"])


def _fail_w_xh_above(limit, only_on_task=None):
    def criterion(report):
        if only_on_task is not None and _task_index() != only_on_task:
            return True
        return not (report.n_left == 8 and report.sparsity > limit)

    criterion.__name__ = f"fail_w_xh_above_{limit}"
    return criterion


CONSTRAINTS = {
    # log_dir is the same directory for both workers, as on a shared file system
    "callable": lambda out_dir: RamanujanConstraint(
        criterion=_fail_w_xh_above(0.4), per_gate=False, verbose=1,
        log_dir=os.path.join(out_dir, "tensorboard"),
    ),
    "default": lambda out_dir: RamanujanConstraint(verbose=1),
    "disagree": lambda out_dir: RamanujanConstraint(
        criterion=_fail_w_xh_above(0.4, only_on_task=1), per_gate=False, verbose=1
    ),
}


def run(strategy, scenario: str, out_dir: str, x, y) -> None:
    keras.utils.set_random_seed(0)
    with strategy.scope():
        dense = keras.Sequential([
            keras.Input((8, 8)), keras.layers.LSTM(16, name="lstm"), keras.layers.Dense(10),
        ])
        model = prune_rnn(
            dense, GeometricSchedule(rate=0.25, frequency=2, max_sparsity=0.9)
        )
        model.compile(
            keras.optimizers.Adam(0.01),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    constraint = CONSTRAINTS[scenario](out_dir)
    model.fit(
        x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, shuffle=False,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), constraint],
    )
    items = pruned_weights(model)
    arrays = {}
    for item in items:
        arrays[f"{item.name}/mask"] = item.mask.numpy()
        arrays[f"{item.name}/good_mask"] = item.good_mask.numpy()
        arrays[f"{item.name}/weight"] = item.weight.numpy()
    stem = os.path.join(out_dir, f"{scenario}_worker{_task_index()}")
    np.savez(stem + ".npz", **arrays)
    state = {
        "task": _task_index(),
        "pid": os.getpid(),
        "chief": bool(strategy.extended.should_save_summary),
        "replicas": strategy.num_replicas_in_sync,
        "pruning_step": int(items[0].wrapper.pruning_step.numpy()),
        "frozen": {item.name: bool(item.frozen.numpy()) for item in items},
        "frozen_step": {item.name: int(item.frozen_step.numpy()) for item in items},
        "mask_updates": {item.name: int(item.mask_updates.numpy()) for item in items},
        "frozen_layers": constraint.frozen_layers,
        "history": constraint.history,
        "messages": constraint.messages,
    }
    with open(stem + ".json", "w") as handle:
        json.dump(state, handle)


def main(argv) -> None:
    out_dir, scenarios = argv[1], argv[2:]
    unknown = [s for s in scenarios if s not in CONSTRAINTS]
    if unknown or not scenarios:
        raise SystemExit(f"usage: distributed_worker.py OUT_DIR {{{','.join(CONSTRAINTS)}}}...")
    # A worker whose peer died must not wait forever in a collective.
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=240)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    x, y = load("digits", "train")
    x, y = x[:256], y[:256]
    for scenario in scenarios:
        run(strategy, scenario, out_dir, x, y)
        print(f"worker {_task_index()}: {scenario} done", flush=True)


if __name__ == "__main__":
    main(sys.argv)
