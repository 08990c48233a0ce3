"""Masked sequences in generated C: a leading ``Masking`` layer skips padded steps as Keras does;
other masks (``Embedding(mask_zero=True)``) are refused with an error that says what to do."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import codegen

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")

T, F = 9, 4


def _masked_model(recurrent, mask_value=0.0, seed=0):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((T, F)), keras.layers.Masking(mask_value), *recurrent,
                              keras.layers.Dense(3, activation="softmax")])
    for weight in model.weights:
        if "bias" in weight.name:  # non-zero biases: a skipped step must not add them
            weight.assign(rng.normal(scale=0.3, size=weight.shape).astype(np.float32))
    return model


def _padded(mask_value=0.0, seed=1):
    """Sequences with padding after the data, before it, and in the middle."""
    x = np.random.default_rng(seed).normal(size=(12, T, F)).astype(np.float32)
    x[0:4, 6:] = mask_value  # post-padding
    x[4:8, :3] = mask_value  # pre-padding
    x[8:10, 4] = mask_value  # one gap
    x[10, 2, 0] = mask_value  # one feature equal to the mask value: not masked
    return x


MASKED = {
    "lstm": lambda: [keras.layers.LSTM(6)],
    "gru": lambda: [keras.layers.GRU(5, return_sequences=True), keras.layers.GRU(4)],
    "gru_reset_before": lambda: [keras.layers.GRU(5, reset_after=False)],
    "simple_rnn": lambda: [keras.layers.SimpleRNN(5)],
    "bidirectional": lambda: [
        keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True)),
        keras.layers.Bidirectional(keras.layers.GRU(3), merge_mode="sum")],
}


@pytest.mark.parametrize("case", list(MASKED))
def test_masked_steps_are_skipped_like_keras(case):
    model = _masked_model(MASKED[case]())
    x = _padded()
    c_model = codegen.to_c(model, quantization="float32", name=f"mask_{case}")
    assert c_model.masking
    report = codegen.verify(model, x, c_model=c_model)
    assert report.max_abs_diff <= 1e-4, report
    # Without the skip the padded rows would differ: the check above is not vacuous.
    unmasked = keras.Sequential([keras.Input((T, F)), *model.layers[1:]])
    assert np.max(np.abs(unmasked.predict(x, verbose=0) - model.predict(x, verbose=0))) > 1e-3


def test_masking_with_a_nonzero_value_in_int8_and_integer_only():
    model = _masked_model(MASKED["lstm"](), mask_value=-1.0)
    x = _padded(mask_value=-1.0)
    assert codegen.verify(model, x, quantization="int8").argmax_agreement == 1.0
    # Integer-only: the mask value is compared in the int8 input domain (-1 / scale exactly).
    c_model = codegen.to_c(model, integer_only=True, input_scale=1.0 / 64, name="mask_q")
    report = codegen.verify(model, np.clip(x, -1.98, 1.98), c_model=c_model)
    assert report.argmax_agreement == 1.0 and report.max_abs_diff < 0.02, report


def test_streaming_keeps_the_state_on_a_masked_frame():
    model = _masked_model(MASKED["lstm"]())
    x = _padded()[:4]  # post-padded: the last three frames are masked
    compiled = codegen.compile_c(codegen.to_c(model, quantization="float32"))
    try:
        streamed = compiled.stream(x)
    finally:
        compiled.close()
    np.testing.assert_array_equal(streamed[:, 5], streamed[:, -1])
    np.testing.assert_allclose(streamed[:, -1], model.predict(x, verbose=0), atol=1e-4)


def test_other_masks_are_refused_with_the_way_out():
    embedded = keras.Sequential([keras.Input((T,)), keras.layers.Embedding(20, F, mask_zero=True,
                                                                           name="tokens"),
                                 keras.layers.LSTM(3), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"'tokens'.*mask_zero.*Masking"):
        codegen.to_c(embedded)
    late = keras.Sequential([keras.Input((T, F)), keras.layers.LSTM(3, return_sequences=True),
                             keras.layers.Masking(name="late_mask"), keras.layers.LSTM(2)])
    with pytest.raises(ValueError, match=r"'late_mask'.*Masking must come first"):
        codegen.to_c(late)
