"""Bad input and faults: what the user sees (docs/reliability.md lists every row and its test)."""

import builtins
import errno
import json
import os
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras

# isort: split
import tensorflow_model_optimization as tfmot
from tf_expander_pruning.datasets import load
from tf_expander_pruning.schedules import Freezable, GeometricSchedule, deserialize_schedule
from tf_expander_pruning.spectral import analyze

from tf_expander_pruning import codegen, export, graphs
from tf_expander_pruning.cli import main as cli_main
from tf_expander_pruning.cli.commands._common import load_model
from tf_expander_pruning.constraint import HISTORY_FIELDS, RamanujanConstraint
from tf_expander_pruning.pruning import PruneRecurrent, prune_rnn, pruned_weights

X_ALL, Y_ALL = load("digits", "train")
X, Y = X_ALL[:256], Y_ALL[:256]  # 8 steps per epoch at batch 32
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
HERE = Path(__file__).parent


def _pruned_lstm(units=16, features=8, frequency=2, seed=0):
    keras.utils.set_random_seed(seed)
    dense = keras.Sequential([
        keras.Input((8, features)), keras.layers.LSTM(units, name="lstm"), keras.layers.Dense(10),
    ])
    model = prune_rnn(dense, GeometricSchedule(rate=0.25, frequency=frequency, max_sparsity=0.9))
    model.compile("adam", LOSS)
    return model


def _fit(model, callbacks, epochs=2, x=X, y=Y):
    return model.fit(x, y, batch_size=32, epochs=epochs, verbose=0,
                     callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), *callbacks])


def _step(model):
    return int(pruned_weights(model)[0].wrapper.pruning_step.numpy())


class AtStep(keras.callbacks.Callback):
    """Runs ``action(model)`` once, after the batch that ends at pruning step ``step``
    (listed before the constraint, so the constraint sees the result in the same batch)."""

    def __init__(self, step, action):
        super().__init__()
        self.step, self.action, self.done = step, action, False

    def on_train_batch_end(self, batch, logs=None):
        if not self.done and _step(self.model) == self.step:
            self.action(self.model)
            self.done = True


class MaskLog(keras.callbacks.Callback):
    """Masks of every pruned matrix after every batch (listed after the constraint)."""

    def __init__(self):
        super().__init__()
        self.steps, self.masks = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(_step(self.model))
        self.masks.append({p.name: p.mask.numpy().copy() for p in pruned_weights(self.model)})


