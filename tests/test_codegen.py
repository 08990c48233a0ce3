"""Sparse C code generation: parity with Keras, storage formats, activation bounds, sizes, CLI."""

from __future__ import annotations

import ctypes
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import scipy.sparse
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import codegen, datasets

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")

T, F = 6, 5


def random_model(layers, *, timesteps=T, sparsity=0.8, seed=0):
    """Random model; recurrent kernels magnitude-pruned so the sparse formats are exercised."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((timesteps, F))] + layers)
    for weight in model.weights:
        value = weight.numpy()
        if "bias" in weight.name:  # non-zero biases so bias handling is tested too
            weight.assign(rng.normal(scale=0.3, size=value.shape).astype(np.float32))
        elif "kernel" in weight.name and "dense" not in weight.name:
            cut = np.quantile(np.abs(value), sparsity)
            weight.assign(np.where(np.abs(value) > cut, value, 0.0).astype(np.float32))
    return model


CASES = {
    "simple_rnn": lambda: [keras.layers.SimpleRNN(7), keras.layers.Dense(3, activation="softmax")],
    "lstm": lambda: [keras.layers.LSTM(9), keras.layers.Dense(4)],
    "gru_reset_after": lambda: [
        keras.layers.GRU(8, reset_after=True),
        keras.layers.Dense(4, activation="softmax"),
    ],
    "gru_reset_before": lambda: [keras.layers.GRU(8, reset_after=False), keras.layers.Dense(4)],
    "stacked": lambda: [
        keras.layers.LSTM(8, return_sequences=True),
        keras.layers.GRU(6, return_sequences=True, reset_after=False),
        keras.layers.SimpleRNN(5, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ],
    "bidirectional": lambda: [
        keras.layers.Bidirectional(keras.layers.LSTM(6, return_sequences=True)),
        keras.layers.Bidirectional(keras.layers.GRU(4), merge_mode="sum"),
        keras.layers.Dense(3),
    ],
    "lstm_then_bidirectional": lambda: [
        keras.layers.LSTM(5, return_sequences=True),
        keras.layers.Bidirectional(
            keras.layers.SimpleRNN(4, return_sequences=True), merge_mode="ave"
        ),
        keras.layers.GRU(3),
        keras.layers.Dense(2),
    ],
}


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(1).normal(size=(24, T, F)).astype(np.float32)


@pytest.mark.parametrize("case", list(CASES))
def test_float32_c_matches_keras(case, inputs):
    model = random_model(CASES[case]())
    c_model = codegen.to_c(model, quantization="float32", name=f"m_{case}")
    assert any(m.format != "dense" for m in c_model.matrices), "sparse formats not exercised"
    report = codegen.verify(model, inputs, quantization="float32", c_model=c_model)
    assert report.max_abs_diff <= 1e-4
    assert report.argmax_agreement == 1.0
    assert report.flash_bytes == c_model.flash_bytes > 0
    assert set(report.to_dict()) >= {"max_abs_diff", "argmax_agreement", "flash_bytes",
                                     "ram_bytes"}


@pytest.mark.parametrize("case", ["simple_rnn", "lstm", "gru_reset_after", "gru_reset_before"])
def test_int8_c_close_to_keras(case, inputs):
    model = random_model(CASES[case]())
    report = codegen.verify(model, inputs, quantization="int8")
    # Logits/probabilities of these small random models are O(1); int8 noise stays far below.
    assert report.max_abs_diff < 0.05
    assert report.argmax_agreement >= 0.9


@pytest.mark.parametrize("quantization", ["float32", "int8"])
@pytest.mark.parametrize("sparse_format", ["dense", "csr", "bcsr", "bitmap"])
def test_every_storage_format_runs_correctly(sparse_format, quantization):
    """Force each format on every matrix (8-wide inputs so 1x4 blocks apply everywhere)."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((T, 8)),
        keras.layers.LSTM(8, return_sequences=True),
        keras.layers.GRU(8, reset_after=False),
        keras.layers.Dense(4, activation="softmax"),
    ])
    for weight in model.weights:
        if "kernel" in weight.name:
            value = weight.numpy()
            weight.assign(np.where(np.abs(value) > np.quantile(np.abs(value), 0.7), value, 0))
    x = np.random.default_rng(3).normal(size=(16, T, 8)).astype(np.float32)
    c_model = codegen.to_c(model, quantization=quantization, sparse_format=sparse_format)
    assert {m.format for m in c_model.matrices} == {sparse_format}
    report = codegen.verify(model, x, c_model=c_model)
    assert report.max_abs_diff <= (1e-4 if quantization == "float32" else 0.03)


