"""Integer-only C (``integer_only=True``): no floating point, Q16 activations, integer rescale.

Checked against Keras (random models here; trained, pruned models on the data sets' test splits
in the slow tests), the fixed-point functions against the exact ones, and the source text for
any float.  The Cortex-M0 build without soft-float helpers is in ``test_codegen_mcu.py``.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess

import numpy as np
import pytest
from test_codegen import CASES, F, T, random_model
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import codegen, datasets
from tf_expander_pruning.deployment.codegen.packing import quantize_multiplier

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(11).normal(size=(48, T, F)).astype(np.float32)


@pytest.mark.parametrize("case", list(CASES))
def test_integer_only_c_agrees_with_keras(case, inputs):
    model = random_model(CASES[case]())
    report = codegen.verify(model, inputs, integer_only=True)
    assert report.quantization == "int8-integer"
    assert report.max_abs_diff < 0.05, report
    assert report.argmax_agreement >= 0.95, report


def test_the_source_has_no_floating_point(inputs):
    model = random_model(CASES["stacked"]())
    c_model = codegen.to_c(model, integer_only=True, input_scale=0.03, name="intnet")
    float_syntax = re.compile(r"\b(float|double)\b|\d\.\d*f?\b|\d[eE][-+]?\d")

    def code(text):  # without comments
        return re.sub(r"/\*.*?\*/", "", text, flags=re.S)

    assert not float_syntax.search(code(c_model.source))
    header = [line for line in c_model.header.splitlines() if "INPUT_SCALE 0." not in line]
    assert not float_syntax.search(code("\n".join(header)))
    assert "int intnet_predict_q(const int8_t *input, int n_steps, int32_t *output);" \
        in c_model.header
    assert "#define INTNET_INPUT_SCALE 0.03" in c_model.header
    np.testing.assert_array_equal(c_model.quantize_inputs(np.array([0.03, -10.0, 0.044])),
                                  [1, -127, 1])


def test_quantize_multiplier_represents_the_scale():
    scales = np.array([1e-6, 3.3e-3, 0.0078125, 0.5, 1.0, 7.9, 1234.5, 0.0])
    mult, shift = quantize_multiplier(scales)
    assert np.all((mult[:-1] >= 1 << 30) & (mult[:-1] < 2**31 - 1 + 1))
    approx = mult.astype(np.float64) * 2.0 ** -shift.astype(np.float64)
    np.testing.assert_allclose(approx, scales, rtol=2.0**-30)
    assert mult[-1] == 0


def test_fixed_point_activation_error_bounds(tmp_path):
    src = tmp_path / "qact.c"
    src.write_text(
        "#include <stdint.h>\n" + codegen.integer_activation_c("a")
        + "\nvoid run(const int32_t *x, int n, int32_t *t, int32_t *s, int32_t *h) {\n"
        "    int i; for (i = 0; i < n; ++i) { t[i] = a_tanh(x[i]); s[i] = a_sigmoid(x[i]);"
        " h[i] = a_hard_sigmoid(x[i]); }\n}\n"
        "void run_exp(const int32_t *x, int n, int32_t *e) {\n"
        "    int i; for (i = 0; i < n; ++i) e[i] = a_exp(x[i]);\n}\n"
        "int32_t other(int32_t x) { return a_relu(x) + a_linear(x) + a_qmul(x, x)"
        " + a_requant(x, 1 << 30, 31); }\n")
    lib_path = tmp_path / "libqact.so"
    subprocess.run(["cc", "-std=c99", "-O2", "-shared", "-fPIC", "-o", str(lib_path), str(src)],
                   check=True)
    lib = ctypes.CDLL(str(lib_path))
    q16 = np.concatenate([np.arange(-12 << 16, 12 << 16, 7), [2**31 - 1, -(2**31) + 1]])
    x = np.ascontiguousarray(q16, dtype=np.int32)
    t, s, h = (np.zeros_like(x) for _ in range(3))
    ip = ctypes.POINTER(ctypes.c_int32)
    lib.run(x.ctypes.data_as(ip), len(x), t.ctypes.data_as(ip), s.ctypes.data_as(ip),
            h.ctypes.data_as(ip))
    real = x.astype(np.float64) / 65536
    assert np.max(np.abs(t / 65536 - np.tanh(real))) <= codegen.QTANH_MAX_ABS_ERROR
    assert np.max(np.abs(s / 65536 - 1 / (1 + np.exp(-real)))) <= codegen.QSIGMOID_MAX_ABS_ERROR
    hard = np.clip(0.2 * real + 0.5, 0, 1)
    assert np.max(np.abs(h / 65536 - hard)) <= 2.0 / 65536
    neg = np.ascontiguousarray(x[x <= 0])
    e = np.zeros_like(neg)
    lib.run_exp(neg.ctypes.data_as(ip), len(neg), e.ctypes.data_as(ip))
    assert np.max(np.abs(e / 65536 - np.exp(neg / 65536))) <= codegen.QEXP_MAX_ABS_ERROR
    assert np.all(np.diff(t[:-2]) >= 0)  # monotone, as the exact tanh


def test_integer_only_argument_errors():
    model = random_model(CASES["lstm"]())
    with pytest.raises(ValueError, match="quantization='int8'"):
        codegen.to_c(model, quantization="float32", integer_only=True, input_scale=0.1)
    with pytest.raises(ValueError, match="input_scale"):
        codegen.to_c(model, integer_only=True)
    with pytest.raises(TypeError, match="integer_only"):
        codegen.to_c(model, integer_only="yes", input_scale=0.1)
    with pytest.raises(ValueError, match="input_scale"):
        codegen.to_c(model, integer_only=True, input_scale=-1.0)


# ------------------------------------------------------------------ data sets (slow)


def _load(name: str, split: str):
    """The research loaders (digits, and mnist_5k / mnist1d from the [data] extra)."""
    return datasets.load(name, split)


def _pruned(layer, x, y, sparsity=0.8, epochs=8, seed=0):
    """Train, magnitude-prune both recurrent matrices, fine-tune with the mask held."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(x.shape[1:]), layer,
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    weights = layer.get_weights()
    masks = [np.abs(w) > np.quantile(np.abs(w), sparsity) for w in weights[:2]]

    def apply(*_):
        w = layer.get_weights()
        layer.set_weights([w[0] * masks[0], w[1] * masks[1], *w[2:]])

    apply()
    model.fit(x, y, epochs=max(2, epochs // 3), batch_size=64, verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=apply)])
    return model


DATA = {
    "digits": lambda: keras.layers.LSTM(64),  # the demo model's shape
    "mnist1d": lambda: keras.layers.GRU(64),
    "mnist_5k": lambda: keras.layers.LSTM(64),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DATA))
def test_integer_only_agreement_on_data_sets(name):
    x, y = _load(name, "train")
    x_test, y_test = _load(name, "test")
    model = _pruned(DATA[name](), x, y)
    report = codegen.verify(model, x_test, labels=y_test, integer_only=True)
    assert report.argmax_agreement >= 0.97, report
    assert report.runtime_accuracy >= report.keras_accuracy - 0.02, report
    assert report.keras_accuracy > 0.2, report  # above chance (0.1): it learned something
