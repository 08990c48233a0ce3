"""Issue 14 item 4: a model built under ``mixed_float16`` exports and verifies in every
quantisation (the converter gets a float32 copy with the same weights)."""

from __future__ import annotations

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import datasets, export
from tf_expander_pruning.deployment.export.preparation import reduced_precision_layers


@pytest.fixture(scope="module")
def mixed_lstm():
    (x_train, y_train) = datasets.load("digits", "train")
    (x_test, y_test) = datasets.load("digits", "test")
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input((8, 8))
        x = keras.layers.LSTM(24, name="lstm")(inputs)
        outputs = keras.layers.Dense(10, activation="softmax", dtype="float32", name="out")(x)
        model = keras.Model(inputs, outputs)
    finally:
        keras.mixed_precision.set_global_policy("float32")  # the layers keep their policy
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=12, batch_size=32, verbose=0)
    assert "lstm" in reduced_precision_layers(model)  # really a float16-compute model
    return model, x_train, x_test, y_test


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["float32", "dynamic", "float16", "int8"])
def test_mixed_precision_lstm_exports_and_verifies(mixed_lstm, quantization):
    model, x_train, x_test, y_test = mixed_lstm
    data = export.to_tflite(model, quantization=quantization, representative_data=x_train)
    runtimes = ["litert"] + (["tflm"] if quantization in ("float32", "int8") else [])
    # The mixed model itself, computed in float16: what the user trained.
    mixed_out = model.predict(x_test, verbose=0)
    for runtime in runtimes:
        report = export.verify(data, model, x_test, runtime=runtime, labels=y_test,
                               measure_arena=False)
        print(f"\nMIXED {quantization} {report}")
        assert report.keras_accuracy >= 0.85
        if quantization == "float32":
            assert report.max_abs_diff <= 1e-5, report  # against the float32 copy
        else:
            assert report.argmax_agreement >= 0.97, report
        # and against the float16-compute Keras model the user has
        assert abs(report.runtime_accuracy - float(np.mean(mixed_out.argmax(1) == y_test))) \
            <= 0.03