def test_generated_c_compiles_without_warnings_and_sizes_match_object(tmp_path):
    model = random_model(CASES["bidirectional"]())
    c_model = codegen.to_c(model, quantization="int8", name="sized")
    c_model.write(tmp_path)
    obj = tmp_path / "sized.o"
    proc = subprocess.run(
        ["cc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-O2", "-c", "-o", str(obj),
         str(tmp_path / "sized.c")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    # -O0 so the compiler keeps every array as its own symbol (at -O2 tiny ones get folded).
    subprocess.run(["cc", "-std=c99", "-O0", "-c", "-o", str(obj), str(tmp_path / "sized.c")],
                   check=True)
    assert "malloc" not in c_model.source and "#include <math.h>" not in c_model.source
    # Every const array is in read-only data, every buffer in .bss, with the sizes we report.
    nm = subprocess.run(["nm", "-S", str(obj)], capture_output=True, text=True, check=True)
    const, bss = {}, {}
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            size, kind, name = int(parts[1], 16), parts[2], parts[3]
            (const if kind in "rR" else bss if kind in "bB" else {})[name] = size
    for name, size in c_model.flash_arrays.items():
        assert const[name] == size, name
    for name, size in c_model.ram_buffers.items():
        assert bss[name] == size, name
    assert sum(bss.values()) == c_model.ram_bytes
    assert f"#define SIZED_FLASH_BYTES {c_model.flash_bytes}" in c_model.header


def test_executable_links_against_header(tmp_path, inputs):
    """The pair is usable from a plain C program (not just through ctypes)."""
    model = random_model(CASES["lstm"]())
    c_model = codegen.to_c(model, quantization="float32", name="net")
    c_model.write(tmp_path)
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "net.h"\n'
        "int main(void) {\n"
        f"    static const float x[{T * F}] = {{"
        + ", ".join(f"{v:.9g}f" for v in inputs[0].ravel())
        + "};\n"
        "    float y[NET_N_OUTPUTS]; int j;\n"
        f"    if (net_predict(x, {T}, y) != 0) return 1;\n"
        '    for (j = 0; j < NET_N_OUTPUTS; ++j) printf("%.9g\\n", y[j]);\n'
        "    return 0;\n}\n"
    )
    exe = tmp_path / "net"
    subprocess.run(["cc", "-std=c99", "-O2", "-o", str(exe), str(tmp_path / "main.c"),
                    str(tmp_path / "net.c")], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    got = np.array([float(v) for v in out.split()])
    np.testing.assert_allclose(got, model.predict(inputs[:1], verbose=0)[0], atol=1e-4)


@pytest.mark.slow
def test_variable_length_and_bidirectional_max_steps():
    model = random_model([keras.layers.GRU(6), keras.layers.Dense(3)], timesteps=None)
    compiled = codegen.compile_c(codegen.to_c(model, quantization="float32"))
    try:
        for steps in (1, 4, 11):
            x = np.random.default_rng(steps).normal(size=(3, steps, F)).astype(np.float32)
            np.testing.assert_allclose(compiled.predict(x), model.predict(x, verbose=0),
                                       atol=1e-4)
    finally:
        compiled.close()
    bi = random_model([keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True)),
                 keras.layers.LSTM(3), keras.layers.Dense(2)], timesteps=None)
    with pytest.raises(ValueError, match="max_steps"):
        codegen.to_c(bi, quantization="float32")
    c_model = codegen.to_c(bi, quantization="float32", max_steps=9)
    assert c_model.max_steps == 9
    compiled = codegen.compile_c(c_model)
    try:
        x = np.random.default_rng(0).normal(size=(2, 7, F)).astype(np.float32)
        np.testing.assert_allclose(compiled.predict(x), bi.predict(x, verbose=0), atol=1e-4)
        with pytest.raises(ValueError, match="n_steps=10"):
            compiled.predict(np.zeros((1, 10, F), np.float32))
    finally:
        compiled.close()


