"""Generated C on emulated Cortex-M cores (QEMU): outputs equal the host build, sizes and
instruction counts come from the linked image, integer-only C links without soft-float helpers.

A missing toolchain is an error (``mcu.ensure_toolchain`` names the packages), not a skip.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from test_codegen import CASES, F, T, random_model
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import codegen

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")

SOFT_FLOAT = re.compile(r"^__aeabi_(f|d|[il]2[fd]|ui?2[fd]|[fd]2)|^__(add|sub|mul|div)[sd]f3$"
                        r"|^__(fix|float)")
MODES = {"float32": {"quantization": "float32"}, "int8": {"quantization": "int8"},
         "integer": {"quantization": "int8", "integer_only": True, "input_scale": 4.0 / 127}}


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(5).normal(size=(6, T, F)).astype(np.float32)


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m0"])
@pytest.mark.parametrize("mode", list(MODES))
def test_core_outputs_equal_the_host_build(target, mode, frames):
    model = random_model(CASES["gru_reset_after"]())
    c_model = codegen.to_c(model, name="net", **MODES[mode])
    host, _ = codegen.run_c_model(c_model, frames, "host")
    on_core, measured = codegen.run_c_model(c_model, frames, target)
    np.testing.assert_array_equal(on_core, host)  # same C, same numbers, bit for bit
    # The model object alone: its constants are the arrays the generator counted.
    symbols = measured["symbols"]
    assert sum(symbols.get(k, 0) for k in c_model.flash_arrays) <= measured["flash_bytes"]
    assert c_model.flash_bytes <= measured["flash_bytes"] < c_model.flash_bytes + 8000
    assert measured["ram_bytes"] == c_model.ram_bytes
    assert measured["code_bytes"] > 200
    assert measured["instructions_per_inference"] > 1000
    floats = sorted(name for name in symbols if SOFT_FLOAT.search(name))
    if target == "cortex-m0":
        # The whole image (model, harness, C library): float C needs the helpers, integer none.
        assert (floats == []) == (mode == "integer"), floats


def test_verify_reports_the_core_run(frames):
    model = random_model(CASES["stacked"]())
    host = codegen.verify(model, frames, quantization="int8", integer_only=True)
    report = codegen.verify(model, frames, quantization="int8", integer_only=True,
                            target="cortex-m0")
    assert report.target == "cortex-m0" and host.target == "host"
    assert report.max_abs_diff == host.max_abs_diff
    assert report.argmax_agreement == host.argmax_agreement
    assert report.instructions_per_inference > 0 and report.code_bytes > 0
    assert report.flash_bytes > report.model_bytes > 0
    assert host.instructions_per_inference is None
    with pytest.raises(ValueError, match="target"):
        codegen.verify(model, frames, target="cortex-m7")


def test_sparser_recurrent_weights_need_fewer_instructions(frames):
    """Instruction counts track the work: 95 % sparse weights run faster than 30 %."""
    counts = []
    for sparsity in (0.3, 0.95):
        model = random_model([keras.layers.LSTM(32), keras.layers.Dense(4)], sparsity=sparsity)
        c_model = codegen.to_c(model, quantization="int8", sparse_format="csr")
        counts.append(codegen.run_c_model(c_model, frames, "cortex-m4")[1]
                      ["instructions_per_inference"])
    assert counts[1] < 0.5 * counts[0], counts


def test_cli_integer_only_on_cortex_m0(tmp_path, capsys):
    import json

    from tf_expander_pruning import cli

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.GRU(6),
                              keras.layers.Dense(10, activation="softmax")])
    path = tmp_path / "m.keras"
    model.save(path)
    status = cli.main(["codegen", str(path), "--out", str(tmp_path / "c"), "--integer-only",
                       "--verify", "--target", "cortex-m0", "--json"])
    printed = capsys.readouterr().out
    assert status == 0
    report = json.loads(printed[printed.index("{"):])
    assert report["target"] == "cortex-m0" and report["quantization"] == "int8-integer"
    assert report["samples"] == 450 and report["instructions_per_inference"] > 0
    assert report["argmax_agreement"] >= 0.9
    assert "int model_predict_q(const int8_t *input" in (tmp_path / "c" / "model.h").read_text()
