"""Streaming C: ``NAME_reset`` + ``NAME_step`` per frame equals ``NAME_predict`` on the prefix."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from test_codegen import CASES, F, T, random_model

from tf_expander_pruning import codegen

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")

UNIDIRECTIONAL = ["simple_rnn", "lstm", "gru_reset_after", "gru_reset_before", "stacked"]
MODES = {"float32": {"quantization": "float32"}, "int8": {"quantization": "int8"},
         "integer": {"quantization": "int8", "integer_only": True, "input_scale": 3.5 / 127}}


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(7).normal(size=(12, T, F)).astype(np.float32)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", UNIDIRECTIONAL)
def test_stepping_t_frames_equals_predict(case, mode, frames):
    model = random_model(CASES[case](), timesteps=None)  # so Keras also runs the prefixes
    c_model = codegen.to_c(model, name=f"s_{case}", **MODES[mode])
    assert c_model.streaming
    suffix = "_q" if mode == "integer" else ""
    assert f"void s_{case}_reset(void);" in c_model.header
    assert f"void s_{case}_step{suffix}(" in c_model.header
    compiled = codegen.compile_c(c_model)
    try:
        streamed = compiled.stream(frames)
        # After frame t the step output is the model's output on the first t + 1 frames: the
        # same C arithmetic in the same order, so equal bit for bit.
        for t in range(T):
            np.testing.assert_array_equal(streamed[:, t], compiled.predict(frames[:, : t + 1]))
    finally:
        compiled.close()
    if mode == "float32":  # and it is the Keras model's output after each prefix
        for t in (0, T // 2, T - 1):
            expected = model.predict(frames[:, : t + 1], verbose=0)
            np.testing.assert_allclose(streamed[:, t], expected, atol=1e-4)


def test_reset_starts_a_new_stream(frames):
    model = random_model(CASES["lstm"]())
    compiled = codegen.compile_c(codegen.to_c(model, quantization="float32"))
    try:
        once = compiled.stream(frames[:1])
        again = compiled.stream(frames[:1])  # run_stream resets before each sequence
        np.testing.assert_array_equal(once, again)
    finally:
        compiled.close()


def test_bidirectional_models_do_not_stream(frames):
    model = random_model(CASES["bidirectional"]())
    c_model = codegen.to_c(model, quantization="float32", name="bi")
    assert not c_model.streaming
    assert "bi_step" not in c_model.header and "void bi_reset(void);" in c_model.header
    compiled = codegen.compile_c(c_model)
    try:
        with pytest.raises(ValueError, match="Bidirectional"):
            compiled.stream(frames)
    finally:
        compiled.close()


def test_firmware_style_program_streams(tmp_path, frames):
    """A plain C main that feeds frames one by one, as firmware would."""
    model = random_model(CASES["gru_reset_after"]())
    c_model = codegen.to_c(model, quantization="float32", name="net")
    c_model.write(tmp_path)
    values = ", ".join(f"{v:.9g}f" for v in frames[0].ravel())
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "net.h"\n'
        f"static const float x[{T * F}] = {{{values}}};\n"
        "int main(void) {\n"
        "    float y[NET_N_OUTPUTS]; int t, j;\n"
        "    net_reset();\n"
        f"    for (t = 0; t < {T}; ++t) net_step(x + t * NET_N_FEATURES, y);\n"
        '    for (j = 0; j < NET_N_OUTPUTS; ++j) printf("%.9g\\n", y[j]);\n'
        "    return 0;\n}\n")
    exe = tmp_path / "net"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-o", str(exe),
                    str(tmp_path / "main.c"), str(tmp_path / "net.c")], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    got = np.array([float(v) for v in out.split()])
    np.testing.assert_allclose(got, model.predict(frames[:1], verbose=0)[0], atol=1e-4)