# ------------------------------------------------------------------ storage formats


def _sparse_matrix(rows, cols, density, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(rows, cols)).astype(np.float32)
    return m * (rng.random((rows, cols)) < density)


def test_csr_structure_matches_scipy():
    m = _sparse_matrix(40, 300, 0.15)  # 300 columns: uint16 column indices
    packed = codegen.pack_matrix(m, "float32", "csr")
    ref = scipy.sparse.csr_matrix(m)
    ref.sort_indices()
    np.testing.assert_array_equal(packed.indptr, ref.indptr)
    np.testing.assert_array_equal(packed.indices, ref.indices)
    np.testing.assert_array_equal(packed.values, ref.data)
    assert packed.indices.dtype == np.uint16 and packed.indptr.dtype == np.uint16
    assert packed.nnz == ref.nnz
    np.testing.assert_array_equal(packed.dense(), m)


def test_int8_per_row_scales_and_blocked_csr():
    m = _sparse_matrix(32, 64, 0.2, seed=3)
    m[5] = 0.0  # an empty row must not break scales or pointers
    packed = codegen.pack_matrix(m, "int8", "bcsr")
    assert packed.format == "bcsr" and packed.values.dtype == np.int8
    amax = np.abs(m).max(axis=1)
    np.testing.assert_allclose(packed.scales[amax > 0], amax[amax > 0] / 127.0, rtol=1e-6)
    # Per-row dequantisation error is at most half a quantisation step of that row.
    err = np.abs(packed.dense() - m)
    assert np.all(err <= packed.scales[:, None] / 2 + 1e-7)
    assert packed.indptr[6] == packed.indptr[5]
    blocks = (np.abs(m).reshape(32, 16, 4) > 0).any(axis=2)
    q = np.round(m / packed.scales[:, None])
    blocks_q = (q.reshape(32, 16, 4) != 0).any(axis=2)
    assert int(packed.indptr[-1]) == int(blocks_q.sum()) <= int(blocks.sum())


def test_auto_format_picks_the_smallest():
    dense_m = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
    assert codegen.pack_matrix(dense_m, "int8").format == "dense"
    sparse_m = _sparse_matrix(128, 64, 0.1)
    p = codegen.pack_matrix(sparse_m, "int8")
    assert p.format == "csr"
    nnz = int((np.round(sparse_m / p.scales[:, None]) != 0).sum())
    # values (1 B) + uint8 column indices + uint16 row pointers
    assert p.weight_bytes == p.candidate_bytes["csr"] == 2 * nnz + 2 * 129
    # At 10 % density bitmap (slower to decode) is not a candidate for auto, even if smaller.
    assert p.weight_bytes == min(v for f, v in p.candidate_bytes.items() if f != "bitmap")
    assert p.candidate_bytes["bitmap"] == nnz + 128 * 64 // 8
    half = _sparse_matrix(128, 64, 0.5, seed=4)  # at 50 %: one bit per weight beats indices
    packed = codegen.pack_matrix(half, "int8")
    assert packed.format == "bitmap" and packed.indptr is None
    assert packed.weight_bytes == packed.candidate_bytes["bitmap"] == min(
        packed.candidate_bytes.values())
    q = np.round(half / packed.scales[:, None])
    np.testing.assert_array_equal(np.round(packed.dense() / packed.scales[:, None]), q)
    block_m = np.kron(_sparse_matrix(64, 16, 0.15, seed=2), np.ones((1, 4), np.float32))
    assert codegen.pack_matrix(block_m, "float32").format == "bcsr"


