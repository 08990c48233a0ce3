"""Streaming TFLite (issue 13 item 1): a one-time-step flatbuffer fed frame by frame equals the
full-sequence Keras model, in LiteRT and TFLM, for every cell; its size and arena do not depend
on the sequence length.

Each model is trained once (module scope) on the digits train split (8 steps x 8 features) so
the int8 argmax agreement is measured on a model that really learned the task.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TrainedZoo
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import datasets, export
from tf_expander_pruning.deployment.export.streaming import stream_plan

KINDS = ("lstm", "gru", "gru_v1", "simplernn", "stacked")
UNITS = 24


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", "train"), datasets.load("digits", "test")


def _recurrent(kind: str, units: int = UNITS, **kwargs):
    if kind == "lstm":
        return keras.layers.LSTM(units, **kwargs)
    if kind == "gru":
        return keras.layers.GRU(units, **kwargs)  # reset_after=True, the Keras default
    if kind == "gru_v1":
        return keras.layers.GRU(units, reset_after=False, **kwargs)
    return keras.layers.SimpleRNN(units, **kwargs)


def _build(kind: str, steps=8, sequences: bool = False):
    inputs = keras.Input(shape=(steps, 8))
    if kind == "stacked":
        x = keras.layers.LSTM(16, return_sequences=True, name="first")(inputs)
        x = keras.layers.GRU(UNITS, return_sequences=sequences, name="second")(x)
    else:
        x = _recurrent(kind, return_sequences=sequences, name="rnn")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name=f"stream_{kind}")


@pytest.fixture(scope="module")
def models(digits):
    return TrainedZoo(digits, _build, streaming=True)


@pytest.mark.slow
@pytest.mark.parametrize("runtime", export.RUNTIMES)
@pytest.mark.parametrize("kind", KINDS)
def test_streaming_fp32_equals_full_sequence(models, kind, runtime):
    data = models.tflite(kind, None)
    ops = export.list_ops(data)
    assert not {"SPLIT", "SPLIT_V", "WHILE", "UNIDIRECTIONAL_SEQUENCE_LSTM"} & set(ops), ops
    report = export.verify(data, models.model(kind), models.x_test[:100], runtime=runtime,
                           labels=models.y_test[:100])
    print(f"\nSTREAM {kind} fp32 {report}")
    assert report.streaming
    assert report.max_abs_diff <= 1e-5, report
    assert report.argmax_agreement == 1.0
    if runtime == "tflm":
        assert report.arena_bytes > 0 and report.max_steps_vs_litert <= 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("runtime", export.RUNTIMES)
@pytest.mark.parametrize("kind", KINDS)
def test_streaming_int8_agrees_with_full_sequence(models, kind, runtime):
    data = models.tflite(kind, "int8")
    assert export.quantization_of(data) == "int8"
    report = export.verify(data, models.model(kind), models.x_test, runtime=runtime,
                           labels=models.y_test)
    print(f"\nSTREAM {kind} int8 {report}")
    assert report.streaming
    assert report.argmax_agreement >= 0.97, report
    assert report.keras_accuracy >= 0.85  # the model really learned the task


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_streaming_flatbuffer_and_arena_do_not_depend_on_t(digits, quantization):
    (x_train, _), _ = digits
    keras.utils.set_random_seed(1)
    short, long = _build("gru", steps=10), _build("gru", steps=100)
    long.set_weights(short.get_weights())
    sequences = {steps: np.tile(x_train[:64], (1, steps // 8 + 1, 1))[:, :steps]
                 for steps in (10, 100)}
    data = {steps: export.to_tflite(model, quantization=quantization,
                                    representative_data=sequences[steps], streaming=True)
            for steps, model in ((10, short), (100, long))}
    assert len(data[10]) == len(data[100])
    if quantization == "float32":
        assert data[10] == data[100]  # same weights: the very same bytes
    arenas = [export.verify(data[steps], model, sequences[steps][:2], runtime="tflm").arena_bytes
              for steps, model in ((10, short), (100, long))]
    assert arenas[0] == arenas[1] > 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lstm", "stacked"])
def test_return_sequences_gives_one_output_per_step(digits, kind):
    (x_train, y_train), (x_test, _) = digits
    keras.utils.set_random_seed(2)
    model = _build(kind, sequences=True)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x_train[:256], np.repeat(y_train[:256, None], 8, axis=1), epochs=2, verbose=0)
    data = export.to_tflite(model, streaming=True)
    for runtime in export.RUNTIMES:
        report = export.verify(data, model, x_test[:20], runtime=runtime, measure_arena=False)
        assert report.samples == 20 and report.max_abs_diff <= 1e-5, report


def test_bidirectional_cannot_stream():
    inputs = keras.Input((8, 8))
    x = keras.layers.Bidirectional(keras.layers.LSTM(4), name="bi")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    with pytest.raises(ValueError, match="'bi' is Bidirectional.*streaming=False"):
        export.to_tflite(model, streaming=True)


def test_unsupported_streaming_layers_are_named():
    inputs = keras.Input((8, 8))
    x = keras.layers.LSTM(4, go_backwards=True, name="back")(inputs)
    with pytest.raises(ValueError, match="'back' has go_backwards=True"):
        export.to_tflite(keras.Model(inputs, x), streaming=True)
    x = keras.layers.Conv1D(4, 3, name="conv")(inputs)
    x = keras.layers.LSTM(4)(x)
    with pytest.raises(ValueError, match="'conv' \\(Conv1D\\).*one time step"):
        export.to_tflite(keras.Model(inputs, x), streaming=True)
    with pytest.raises(TypeError, match="streaming"):
        export.to_tflite(keras.Model(inputs, x), streaming="yes")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_streaming_int8_on_the_emulated_cortex_m4(models, kind):
    """The 16x8 step model (int16 states) run by TFLM + CMSIS-NN in QEMU, stepped by the on-core
    harness (CMSIS-NN's int16 FULLY_CONNECTED needs one weight scale per layer)."""
    data = models.tflite(kind, "int8")
    x, y = models.x_test[:20], models.y_test[:20]
    report = export.verify(data, models.model(kind), x, runtime="tflm-cortex-m4", labels=y)
    print(f"\nSTREAM {kind} int8 {report}")
    host = export.verify(data, models.model(kind), x, runtime="tflm", labels=y,
                         measure_arena=False)
    assert report.streaming and report.target == "tflm-cortex-m4"
    assert {s["dtype"] for s in stream_plan(data)["states"]} == {"int16"}
    assert report.argmax_agreement >= 0.95
    assert abs(report.max_abs_diff - host.max_abs_diff) <= 1 / 128  # one output step at most
    assert report.code_bytes > 10_000 and report.model_bytes == len(data)
    assert report.arena_bytes > 0 and report.instructions_per_inference > 0


def _dense_16x8(per_channel: bool) -> bytes:
    """A Dense(4) model converted in 16x8 mode, with per-channel or per-tensor weights."""
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([np.random.default_rng(i).normal(
        size=(1, 8)).astype(np.float32)] for i in range(20))
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int16
    converter._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel
    return bytes(converter.convert())


def _python_tflm(data: bytes, raw: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(data)
    outputs = []
    for sample in raw:
        it.set_input(sample[None], 0)
        it.invoke()
        outputs.append(np.array(it.get_output(0))[0])
    return np.stack(outputs)


@pytest.mark.slow  # TFLite converter
def test_per_channel_16x8_dense_on_cmsis_nn_equals_the_reference_kernel():
    """CMSIS-NN has no per-channel int16 FULLY_CONNECTED (upstream TFLM refuses it in Prepare);
    the vendored TFLM runs such a layer one channel at a time through arm_fully_connected_s16:
    bit for bit the same as TFLM's Python runtime (reference kernels), as per-tensor weights."""
    from tf_expander_pruning.deployment.mcu import run_tflm
    from tf_expander_pruning.deployment.mcu.modelinfo import read_model

    x = np.random.default_rng(4).normal(size=(6, 8)).astype(np.float32)
    for per_channel in (True, False):
        data = _dense_16x8(per_channel)
        info = read_model(data)
        assert info.inputs[0].dtype == np.int16
        raw = info.inputs[0].quantize(x)
        run = run_tflm(data, x)
        np.testing.assert_array_equal(run.outputs,
                                      info.outputs[0].dequantize(_python_tflm(data, raw)))
