"""Issue 23 item 3: one quantization vocabulary for to_tflite, to_c/verify, the CLI and reports.

Old spellings (``None``, ``"fp32"``) still work, warn with the new spelling and give the same
result; unknown values raise a ValueError that lists the choices."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import codegen, export
from tf_expander_pruning.core.quantization import (
    C_QUANTIZATIONS,
    QUANTIZATIONS,
    STORED_FORMS,
    TFLITE_QUANTIZATIONS,
    normalize_quantization,
)


@pytest.fixture(scope="module")
def lstm():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4),
                             keras.layers.Dense(3)])


def _warning(record, new: str):
    (caught,) = [w for w in record if issubclass(w.category, DeprecationWarning)]
    assert repr(new) in str(caught.message) and "deprecated" in str(caught.message)
    assert caught.filename == __file__  # attributed to the caller, not to the package
    return caught


def test_one_vocabulary():
    assert set(TFLITE_QUANTIZATIONS) <= set(QUANTIZATIONS)
    assert set(C_QUANTIZATIONS) <= set(QUANTIZATIONS)
    assert export.QUANTIZATIONS == TFLITE_QUANTIZATIONS
    assert set(STORED_FORMS) - set(QUANTIZATIONS) == {"weights-int8"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the canonical spellings never warn
        assert [normalize_quantization(q) for q in QUANTIZATIONS] == list(QUANTIZATIONS)


@pytest.mark.parametrize("old", [None, "fp32"])
def test_old_spellings_warn_and_mean_float32(old):
    with pytest.warns(DeprecationWarning) as record:
        assert normalize_quantization(old, "quantizations") == "float32"
    assert "`quantizations=" in str(_warning(record, "float32").message)


@pytest.mark.parametrize("bad", ["int4", "FP32", "", 8, ["int8"]])
def test_unknown_values_raise_listing_the_choices(bad):
    with pytest.raises(ValueError, match="`quantization` must be one of 'float32', 'dynamic'"):
        normalize_quantization(bad)
    with pytest.raises(ValueError, match="one of 'float32', 'int8', 'int8-integer', got"):
        normalize_quantization(bad, choices=C_QUANTIZATIONS)


def test_to_tflite_old_spellings_give_the_same_flatbuffer(lstm):
    new = export.to_tflite(lstm, quantization="float32")
    assert new == export.to_tflite(lstm)  # the default
    assert export.quantization_of(new) == "float32"  # reports use the same word
    for old in (None, "fp32"):
        with pytest.warns(DeprecationWarning) as record:
            assert export.to_tflite(lstm, quantization=old) == new
        _warning(record, "float32")
    with pytest.raises(ValueError, match="'float32', 'dynamic', 'float16', 'int8', got 'int8-"):
        export.to_tflite(lstm, quantization="int8-integer")  # C only


def test_size_report_rows_use_the_vocabulary(lstm):
    with pytest.warns(DeprecationWarning) as record:
        report = export.size_report(lstm, quantizations=(None,), measure_arena=False)
    _warning(record, "float32")
    assert [row["quantization"] for row in report.rows] == ["float32"]
    with pytest.raises(ValueError, match="quantizations"):
        export.size_report(lstm, quantizations=("fp16",), measure_arena=False)


def test_to_c_old_spellings_and_int8_integer(lstm):
    new = codegen.to_c(lstm, quantization="float32")
    for old in (None, "fp32"):
        with pytest.warns(DeprecationWarning) as record:
            c_model = codegen.to_c(lstm, quantization=old)
        _warning(record, "float32")
        assert (c_model.source, c_model.quantization) == (new.source, "float32")
    integer = codegen.to_c(lstm, quantization="int8-integer", input_scale=0.01)
    flag = codegen.to_c(lstm, quantization="int8", integer_only=True, input_scale=0.01)
    assert integer.integer_only and integer.source == flag.source
    with pytest.raises(ValueError, match="'float32', 'int8', 'int8-integer', got 'dynamic'"):
        codegen.to_c(lstm, quantization="dynamic")


def test_c_verify_reports_what_it_takes(lstm):
    x = np.random.default_rng(0).normal(size=(6, 5, 3)).astype(np.float32)
    report = codegen.verify(lstm, x, quantization="int8-integer")
    assert report.quantization == "int8-integer"
    with pytest.warns(DeprecationWarning) as record:
        old = codegen.verify(lstm, x, quantization="fp32")
    _warning(record, "float32")
    assert old.quantization == "float32" and old.max_abs_diff <= 1e-4


def test_compile_model_is_a_deprecated_name_of_compile_c(lstm):
    c_model = codegen.to_c(lstm, quantization="float32")
    x = np.random.default_rng(1).normal(size=(3, 5, 3)).astype(np.float32)
    with pytest.warns(DeprecationWarning, match="compile_c") as record:
        old = codegen.compile_model(c_model)
    assert record[0].filename == __file__
    new = codegen.compile_c(c_model)
    try:
        np.testing.assert_array_equal(old.predict(x), new.predict(x))
    finally:
        old.close()
        new.close()


@pytest.mark.parametrize("command, default, choices", [
    ("export", "float32", TFLITE_QUANTIZATIONS),
    ("codegen", "int8", C_QUANTIZATIONS),
])
def test_cli_quantization_option(command, default, choices, capsys):
    from tf_expander_pruning.cli import build_parser

    parser = build_parser()
    base = [command, "m.keras"] + (["--out", "c"] if command == "codegen" else [])
    assert parser.parse_args(base).quantization == default
    for choice in choices:
        assert parser.parse_args(base + ["--quantization", choice]).quantization == choice
    assert capsys.readouterr().err == ""
    assert parser.parse_args(base + ["--quantization", "fp32"]).quantization == "float32"
    assert "--quantization fp32 is deprecated; use --quantization float32" in (
        capsys.readouterr().err)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(base + ["--quantization", "int4"])
    assert exit_info.value.code == 2
    assert ", ".join(repr(c) for c in choices) in capsys.readouterr().err