def test_emitted_arrays_equal_packed_arrays():
    model = random_model(CASES["lstm"]())
    c_model = codegen.to_c(model, quantization="int8", name="arr")
    for m in c_model.matrices:
        if m.format != "csr":
            continue
        for suffix, array in (("val", m.values), ("idx", m.indices), ("ptr", m.indptr)):
            match = re.search(rf"arr_{m.name}_{suffix}\[\d+\] = \{{(.*?)\}};", c_model.source,
                              re.S)
            assert match, (m.name, suffix)
            emitted = np.array([int(v) for v in match.group(1).replace("\n", " ").split(",")])
            np.testing.assert_array_equal(emitted, array.astype(np.int64))
        # The Keras kernel is (in, out): the C matrix is its transpose.
        layer = model.get_layer(m.layer)
        kernel = layer.get_weights()[0 if m.role == "W" else 1]
        np.testing.assert_allclose(m.dense(), kernel.T, atol=float(m.scales.max()) / 2 + 1e-7)


# ------------------------------------------------------------------ activations


def test_activation_error_bounds(tmp_path):
    src = tmp_path / "act.c"
    src.write_text(
        "#include <stdint.h>\n" + codegen.ACTIVATION_C.replace("PFX", "a")
        + "\nvoid run(const float *x, int n, float *t, float *s, float *e) {\n"
        "    int i; for (i = 0; i < n; ++i) { t[i] = a_tanh(x[i]); s[i] = a_sigmoid(x[i]);"
        " e[i] = a_exp(x[i]); }\n}\n"
        "float other(float x) { return a_hard_sigmoid(x) + a_relu(x) + a_linear(x); }\n"
    )
    lib_path = tmp_path / "libact.so"
    subprocess.run(["cc", "-std=c99", "-O2", "-shared", "-fPIC", "-o", str(lib_path), str(src)],
                   check=True)
    lib = ctypes.CDLL(str(lib_path))
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(-30, 30, 1_200_001),
        np.linspace(-1e-3, 1e-3, 20_001),  # around the small-|x| shortcut
        rng.normal(scale=4, size=200_000),
        [7.9053111, -7.9053111, 0.0004, -0.0004, 0.0],
    ]).astype(np.float32)
    t, s, e = (np.zeros_like(x) for _ in range(3))
    fp = ctypes.POINTER(ctypes.c_float)
    lib.run(x.ctypes.data_as(fp), len(x), t.ctypes.data_as(fp), s.ctypes.data_as(fp),
            e.ctypes.data_as(fp))
    xd = x.astype(np.float64)
    assert np.max(np.abs(t - np.tanh(xd))) <= codegen.TANH_MAX_ABS_ERROR
    assert np.max(np.abs(s - 1.0 / (1.0 + np.exp(-xd)))) <= codegen.SIGMOID_MAX_ABS_ERROR
    inside = (xd > -87) & (xd < 88)
    rel = np.abs(e[inside] - np.exp(xd[inside])) / np.exp(xd[inside])
    assert np.max(rel) <= codegen.EXP_MAX_REL_ERROR
    assert np.all(np.abs(t) <= 1.0) and np.all((s >= 0) & (s <= 1))


# ------------------------------------------------------------------ errors


