"""Issue 26, items 2, 3, 4 and 8: everyday Keras layer options through export and codegen.

* ``LSTM(use_bias=False)``, ``unroll=True`` and a custom cell in ``keras.layers.RNN`` convert to
  full int8 (before: SIGSEGV in the calibration child) and run in TFLM.
* ``GRU(reset_after=False)`` runs in TFLM (before: "Dynamic tensors are not supported" behind a
  message pointing at ``verify().ops``); a runtime failure now shows TFLM's own message.
* ``stateful=True``: ``to_tflite`` writes the streaming step model (before: raw Keras errors).
* ``CModel.write`` / ``tf-expander codegen --out`` on an existing file: a ``ValueError`` naming
  the way out (before: a bare ``FileExistsError``); ``tep.pruned_weights`` at the root.

Every number is from a flatbuffer run in LiteRT or TFLM against Keras (or, for the stateful
model, against a stateless Keras copy built here and stepped in LiteRT by this file).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras, tf

from tf_expander_pruning import export

EPOCHS = 4


@pytest.fixture(scope="module")
def digits():
    from tf_expander_pruning import datasets

    return (*datasets.load("digits", "train"), *datasets.load("digits", "test"))


def _trained(recurrent, digits, *, batch_shape=None):
    """``Input -> recurrent -> Dense(10)``, fitted a few epochs on digits (seeded)."""
    x_train, y_train = digits[0], digits[1]
    keras.utils.set_random_seed(0)
    inputs = keras.Input(batch_shape=batch_shape) if batch_shape else keras.Input((8, 8))
    model = keras.Model(inputs, keras.layers.Dense(10)(recurrent(inputs)))
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batch = batch_shape[0] if batch_shape else 32
    usable = len(x_train) // batch * batch
    model.fit(x_train[:usable], y_train[:usable], epochs=EPOCHS, batch_size=batch, verbose=0,
              shuffle=not batch_shape)
    return model


class _Step(keras.layers.Layer):
    """A user's own cell (no get_config): h = tanh(x K + h R)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.k = self.add_weight(shape=(input_shape[-1], self.units), name="k")
        self.r = self.add_weight(shape=(self.units, self.units), name="r")

    def call(self, x, states):
        h = tf.tanh(tf.matmul(x, self.k) + tf.matmul(states[0], self.r))
        return h, [h]


LOOPS = {
    "lstm_no_bias": lambda: keras.layers.LSTM(16, use_bias=False, name="lstm"),
    "lstm_no_bias_unrolled": lambda: keras.layers.LSTM(16, use_bias=False, unroll=True,
                                                       name="lstm"),
    "lstm_relu": lambda: keras.layers.LSTM(16, activation="relu", name="lstm"),
    "custom_cell": lambda: keras.layers.RNN(_Step(16), name="rnn"),
}


# ---------------------------------------------------------------- item 2: int8 of loop layers
@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(LOOPS))
def test_int8_of_bias_free_unrolled_and_custom_cells_converts_and_runs_in_tflm(digits, kind):
    model = _trained(LOOPS[kind](), digits)
    x_test, y_test = digits[2][:200], digits[3][:200]
    data = export.to_tflite(model, quantization="int8", representative_data=digits[0])
    ops = export.list_ops(data)
    assert "WHILE" not in ops
    if kind == "lstm_no_bias":  # the zero bias makes it the one fused op
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops
    report = export.verify(data, model, x_test, runtime="tflm", labels=y_test,
                           measure_arena=False)
    assert report.quantization == "int8"
    assert report.argmax_agreement >= 0.95, report
    assert abs(report.runtime_accuracy - report.keras_accuracy) <= 0.05
    if kind == "custom_cell":  # unrolled while traced, then given back as it was
        assert model.get_layer("rnn").unroll is False


def test_bias_free_lstm_is_exported_with_an_exact_zero_bias(digits):
    model = _trained(LOOPS["lstm_no_bias"](), digits)
    data = export.to_tflite(model)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in export.list_ops(data)
    report = export.verify(data, model, digits[2][:100], runtime="tflm", measure_arena=False)
    assert report.max_abs_diff <= 1e-5, report
    assert len(model.get_layer("lstm").get_weights()) == 2  # the user's layer is untouched


# ------------------------------------------------------------- item 3: GRU(reset_after=False)
@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_gru_reset_after_false_runs_in_tflm(digits, quantization):
    model = _trained(keras.layers.GRU(16, reset_after=False, name="gru"), digits)
    data = export.to_tflite(model, quantization=quantization, representative_data=digits[0])
    assert "SPLIT_V" not in export.list_ops(data)
    report = export.verify(data, model, digits[2][:200], runtime="tflm", measure_arena=False)
    if quantization == "float32":
        assert report.max_abs_diff <= 1e-5, report
    else:
        assert report.argmax_agreement >= 0.95, report


def test_a_tflm_failure_shows_tflms_own_message_not_a_pointer_to_verify_ops():
    # The flatbuffer the converter makes of GRU(reset_after=False) as Keras traces it
    # (implementation=2): what to_tflite wrote before; TFLM cannot allocate its SPLIT_V.
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8))
    model = keras.Model(inputs, keras.layers.GRU(8, reset_after=False)(inputs))
    function = tf.function(lambda x: model(x)).get_concrete_function(
        tf.TensorSpec([1, 8, 8], tf.float32))
    data = tf.lite.TFLiteConverter.from_concrete_functions([function], model).convert()
    assert "SPLIT_V" in export.list_ops(data)
    with pytest.raises(export.ExportError) as caught:
        export.verify(data, model, np.zeros((2, 8, 8), np.float32), runtime="tflm")
    message = str(caught.value)
    assert "Dynamic tensors are not supported" in message
    assert "streaming=True" in message and "verify().ops" not in message


