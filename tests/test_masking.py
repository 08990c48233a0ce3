"""Issue 14 item 3: masked sequences (``Masking``, ``Embedding(mask_zero=True)``) convert in fp32
and int8 and run in LiteRT and TFLM with Keras's outputs (padded steps skipped)."""

from __future__ import annotations

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import datasets, export

PAD = -1.0


def _padded(x: np.ndarray, seed: int) -> np.ndarray:
    """Digits with the last 0-4 rows replaced by padding (variable-length sequences)."""
    x = np.array(x, dtype=np.float32)
    lengths = np.random.default_rng(seed).integers(4, 9, len(x))
    for row, length in enumerate(lengths):
        x[row, length:] = PAD
    return x


def _tokens(x: np.ndarray) -> np.ndarray:
    """Padded digits as token ids 1..16 per row (row sum, binned), 0 where padded."""
    ids = 1 + np.clip(np.sum(np.maximum(x, 0), axis=2) * 15 / 8, 0, 15).astype(np.int32)
    return np.where(x[:, :, 0] == PAD, 0, ids).astype(np.int32)


def _build(kind: str, cell: str):
    rnn = keras.layers.LSTM(24, name="rnn") if cell == "lstm" else keras.layers.GRU(24, name="rnn")
    if kind == "masking":
        inputs = keras.Input((8, 8))
        x = keras.layers.Masking(mask_value=PAD, name="mask")(inputs)
    else:
        inputs = keras.Input((8,), dtype="int32")
        x = keras.layers.Embedding(17, 8, mask_zero=True, name="embed")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax", name="out")(rnn(x))
    return keras.Model(inputs, outputs, name=f"{kind}_{cell}")


class _Masked:
    def __init__(self):
        (x_train, self.y_train), (x_test, self.y_test) = (
            datasets.load("digits", "train"), datasets.load("digits", "test"))
        self.x = {"masking": (_padded(x_train, 0), _padded(x_test, 1))}
        self.x["embedding"] = tuple(_tokens(x) for x in self.x["masking"])
        self.models: dict = {}
        self.flatbuffers: dict = {}

    def model(self, kind, cell):
        if (kind, cell) not in self.models:
            keras.utils.set_random_seed(0)
            model = _build(kind, cell)
            model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
            model.fit(self.x[kind][0], self.y_train, epochs=15, batch_size=32, verbose=0)
            self.models[kind, cell] = model
        return self.models[kind, cell]

    def tflite(self, kind, cell, quantization):
        key = (kind, cell, quantization)
        if key not in self.flatbuffers:
            self.flatbuffers[key] = export.to_tflite(
                self.model(kind, cell), quantization=quantization,
                representative_data=self.x[kind][0])
        return self.flatbuffers[key]


@pytest.fixture(scope="module")
def masked():
    return _Masked()


CASES = [("masking", "lstm"), ("masking", "gru"), ("embedding", "lstm")]


@pytest.mark.slow
@pytest.mark.parametrize("runtime", export.RUNTIMES)
@pytest.mark.parametrize("quantization", ["float32", "int8"])
@pytest.mark.parametrize(("kind", "cell"), CASES)
def test_masked_model_converts_and_runs(masked, kind, cell, quantization, runtime):
    data = masked.tflite(kind, cell, quantization)
    assert "GATHER" not in export.list_ops(data) or kind == "embedding"
    x_test = masked.x[kind][1]
    report = export.verify(data, masked.model(kind, cell), x_test, runtime=runtime,
                           labels=masked.y_test, measure_arena=quantization == "float32")
    print(f"\nMASKED {kind} {cell} {quantization} {report}")
    # the model learned the padded task (token ids keep only a binned row sum: less to learn)
    assert report.keras_accuracy >= (0.8 if kind == "masking" else 0.5)
    if quantization == "float32":
        assert report.max_abs_diff <= 1e-5, report
    else:
        assert export.quantization_of(data) == "int8"
        assert report.argmax_agreement >= 0.95, report


@pytest.mark.slow
def test_the_mask_matters(masked):
    """Running the padded inputs without their mask gives other outputs: the mask is used."""
    model = masked.model("masking", "lstm")
    x_test = masked.x["masking"][1][:100]
    unmasked = keras.Model(model.input, model.get_layer("out")(
        model.get_layer("rnn")(model.input)))
    assert np.max(np.abs(unmasked.predict(x_test, verbose=0)
                         - model.predict(x_test, verbose=0))) > 1e-2
    report = export.verify(masked.tflite("masking", "lstm", None), model, x_test)
    assert report.max_abs_diff <= 1e-5


def test_layers_reused_in_another_model_do_not_stop_the_export():
    """Calling the layers again (a copy without the mask) adds calls that are not this model's."""
    inputs = keras.Input((8, 8))
    x = keras.layers.Masking(mask_value=PAD, name="mask")(inputs)
    x = keras.layers.LSTM(4, name="rnn")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
    keras.Model(model.input, model.get_layer("out")(model.get_layer("rnn")(model.input)))
    x_test = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    x_test[:, 5:] = PAD
    report = export.verify(export.to_tflite(model), model, x_test, measure_arena=False)
    assert report.max_abs_diff <= 1e-5


def test_masked_bidirectional_fails_before_conversion_naming_mask_and_way_out():
    inputs = keras.Input((8, 8))
    x = keras.layers.Masking(mask_value=PAD, name="pad_mask")(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(4), name="bi")(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    with pytest.raises(ValueError, match="'pad_mask' \\(Masking\\) makes a mask.*'bi'.*Way out"):
        export.to_tflite(model)
