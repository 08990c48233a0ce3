"""Issue 24 item 5: deploying Keras 3 models.

``codegen.to_c`` / ``codegen.verify`` and ``export.to_tflite`` read a Keras 3 model (TensorFlow or
JAX backend) through its tf_keras twin (:mod:`tf_expander_pruning.deployment.keras3_twin`): the
same architecture holding the same weights.  The pruned Keras 3 LSTM of
tests/keras3_deploy_worker.py is measured in this process on the TensorFlow backend and in a
child process with ``KERAS_BACKEND=jax``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras3_deploy_worker import c_figures, pruned_lstm, tflite_figures
from tf_expander_pruning.codegen import to_c, verify

from tf_expander_pruning import datasets, export
from tf_expander_pruning.deployment.keras3_twin import keras2_twin

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")
WORKER = Path(__file__).with_name("keras3_deploy_worker.py")
JAX_FAST = ("c-float32", "c-int8", "tflite-float32")  # one JAX child process each set
JAX_SLOW = ("tflite-streaming", "tflite-dynamic", "tflite-int8")
T, F = 6, 5
L = keras.layers


def _run_worker(backend: str, names) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, str(WORKER), *names], env=env, capture_output=True,
                          text=True, check=False, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT"):])
    assert result["backend"] == backend
    return result


@pytest.fixture(scope="module")
def tf_lstm():
    """The pruned Keras 3 LSTM on this process's backend (TensorFlow) and the digits splits."""
    assert keras.backend.backend() == "tensorflow", "run this module with the TensorFlow backend"
    return (pruned_lstm(), datasets.load("digits", "test")[0],
            datasets.load("digits", "train")[0])


@pytest.fixture(scope="module")
def jax_run():
    return _run_worker("jax", JAX_FAST)


def _assert_c(figures: dict) -> None:
    """The issue's bar: float C within 1e-5 of the model, argmax agreement >= 99 %."""
    assert figures["max_abs_diff"] <= 1e-5, figures
    assert figures["argmax_agreement"] >= 0.99, figures
    assert figures["lstm_sparsity"] >= 0.69 and figures["formats"] != ["dense"], figures


# ------------------------------------------------------------------ the pruned LSTM, both backends


@needs_cc
def test_tf_backend_c_of_a_pruned_keras3_lstm_agrees(tf_lstm):
    model, x, _ = tf_lstm
    _assert_c(c_figures(model, x, "float32"))
    assert c_figures(model, x, "int8")["argmax_agreement"] >= 0.97


@needs_cc
def test_jax_backend_c_of_a_pruned_keras3_lstm_agrees(jax_run):
    _assert_c(jax_run["c-float32"])
    assert jax_run["c-int8"]["argmax_agreement"] >= 0.97, jax_run["c-int8"]


def test_tf_backend_to_tflite_float32_and_streaming_agree(tf_lstm):
    model, x, x_train = tf_lstm
    whole = tflite_figures(model, x, x_train, "float32")
    assert whole["kind"] == "float32" and not whole["streaming"]
    assert whole["direct_max_abs_diff"] <= 1e-5 and whole["max_abs_diff"] <= 1e-5, whole
    step = tflite_figures(model, x, x_train, "float32", streaming=True)
    assert step["streaming"] and step["max_abs_diff"] <= 1e-5, step


def test_jax_backend_to_tflite_float32_agrees_via_the_twin(jax_run):
    whole = jax_run["tflite-float32"]
    assert whole["kind"] == "float32" and not whole["streaming"]
    assert whole["direct_max_abs_diff"] <= 1e-5 and whole["max_abs_diff"] <= 1e-5, whole


def _assert_quantized(result: dict) -> None:
    """As tests/test_export.py asserts: argmax agreement >= 97 %; the weights really int8."""
    assert result["tflite-int8"]["kind"] == "int8"
    assert result["tflite-int8"]["argmax_agreement"] >= 0.97, result
    assert result["tflite-dynamic"]["kind"] in ("dynamic", "weights-int8"), result
    assert result["tflite-dynamic"]["argmax_agreement"] >= 0.97, result


@pytest.mark.slow
def test_tf_backend_to_tflite_int8_and_dynamic_agree(tf_lstm):
    model, x, x_train = tf_lstm
    _assert_quantized({name: tflite_figures(model, x, x_train, name.split("-")[1])
                       for name in ("tflite-dynamic", "tflite-int8")})


@pytest.mark.slow
def test_jax_backend_to_tflite_streaming_int8_and_dynamic_agree_via_the_twin():
    result = _run_worker("jax", JAX_SLOW)
    step = result["tflite-streaming"]
    assert step["streaming"] and step["max_abs_diff"] <= 1e-5, step
    _assert_quantized(result)


# ------------------------------------------------------------------ the twin, layer by layer