# ----------------------------------------------------------------- item 4: stateful=True
def _stateless_twin(model):
    """The same network, stateless, batch free (built here, independently of the exporter)."""
    inputs = keras.Input((None, model.input_shape[-1]))
    layer = model.layers[1]
    twin = keras.layers.LSTM(layer.units)
    outputs = keras.layers.Dense(10)(twin(inputs))
    copy = keras.Model(inputs, outputs)
    copy.set_weights(model.get_weights())
    return copy


def _litert_stream(data: bytes, x: np.ndarray, units: int) -> np.ndarray:
    """Feed ``x`` frame by frame through the step model in LiteRT, the states fed back."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=data).get_signature_runner()
    outputs = []
    for sequence in x:
        states = {"state_0": np.zeros((1, units), np.float32),
                  "state_1": np.zeros((1, units), np.float32)}
        for frame in sequence:
            out = runner(x_t=frame[None].astype(np.float32), **states)
            states = {"state_0": out["new_state_0"], "state_1": out["new_state_1"]}
        outputs.append(out["y"][0])
    return np.stack(outputs)


def test_stateful_lstm_exports_as_the_streaming_step_model(digits):
    model = _trained(lambda x: keras.layers.LSTM(16, stateful=True, name="lstm")(x), digits,
                     batch_shape=(32, None, 8))
    x_test = digits[2][:40]
    data = export.to_tflite(model)  # before: "expected shape=(32, None, 8), found (1, 8, 8)"
    stepped = _litert_stream(data, x_test, 16)
    expected = _stateless_twin(model).predict(x_test, verbose=0)
    np.testing.assert_allclose(stepped, expected, atol=1e-5)
    report = export.verify(data, model, x_test, runtime="tflm", measure_arena=False)
    assert report.streaming and report.max_abs_diff <= 1e-5, report
    assert model.get_layer("lstm").stateful  # the user's model is left as it was
    # The whole sequence, made stateless (T is free in this model: the data fixes it).
    whole = export.to_tflite(model, streaming=False, representative_data=x_test)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in export.list_ops(whole)
    report = export.verify(whole, model, x_test, runtime="litert")
    assert not report.streaming and report.max_abs_diff <= 1e-5, report


def test_cli_exports_a_stateful_model_as_streaming_unless_told_otherwise(tmp_path, capsys):
    import json

    from tf_expander_pruning.cli import main

    keras.utils.set_random_seed(0)
    inputs = keras.Input(batch_shape=(4, 8, 8))
    model = keras.Model(inputs, keras.layers.GRU(8, stateful=True, name="gru")(inputs))
    model.save(tmp_path / "stateful.keras")
    for flag, streaming in (([], True), (["--no-streaming"], False)):
        out = tmp_path / f"m{len(flag)}.tflite"
        assert main(["export", str(tmp_path / "stateful.keras"), "--out", str(out), "--json",
                     *flag]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["streaming"] is streaming and out.exists()


def test_stateful_model_that_cannot_stream_names_the_layer_and_the_way_out():
    inputs = keras.Input(batch_shape=(4, 8, 8))
    layer = keras.layers.Bidirectional(keras.layers.LSTM(4, stateful=True), name="bi")
    model = keras.Model(inputs, layer(inputs))
    with pytest.raises(ValueError, match="'bi' is stateful=True.*streaming=False"):
        export.to_tflite(model)
    with pytest.raises(TypeError, match="`streaming` must be True, False or None"):
        export.to_tflite(model, streaming="auto")


# -------------------------------------------------- item 8: writing C over a file; the root
def test_writing_c_over_an_existing_file_is_a_clear_value_error(tmp_path, digits):
    from tf_expander_pruning import codegen

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.LSTM(8)(inputs)))
    taken = tmp_path / "model.c"
    taken.write_text("/* mine */")
    c_model = codegen.to_c(model, quantization="float32")
    with pytest.raises(ValueError, match="'.*model.c' is an existing file, not a folder.*Pass"):
        c_model.write(taken)
    with pytest.raises(ValueError, match="existing file, not a folder"):
        export.to_c_array(export.to_tflite(model), "model_data").write(taken)
    assert taken.read_text() == "/* mine */"
    paths = c_model.write(tmp_path / "out")  # a folder still works, and can be written again
    assert [p.name for p in c_model.write(tmp_path / "out")] == [p.name for p in paths]
    saved = tmp_path / "m.keras"
    model.save(saved)
    done = subprocess.run([sys.executable, "-m", "tf_expander_pruning.cli", "codegen",
                           str(saved), "--out", str(taken)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "--out" in done.stderr and "is an existing file" in done.stderr
    assert "Traceback" not in done.stderr and "Errno" not in done.stderr


def test_pruned_weights_is_at_the_package_root():
    import tf_expander_pruning as tep
    from tf_expander_pruning.pruning import pruned_weights

    assert tep.pruned_weights is pruned_weights
    assert "pruned_weights" in tep.__all__
