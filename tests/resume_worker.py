"""Child process of the kill-and-resume test in tests/test_reliability.py.

Usage: ``python tests/resume_worker.py first|resume WORKDIR``

``first`` trains a pruned LSTM with ``BackupAndRestore``; the Ramanujan check (a criterion that
fails W_xh above 40 % sparsity) freezes W_xh in epoch 0.  Right after the freeze the masks are
saved to ``WORKDIR/at_freeze.npz``.  In epoch 1, after a few batches (mid-epoch, after the epoch-0
backup), it writes ``WORKDIR/ready`` and sleeps until the test kills it with SIGKILL.

``resume`` starts from scratch in a new process with the same ``BackupAndRestore`` directory and
prints one ``RESULT{json}`` line with what the test checks.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np  # noqa: E402
from tf_expander_pruning.keras_compat import keras  # noqa: E402

# isort: split
import tensorflow_model_optimization as tfmot  # noqa: E402
from tf_expander_pruning.datasets import load  # noqa: E402
from tf_expander_pruning.schedules import GeometricSchedule  # noqa: E402

from tf_expander_pruning.constraint import RamanujanConstraint  # noqa: E402
from tf_expander_pruning.pruning import prune_rnn, pruned_weights  # noqa: E402

EPOCHS = 4


def criterion(report):
    """W_xh (8 inputs) fails above 40 % sparsity; W_hh (16 inputs) always passes."""
    return not (report.n_left == 8 and report.sparsity > 0.4)


def build():
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([
        keras.Input((8, 8)), keras.layers.LSTM(16, name="lstm"), keras.layers.Dense(10),
    ])
    model = prune_rnn(dense, GeometricSchedule(rate=0.25, frequency=2, max_sparsity=0.9))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def masks(model):
    return {p.name: p.mask.numpy().copy() for p in pruned_weights(model)}


class AtFreeze(keras.callbacks.Callback):
    """Listed after the constraint: saves every mask right after the first freeze."""

    def __init__(self, path):
        super().__init__()
        self.path, self.saved = path, False

    def on_train_batch_end(self, batch, logs=None):
        items = pruned_weights(self.model)
        if not self.saved and any(bool(p.frozen.numpy()) for p in items):
            np.savez(self.path, step=int(items[0].wrapper.pruning_step.numpy()),
                     frozen=[p.name for p in items if bool(p.frozen.numpy())],
                     **{p.name.replace("/", "__"): p.mask.numpy() for p in items})
            self.saved = True


class WaitForKill(keras.callbacks.Callback):
    def __init__(self, ready, freeze):
        super().__init__()
        self.ready, self.freeze, self.epoch = ready, freeze, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch >= 1 and batch == 3 and self.freeze.saved:
            with open(self.ready, "w") as handle:
                handle.write(str(os.getpid()))
            time.sleep(600)  # the test sends SIGKILL now


class Spy(keras.callbacks.Callback):
    """In the resumed run: masks and flags at the first batch (after the restore) and after each."""

    def __init__(self):
        super().__init__()
        self.first, self.flags, self.changed, self.epochs = None, None, set(), []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.first is None:
            self.first = masks(self.model)
            self.flags = {p.name: bool(p.frozen.numpy()) for p in pruned_weights(self.model)}

    def on_train_batch_end(self, batch, logs=None):
        for name, mask in masks(self.model).items():
            if not np.array_equal(mask, self.first[name]):
                self.changed.add(name)


def main(mode, workdir):
    x, y = load("digits", "train")
    x, y = x[:256], y[:256]  # 8 steps per epoch
    model = build()
    backup = keras.callbacks.BackupAndRestore(os.path.join(workdir, "backup"))
    constraint = RamanujanConstraint(criterion=criterion, per_gate=False, verbose=0,
                                     csv_path=os.path.join(workdir, "history.csv"))
    common = [tfmot.sparsity.keras.UpdatePruningStep(), backup]
    if mode == "first":
        freeze = AtFreeze(os.path.join(workdir, "at_freeze.npz"))
        model.fit(x, y, batch_size=32, epochs=EPOCHS, verbose=0, shuffle=False,
                  callbacks=[*common, constraint, freeze,
                             WaitForKill(os.path.join(workdir, "ready"), freeze)])
        print("RESULT" + json.dumps({"error": "was not killed"}))
        return
    spy = Spy()
    model.fit(x, y, batch_size=32, epochs=EPOCHS, verbose=0, shuffle=False,
              callbacks=[*common, spy, constraint])
    final = masks(model)
    out = {
        "epochs_run": spy.epochs,
        "flags_at_start": spy.flags,
        "frozen_at_end": {p.name: bool(p.frozen.numpy()) for p in pruned_weights(model)},
        "changed": sorted(spy.changed),
        "history_roles": sorted({r["role"] for r in constraint.history}),
        "frozen_layers": constraint.frozen_layers,
    }
    np.savez(os.path.join(workdir, "resumed.npz"),
             **{f"start__{k.replace('/', '__')}": v for k, v in spy.first.items()},
             **{f"end__{k.replace('/', '__')}": v for k, v in final.items()})
    print("RESULT" + json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