def _sparse(model, seed: int = 0):
    """Non-zero biases, 60 % of every recurrent matrix zero (sparse formats exercised)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        if "bias" in variable.path:
            value = rng.normal(scale=0.3, size=value.shape)
        elif "kernel" in variable.path and "dense" not in variable.path:
            value = np.where(np.abs(value) > np.quantile(np.abs(value), 0.6), value, 0.0)
        variable.assign(value.astype(np.float32))
    return model


def _sequential(*layers):
    return _sparse(keras.Sequential([keras.Input((T, F)), *layers]))


def _functional():
    inputs = keras.Input((T, F))
    x = L.GRU(6, return_sequences=True, reset_after=False, name="gru")(inputs)
    return _sparse(keras.Model(inputs, L.Dense(3, name="head")(L.LSTM(4, name="lstm")(x))))


# The layers and options the Keras 2 code generator takes (tests/test_codegen.py CASES).
C_CASES = {
    "simple_rnn": lambda: _sequential(L.SimpleRNN(7), L.Dense(3, activation="softmax")),
    "lstm_bias_free": lambda: _sequential(L.LSTM(9, use_bias=False), L.Dense(4)),
    "gru_reset_after": lambda: _sequential(L.GRU(8), L.Dense(4, activation="softmax")),
    "gru_reset_before_bias_free": lambda: _sequential(L.GRU(8, reset_after=False, use_bias=False),
                                                      L.Dense(4)),
    "stacked": lambda: _sequential(
        L.Masking(0.0), L.LSTM(8, return_sequences=True),
        L.GRU(6, return_sequences=True, reset_after=False),
        L.SimpleRNN(5, activation="relu"), L.Dropout(0.5), L.Dense(16, activation="relu"),
        L.Dense(3, activation="softmax")),
    "bidirectional": lambda: _sequential(
        L.Bidirectional(L.LSTM(6, return_sequences=True)),
        L.Bidirectional(L.GRU(4), merge_mode="sum"), L.Dense(3)),
    "functional": _functional,
}


@needs_cc
@pytest.mark.parametrize("case", list(C_CASES))
def test_keras3_c_matches_keras3(case):
    model = C_CASES[case]()
    x = np.random.default_rng(1).normal(size=(16, T, F)).astype(np.float32)
    x[:3, -2:] = 0.0  # masked trailing steps where the model has a Masking layer
    report = verify(model, x, quantization="float32", name=f"k3_{case}")
    assert report.max_abs_diff <= 1e-5, report
    assert report.argmax_agreement == 1.0
    twin = keras2_twin(model)
    assert [w.shape for w in twin.get_weights()] == [w.shape for w in model.get_weights()]
    for ours, theirs in zip(twin.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_twin_of_layers_codegen_does_not_take():
    """Export takes more than codegen: the twin rebuilds them too (and nested/shared layers)."""
    inner = keras.Sequential([keras.Input((None, F)), L.Conv1D(4, 3, padding="same"),
                              L.BatchNormalization()])
    inputs = keras.Input((None, F))
    shared = L.Dense(4, name="shared")
    x = L.LSTM(4, return_sequences=True)(inner(inputs))
    x = shared(L.Add()([x, shared(x)]))
    x = L.TimeDistributed(L.Dense(2))(L.LayerNormalization()(x))
    model = keras.Model(inputs, L.GlobalAveragePooling1D()(x))
    twin = keras2_twin(model)  # checked against the model to 1e-5 inside
    probe = np.random.default_rng(2).normal(size=(3, 7, F)).astype(np.float32)
    np.testing.assert_allclose(twin.predict(probe, verbose=0), model.predict(probe, verbose=0),
                               atol=1e-5)
    data = export.to_tflite(model, representative_data=probe)
    assert export.verify(data, model, probe, runtime="litert").max_abs_diff <= 1e-5


def test_untranslatable_layers_are_named():
    class Doubling(L.Layer):
        def call(self, x):
            return 2 * x

    custom = keras.Sequential([keras.Input((T, F)), Doubling(name="mine"), L.LSTM(3)])
    with pytest.raises(ValueError, match=r"'mine'.*not a built-in layer.*tf_keras"):
        to_c(custom)
    with pytest.raises(ValueError, match=r"'mine'"):
        export.to_tflite(custom)

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="subclassed"):
        keras2_twin(Subclassed())
    conv = keras.Sequential([keras.Input((T, F)), L.Conv1D(4, 3, name="my_conv"), L.LSTM(3)])
    with pytest.raises(ValueError, match=r"'my_conv'.*Conv1D.*Supported"):  # codegen's own error
        to_c(conv)


@needs_cc
def test_cli_codegen_reads_a_keras3_file(tf_lstm, tmp_path, capsys):
    from tf_expander_pruning import cli

    model, x, _ = tf_lstm
    path = tmp_path / "pruned3.keras"
    model.save(path)
    status = cli.main(["codegen", str(path), "--out", str(tmp_path / "c"), "--quantization",
                       "float32", "--verify", "--json"])
    printed = capsys.readouterr().out
    report = json.loads(printed[printed.index("{"):])
    assert status == 0 and report["max_abs_diff"] <= 1e-5 and report["samples"] == len(x)


@needs_cc
@pytest.mark.skipif(importlib.util.find_spec("tf_expander_pruning.pruning.keras3") is None,
                    reason="Keras 3 pruning (issue 24 items 1-2) has not landed")
def test_a_keras3_pruning_wrapper_is_stripped_first():
    from tf_expander_pruning.schedules import GeometricSchedule

    from tf_expander_pruning.pruning import prune_rnn, strip_pruning

    wrapped = prune_rnn(_sequential(L.LSTM(6, name="lstm"), L.Dense(3)), GeometricSchedule())
    x = np.random.default_rng(3).normal(size=(8, T, F)).astype(np.float32)
    report = verify(wrapped, x, quantization="float32")
    assert report.max_abs_diff <= 1e-5, report
    plain = to_c(strip_pruning(wrapped), quantization="float32")
    assert to_c(wrapped, quantization="float32").source == plain.source