# ---------------------------------------------------------------- NaN / inf weights
def test_nan_inf_weights_warn_in_graphs_and_weighted_analysis_refuses():
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(6), keras.layers.Dense(3)])
    kernel = model.layers[0].cell.kernel
    value = kernel.numpy()
    value[0, 0], value[1, 1] = np.nan, np.inf
    kernel.assign(value)
    with pytest.warns(RuntimeWarning, match=r"W_xh: 2 weight\(s\) are NaN or infinite"):
        rows = graphs.summary_rows(model)
    assert rows[0]["shape"] == (8, 24)
    with pytest.raises(ValueError, match="NaN or infinite"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            graphs.summary(model, weighted=True, print_fn=None)
    with pytest.raises(ValueError, match="NaN or infinite"):
        analyze(value, weighted=True)


@pytest.mark.slow
def test_nan_weights_during_training_keep_the_last_passing_mask():
    model = _pruned_lstm()

    def poison(model):
        item = pruned_weights(model)[0]
        item.weight.assign(np.full(item.weight.shape, np.nan, np.float32))

    log = MaskLog()
    check = RamanujanConstraint(per_gate=False, verbose=0)
    with pytest.warns(RuntimeWarning, match="lstm/W_xh: weights contain NaN or inf"):
        _fit(model, [AtStep(5, poison), check, log], epochs=2)
    w_xh = pruned_weights(model)[0]
    assert not bool(w_xh.frozen.numpy())  # not blamed on the graph
    assert not any("lost" in line for line in check.messages)
    last_check = max(r["step"] for r in check.history if r["role"] == "W_xh")
    assert last_check <= 4  # the masks computed from NaN weights were not judged
    expected = log.masks[log.steps.index(last_check)]["lstm/W_xh"]
    np.testing.assert_array_equal(w_xh.mask.numpy(), expected)
    np.testing.assert_array_equal(w_xh.good_mask.numpy(), expected)
    assert 0.4 < 1 - expected.mean() < 0.5  # a real pruned mask, not the all-pruned garbage


# ---------------------------------------------------------------- all-zero mask, 1 x N kernels
def test_all_zero_mask_is_undefined_then_frozen_and_rolled_back():
    model = _pruned_lstm()

    def wipe(model):
        item = pruned_weights(model)[0]
        item.mask.assign(np.zeros(item.mask.shape, np.float32))
        item.mask_updates.assign_add(1)  # as the wrapper does on a mask update

    check = RamanujanConstraint(per_gate=False, verbose=0)
    log = MaskLog()
    _fit(model, [AtStep(3, wipe), check, log], epochs=1)
    w_xh = pruned_weights(model)[0]
    assert bool(w_xh.frozen.numpy()) and int(w_xh.frozen_step.numpy()) == 3
    failed = [r for r in check.history if r["frozen"]]
    assert [(r["role"], r["sparsity"], r["delta_r"]) for r in failed] == [("W_xh", 1.0, None)]
    assert "Delta_r undefined: empty graph" in check.messages[0]
    # rolled back to the mask that passed at step 2, which it keeps to the end
    np.testing.assert_array_equal(w_xh.mask.numpy(), log.masks[log.steps.index(2)]["lstm/W_xh"])
    assert w_xh.mask.numpy().mean() == pytest.approx(0.75)


def test_one_by_n_and_n_by_one_kernels_are_undefined_never_a_number():
    model = keras.Sequential([keras.Input((5, 1)), keras.layers.LSTM(1), keras.layers.Dense(2)])
    rows = graphs.summary_rows(model, per_gate=True)
    analysed = [r for r in rows if r["analysed"]]
    assert [r["shape"] for r in analysed] == [(1, 1)] * 8
    assert {r["shape"] for r in graphs.summary_rows(model) if r["analysed"]} == {(1, 4)}
    for row in analysed + graphs.summary_rows(model):
        if row["analysed"]:
            assert row["delta_r"] is None and row["bound"] is None
            assert row["status"].startswith("undefined: ")
    for shape in ((1, 40), (40, 1)):
        report = analyze(np.ones(shape))
        assert report.is_ramanujan is None and report.delta_r is None
        assert "average degree 1.00 < 3" in report.undefined_reason


def test_one_input_feature_freezes_w_xh_at_the_first_check_and_w_hh_prunes_on():
    model = _pruned_lstm(units=8, features=1)
    check = RamanujanConstraint(per_gate=False, verbose=0)
    _fit(model, [check], epochs=1, x=X[:, :, :1])
    w_xh, w_hh = pruned_weights(model)
    assert w_xh.mask.shape == (1, 32)
    assert bool(w_xh.frozen.numpy()) and int(w_xh.frozen_step.numpy()) == 2
    assert w_xh.mask.numpy().all()  # rolled back to the dense start
    assert "W_xh lost the Ramanujan property" in check.messages[0]
    assert "Delta_r undefined: right average degree 1.00 < 3" in check.messages[0]
    hh = [r for r in check.history if r["role"] == "W_hh"]
    assert hh[0]["passed"] and len(hh) >= 2  # W_hh passed and was checked on after the freeze
    assert w_hh.mask.numpy().mean() < 0.75


# ---------------------------------------------------------------- layers that cannot be analysed
class _Custom(keras.layers.Layer):
    state_size = 3

    def build(self, shape):
        self.w = self.add_weight(name="w", shape=(shape[-1], 3))

    def call(self, x, states):
        return x @ self.w, states


def test_convlstm_and_custom_cells_cannot_be_pruned_and_say_so():
    conv = keras.Sequential([
        keras.Input((4, 4, 4, 1)), keras.layers.ConvLSTM2D(2, 3, name="conv_lstm"),
        keras.layers.Flatten(), keras.layers.Dense(2),
    ])
    with pytest.raises(ValueError, match="no recurrent layer to prune"):
        prune_rnn(conv, GeometricSchedule())
    with pytest.raises(ValueError, match="'conv_lstm' \\(ConvLSTM2D\\) is not a SimpleRNN"):
        prune_rnn(conv, GeometricSchedule(), layers=["conv_lstm"])
    with pytest.raises(ValueError, match="PruneRecurrent wraps .* got ConvLSTM2D"):
        PruneRecurrent(conv.layers[0])
    custom = keras.Sequential([keras.Input((4, 2)), keras.layers.RNN(_Custom(), name="custom")])
    with pytest.raises(ValueError, match="no recurrent layer to prune"):
        prune_rnn(custom, GeometricSchedule())
    assert graphs.weight_graphs(custom) == []
    assert "RNN with cell _Custom" in graphs.summary(custom, print_fn=None)


# ---------------------------------------------------------------- Keras 3
@pytest.fixture(scope="module")
def keras3_model():
    import keras as keras3  # Keras 3 comes with TensorFlow >= 2.16: a required dependency

    assert keras3.__version__.startswith("3")
    model = keras3.Sequential([keras3.Input((8, 8)), keras3.layers.LSTM(4),
                               keras3.layers.Dense(3)])
    model.compile("adam", "mse")
    return model


def test_unpruned_keras3_model_is_rejected_by_the_constraint_with_how_to(keras3_model):
    """Issue 24: Keras 3 models are pruned now; an unpruned one gets Keras 2's message."""
    with pytest.raises(ValueError, match="no pruned recurrent layer.*prune_rnn"):
        keras3_model.fit(X[:8], np.zeros((8, 3)), verbose=0, callbacks=[RamanujanConstraint()])


def test_keras3_model_is_deployed_by_export_and_codegen(keras3_model):
    """Issue 24 item 5: deployment reads a Keras 3 model through its tf_keras twin."""
    assert export.list_ops(export.to_tflite(keras3_model))
    assert codegen.to_c(keras3_model, quantization="float32").n_outputs == 3
    with pytest.raises(TypeError, match="tf_keras Model"):
        codegen.to_c("not a model")


# ---------------------------------------------------------------- corrupted saved models
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("saved")
    model = _pruned_lstm(units=4)
    pruned_weights(model)[0].frozen.assign(True)
    paths = {"keras": directory / "m.keras", "h5": directory / "m.h5",
             "savedmodel": directory / "m_savedmodel"}
    for path in paths.values():
        model.save(path)
    return model, paths


def _damage(model, src: Path, dst: Path, how: str) -> Path:
    """A damaged copy of a saved model.

    truncated: the file (SavedModel: saved_model.pb) cut in half; garbled: 256 bytes of
    saved_model.pb zeroed; overwritten: the LSTM kernel's stored bytes replaced by kernel + 1
    (found in the file: .keras stores its weights uncompressed); variables: the SavedModel's
    variables data cut in half.
    """
    import shutil

    if src.is_dir():
        shutil.copytree(src, dst)
        target = dst / "saved_model.pb"
        if how in ("overwritten", "variables"):
            target = next((dst / "variables").glob("variables.data-*"))
    else:
        shutil.copy(src, dst)
        target = dst
    data = target.read_bytes()
    if how in ("truncated", "variables"):
        data = data[: len(data) // 2]
    elif how == "garbled":
        middle = len(data) // 2
        data = data[:middle] + b"\x00" * 256 + data[middle + 256:]
    else:
        kernel = model.layers[0].layer.cell.kernel.numpy()
        assert data.count(kernel.tobytes()) >= 1
        data = data.replace(kernel.tobytes(), (kernel + 1).tobytes())
    target.write_bytes(data)
    return dst


@pytest.mark.parametrize("fmt, how", [
    ("keras", "truncated"), ("keras", "overwritten"), ("h5", "truncated"),
    ("savedmodel", "truncated"), ("savedmodel", "garbled"), ("savedmodel", "overwritten"),
    ("savedmodel", "variables"),
])
def test_corrupted_or_truncated_saved_model_is_a_value_error(saved, tmp_path, fmt, how, capsys):
    model, paths = saved
    intact = load_model(paths[fmt])  # the control: the undamaged file loads, flags included
    assert bool(pruned_weights(intact)[0].frozen.numpy())
    broken = _damage(model, paths[fmt], tmp_path / f"broken_{paths[fmt].name}", how)
    with pytest.raises(ValueError, match="Could not load a Keras model from .*Is the file "
                                         "complete"):
        load_model(broken)
    assert cli_main(["inspect", str(broken)]) == 1
    assert "Could not load a Keras model" in capsys.readouterr().err


def test_h5_has_no_checksum_so_overwritten_weights_load_silently(saved, tmp_path):
    # Documented limit (docs/reliability.md): HDF5 stores no checksum of the data, so bytes
    # overwritten inside a weight load without error.  .keras (zip CRC-32) and SavedModel
    # (per-tensor checksum) detect the same damage (test above).
    model, paths = saved
    broken = _damage(model, paths["h5"], tmp_path / "broken.h5", "overwritten")
    loaded = load_model(broken)
    np.testing.assert_array_equal(loaded.layers[0].layer.cell.kernel.numpy(),
                                  model.layers[0].layer.cell.kernel.numpy() + 1)


def test_missing_or_wrong_kind_of_model_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model at"):
        load_model(tmp_path / "nope.keras")
    (tmp_path / "m.txt").write_text("hello")
    with pytest.raises(ValueError, match="expected a .keras or .h5 file"):
        load_model(tmp_path / "m.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="Could not load a Keras model.*SavedModel file does "
                                         "not exist"):
        load_model(tmp_path / "empty")


# ---------------------------------------------------------------- configs from other versions
def test_schedule_configs_from_other_versions():
    with pytest.warns(UserWarning, match=r"lacks \['max_sparsity'\].*max_sparsity=0.98"):
        old = deserialize_schedule({"class_name": "GeometricSchedule",
                                    "config": {"rate": 0.3, "frequency": 5, "begin_step": 0,
                                               "end_step": -1}})
    assert (old.rate, old.frequency, old.max_sparsity) == (0.3, 5, 0.98)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['warmup'\].*newer"):
        deserialize_schedule({"class_name": "GeometricSchedule",
                              "config": {"rate": 0.3, "warmup": 10}})
    with pytest.raises(ValueError, match=r"Freezable config lacks the required key\(s\) "
                                         r"\['base_schedule'\]"):
        deserialize_schedule({"class_name": "Freezable", "config": {}})
    with pytest.raises(ValueError, match=r"Freezable config has unknown key\(s\) \['frozen'\]"):
        deserialize_schedule({"class_name": "Freezable", "config": {
            "base_schedule": GeometricSchedule().get_config(), "frozen": True}})
    with pytest.raises(ValueError, match="register the class"):
        deserialize_schedule({"class_name": "ScheduleOfTheFuture", "config": {}})
    # a current config round-trips silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = Freezable(GeometricSchedule(rate=0.4)).get_config()
        assert deserialize_schedule(config).base_schedule.rate == 0.4


def _rewrite_config(src: Path, dst: Path, edit) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                wrapper = next(layer["config"] for layer in config["config"]["layers"]
                               if layer["class_name"] == "PruneRecurrent")
                edit(wrapper)
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return dst


def test_version_0_saved_model_loads_with_defaults_and_a_warning(saved, tmp_path):
    model, paths = saved

    def version_0(wrapper):  # before `roles` and `max_sparsity` existed
        del wrapper["roles"]
        del wrapper["pruning_schedule"]["config"]["max_sparsity"]

    path = _rewrite_config(paths["keras"], tmp_path / "v0.keras", version_0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_model(path)
    said = " | ".join(str(w.message) for w in caught if w.category is UserWarning)
    assert "GeometricSchedule config lacks ['max_sparsity']" in said
    assert "PruneRecurrent config of 'prune_recurrent_lstm' lacks ['roles']" in said
    assert loaded.layers[0].roles == ("W_xh", "W_hh")
    for a, b in zip(pruned_weights(model), pruned_weights(loaded), strict=True):
        np.testing.assert_array_equal(a.mask.numpy(), b.mask.numpy())
        assert bool(a.frozen.numpy()) == bool(b.frozen.numpy())

    def future(wrapper):
        wrapper["pruning_schedule"]["config"]["warmup"] = 10

    path = _rewrite_config(paths["keras"], tmp_path / "future.keras", future)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['warmup'\]"):
        load_model(path)


# ---------------------------------------------------------------- disk full (history CSV)
def _read_csv(path):
    import csv

    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_path_streams_the_same_rows_as_to_csv(tmp_path):
    model = _pruned_lstm()
    check = RamanujanConstraint(per_gate=False, verbose=0, csv_path=tmp_path / "h.csv")
    _fit(model, [check], epochs=1)
    assert check.get_config()["csv_path"] == str(tmp_path / "h.csv")
    streamed = _read_csv(tmp_path / "h.csv")
    assert len(streamed) == len(check.history) >= 4
    assert _read_csv(check.to_csv(tmp_path / "whole.csv")) == streamed
    assert list(streamed[0]) == list(HISTORY_FIELDS)


def test_disk_full_dev_full_warns_training_finishes_history_in_memory(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    model = _pruned_lstm()
    check = RamanujanConstraint(per_gate=False, verbose=0, csv_path="/dev/full")
    with pytest.warns(RuntimeWarning, match="could not write the history to '/dev/full'.*"
                                            "No space left on device.*training goes on"):
        history = _fit(model, [check], epochs=2)
    assert len(history.history["loss"]) == 2
    assert len(check.history) >= 8 and _step(model) == 16
    # the explicit call does raise: the caller asked for the file
    with pytest.raises(OSError) as info:
        check.to_csv("/dev/full")
    assert info.value.errno == errno.ENOSPC


def test_disk_full_for_a_while_then_every_row_is_written_exactly_once(tmp_path, monkeypatch):
    failures = {"left": 3}
    real_open = open

    class FullDisk:
        """A handle whose write() writes a few bytes and then fails like a full disk."""

        def __init__(self, handle):
            self.handle = handle

        def write(self, text):
            self.handle.write(text[:10])
            self.handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    def fake_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "a" in mode and failures["left"] > 0:
            failures["left"] -= 1
            return FullDisk(handle)
        return handle

    # Patched for every module: the CSV sink may live in any module of the constraint package.
    monkeypatch.setattr(builtins, "open", fake_open)
    path = tmp_path / "h.csv"
    model = _pruned_lstm()
    check = RamanujanConstraint(per_gate=False, verbose=0, csv_path=path)
    with pytest.warns(RuntimeWarning, match="No space left on device"):
        _fit(model, [check], epochs=1)
    assert failures["left"] == 0
    rows = _read_csv(path)  # no half rows from the failed writes, no duplicates, header once
    expected = _read_csv(check.to_csv(tmp_path / "whole.csv"))
    assert rows == expected and len(rows) == len(check.history)


# ---------------------------------------------------------------- killed mid-epoch, resumed
def _run_worker(mode, workdir):
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", CUDA_VISIBLE_DEVICES="-1",
               PYTHONPATH=str(HERE.parent))
    return subprocess.Popen([sys.executable, str(HERE / "resume_worker.py"), mode, str(workdir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_keeps_frozen_masks_bit_for_bit(tmp_path):
    first = _run_worker("first", tmp_path)
    ready = tmp_path / "ready"
    deadline = time.monotonic() + 300
    try:
        while not ready.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready.exists(), first.communicate(timeout=30)[1][-3000:]
        assert int(ready.read_text()) == first.pid
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL

    at_freeze = np.load(tmp_path / "at_freeze.npz")
    assert list(at_freeze["frozen"]) == ["lstm/W_xh"] and int(at_freeze["step"]) < 8
    assert (tmp_path / "backup").exists()
    streamed = _read_csv(tmp_path / "history.csv")
    assert any(r["role"] == "W_xh" and r["frozen"] == "True" for r in streamed)

    second = _run_worker("resume", tmp_path)
    out, err = second.communicate(timeout=400)
    lines = [line for line in out.splitlines() if line.startswith("RESULT")]
    assert second.returncode == 0 and lines, err[-3000:]
    result = json.loads(lines[-1][len("RESULT"):])
    assert result["epochs_run"] == [1, 2, 3]  # resumed at the epoch that was killed
    assert result["flags_at_start"] == {"lstm/W_xh": True, "lstm/W_hh": False}
    assert result["frozen_at_end"]["lstm/W_xh"] is True
    assert "lstm/W_xh" not in result["changed"] and "lstm/W_hh" in result["changed"]
    assert result["history_roles"] == ["W_hh"]  # the frozen matrix is never checked again
    assert result["frozen_layers"] == {"lstm": ["W_xh"]}
    resumed = np.load(tmp_path / "resumed.npz")
    for moment in ("start", "end"):
        np.testing.assert_array_equal(resumed[f"{moment}__lstm__W_xh"], at_freeze["lstm__W_xh"])
        assert resumed[f"{moment}__lstm__W_xh"].tobytes() == at_freeze["lstm__W_xh"].tobytes()
    # the history CSV kept the first run's rows and got the resumed run's appended
    rows = _read_csv(tmp_path / "history.csv")
    assert rows[: len(streamed)] == streamed and len(rows) > len(streamed)


# ---------------------------------------------------------------- bad arguments
_MODEL = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(4), keras.layers.Dense(3)])

BAD_ARGUMENTS = [
    # (call, exception, the message must match)
    (lambda: GeometricSchedule(rate="0.2"), TypeError, "`rate` must be a number"),
    (lambda: GeometricSchedule(max_sparsity=None), TypeError, "`max_sparsity` must be a number"),
    (lambda: GeometricSchedule(rate=1.5), ValueError, "rate must be in"),
    (lambda: GeometricSchedule(max_sparsity=1.0), ValueError, "max_sparsity must be in"),
    (lambda: GeometricSchedule(frequency=0), ValueError, "frequency must be a positive"),
    (lambda: GeometricSchedule(frequency=2.5), ValueError, "frequency must be a positive"),
    (lambda: GeometricSchedule(begin_step=-1), ValueError, "begin_step must be an integer"),
    (lambda: GeometricSchedule(begin_step=10, end_step=5), ValueError,
     r"end_step \(5\) is before begin_step \(10\)"),
    (lambda: Freezable(None), TypeError, "`base_schedule` must be a .*PruningSchedule"),
    (lambda: Freezable(GeometricSchedule(), frozen=1), ValueError, "`frozen` must be a scalar"),
    (lambda: RamanujanConstraint(criterion="expander"), ValueError, "Unknown criterion"),
    (lambda: RamanujanConstraint(criterion=["ramanujan"]), ValueError, "Unknown criterion"),
    (lambda: RamanujanConstraint(undefined="maybe"), ValueError, "Unknown undefined"),
    (lambda: RamanujanConstraint(roles=("W_hx",)), ValueError, "Unknown weight role"),
    (lambda: RamanujanConstraint(roles=()), ValueError, "`roles` is empty"),
    (lambda: RamanujanConstraint(roles=3), TypeError, "`roles` must be a sequence"),
    (lambda: RamanujanConstraint(margin="x"), TypeError, "`margin` must be a number"),
    (lambda: RamanujanConstraint(margin=float("inf")), ValueError, "`margin` must be a finite"),
    (lambda: RamanujanConstraint(verbose="loud"), TypeError, "`verbose` must be"),
    (lambda: RamanujanConstraint(per_gate="no"), TypeError, "`per_gate` must be True"),
    (lambda: RamanujanConstraint(restore_last_good_mask="no"), TypeError,
     "`restore_last_good_mask` must be True"),
    (lambda: RamanujanConstraint(stop_training_when_all_frozen="no"), TypeError,
     "`stop_training_when_all_frozen` must be True"),
    (lambda: prune_rnn(_MODEL, None), TypeError, "`schedule` must be a .*PruningSchedule"),
    (lambda: prune_rnn(None, GeometricSchedule()), TypeError, "`model` must be a tf_keras"),
    (lambda: prune_rnn(_MODEL, GeometricSchedule(), roles="W_hx"), ValueError,
     "Unknown weight role"),
    (lambda: prune_rnn(_MODEL, GeometricSchedule(), layers=["nope"]), ValueError,
     "`layers` names 'nope'"),
    (lambda: prune_rnn(_MODEL, GeometricSchedule(), layers=3), TypeError, "`layers` must be"),
    (lambda: graphs.weight_graphs(_MODEL, per_gate="no"), TypeError, "`per_gate` must be True"),
    (lambda: graphs.summary(_MODEL, weighted="yes"), TypeError, "`weighted` must be True"),
    (lambda: graphs.summary(_MODEL, print_fn=3), TypeError, "`print_fn` must be callable"),
    (lambda: graphs.weight_graphs("model.keras"), TypeError, "`model` must be a tf_keras Model"),
    (lambda: graphs.gate_columns(_MODEL.layers[0].cell, "q"), ValueError, "Unknown gate 'q'"),
    (lambda: analyze(np.ones(5)), ValueError, "2-D"),
    (lambda: analyze([["a"]]), ValueError, "numeric"),
    (lambda: deserialize_schedule("GeometricSchedule"), ValueError, "must be a dict"),
]


@pytest.mark.parametrize("call, error, message", BAD_ARGUMENTS,
                         ids=[f"{i}-{m[:30]}" for i, (_, _, m) in enumerate(BAD_ARGUMENTS)])
def test_bad_arguments_raise_and_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_negative_margin_is_valid_and_loosens_the_criterion():
    # A margin is a threshold on Delta_r; a negative one accepts slightly non-Ramanujan graphs.
    check = RamanujanConstraint(margin=-0.5)
    report = analyze(np.block([[np.ones((5, 5)), np.zeros((5, 5))],
                               [np.zeros((5, 5)), np.ones((5, 5))]]))
    assert report.delta_r < 0
    assert check._verdict(report) is (report.delta_r >= -0.5)