def test_unsupported_layers_are_named():
    conv = keras.Sequential([keras.Input((T, F)), keras.layers.Conv1D(4, 3, name="my_conv"),
                             keras.layers.LSTM(3), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"'my_conv'.*Conv1D.*Supported: .*LSTM"):
        codegen.to_c(conv)
    seq = keras.Sequential([keras.Input((T, F)), keras.layers.LSTM(3, return_sequences=True)])
    with pytest.raises(ValueError, match="return_sequences"):
        codegen.to_c(seq)
    with pytest.raises(ValueError, match="quantization"):
        codegen.to_c(random_model(CASES["lstm"]()), quantization="int4")
    with pytest.raises(TypeError):
        codegen.to_c("not a model")


# ------------------------------------------------------------------ trained, pruned LSTM


@pytest.fixture(scope="module")
def pruned_digits_lstm():
    """A tiny LSTM trained on digits, magnitude-pruned to 85 % and fine-tuned with the mask."""
    x, y = datasets.load("digits", "train")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(24, name="lstm"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    lstm = model.get_layer("lstm")
    weights = lstm.get_weights()
    masks = []
    for i in (0, 1):
        cut = np.quantile(np.abs(weights[i]), 0.85)
        masks.append(np.abs(weights[i]) > cut)
        weights[i] = weights[i] * masks[i]
    lstm.set_weights(weights)

    class KeepMask(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            w = lstm.get_weights()
            lstm.set_weights([w[0] * masks[0], w[1] * masks[1], w[2]])

    model.fit(x, y, epochs=4, batch_size=64, verbose=0, callbacks=[KeepMask()])
    return model


@pytest.mark.slow
def test_int8_pruned_lstm_on_digits(pruned_digits_lstm):
    x, y = datasets.load("digits", "test")
    c_model = codegen.to_c(pruned_digits_lstm, quantization="int8")
    recurrent = [m for m in c_model.matrices if m.layer == "lstm"]
    assert all(m.sparsity >= 0.8 for m in recurrent)
    assert all(m.format == "csr" for m in recurrent)
    dense_bytes = sum(m.rows * m.cols for m in c_model.matrices)  # int8 dense storage
    assert c_model.weight_bytes < 0.6 * dense_bytes
    report = codegen.verify(pruned_digits_lstm, x, labels=y, c_model=c_model)
    assert report.argmax_agreement >= 0.97, report
    assert report.c_accuracy >= report.keras_accuracy - 0.03
    assert report.keras_accuracy > 0.5  # the fixture really learned something


@pytest.mark.slow
def test_tfmot_wrapped_model_is_stripped(pruned_digits_lstm, tmp_path):
    from tf_expander_pruning.keras_compat import tfmot

    sparsity = tfmot.sparsity.keras
    wrapped = sparsity.prune_low_magnitude(
        keras.models.clone_model(pruned_digits_lstm),
        pruning_schedule=sparsity.ConstantSparsity(0.8, begin_step=0, frequency=1),
    )
    wrapped.compile("adam", "sparse_categorical_crossentropy")
    x, y = datasets.load("digits", "train")
    wrapped.fit(x[:128], y[:128], epochs=1, batch_size=64, verbose=0,
                callbacks=[sparsity.UpdatePruningStep()])
    c_model = codegen.to_c(wrapped, quantization="float32")
    assert min(m.sparsity for m in c_model.matrices if m.layer.endswith("lstm")) >= 0.79
    report = codegen.verify(wrapped, x[:64], quantization="float32", c_model=c_model)
    assert report.max_abs_diff <= 1e-4
    # A still-wrapped SavedModel must come back as wrappers (not revived generic layers) in the CLI.
    from tf_expander_pruning import cli

    wrapped.save(tmp_path / "wrapped_sm", save_format="tf")
    assert cli.main(["codegen", str(tmp_path / "wrapped_sm"), "--out", str(tmp_path / "c"),
                     "--quantization", "float32"]) == 0
    assert (tmp_path / "c" / "model.c").read_text().count("_ptr[") >= 2  # sparse LSTM matrices


# ------------------------------------------------------------------ CLI


def test_cli_codegen_writes_and_verifies(tmp_path, capsys):
    from tf_expander_pruning import cli

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(6),
                              keras.layers.Dense(10, activation="softmax")])
    path = tmp_path / "m.keras"
    model.save(path)
    out = tmp_path / "c"
    status = cli.main(["codegen", str(path), "--out", str(out), "--quantization", "float32",
                       "--name", "digits_net", "--verify", "--json"])
    printed = capsys.readouterr().out
    assert status == 0
    assert (out / "digits_net.h").exists() and (out / "digits_net.c").exists()
    report = json.loads(printed[printed.index("{"):])
    assert report["max_abs_diff"] <= 1e-4 and report["samples"] == 450
    assert report["target"] == "host"
    assert cli.main(["codegen", str(tmp_path / "missing.keras"), "--out", str(out)]) == 1
