"""Tests for tf_expander_pruning.export: the measured support matrix, crash isolation, C arrays,
size reports and compact().

Every cell of {SimpleRNN, LSTM, GRU, Bidirectional(LSTM), stacked LSTM->GRU} x {float32, dynamic,
float16, int8} x {LiteRT, TFLM} is a test.  Each layer type is trained once (module scope) on the
digits train split; int8 agreement is measured on the digits test split.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import TrainedZoo
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import datasets, export
from tf_expander_pruning.deployment.export.children import run_child
from tf_expander_pruning.deployment.export.preparation import has_pruning_wrappers

KINDS = ("simplernn", "lstm", "gru", "bilstm", "stacked")
UNITS = 32  # big enough that dynamic-range quantisation really quantises the weights


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", "train"), datasets.load("digits", "test")


def _build(kind: str):
    inputs = keras.Input(shape=(8, 8))
    if kind == "simplernn":
        x = keras.layers.SimpleRNN(UNITS, name="rnn")(inputs)
    elif kind == "lstm":
        x = keras.layers.LSTM(UNITS, name="lstm")(inputs)
    elif kind == "gru":
        x = keras.layers.GRU(UNITS, name="gru")(inputs)
    elif kind == "bilstm":
        x = keras.layers.Bidirectional(keras.layers.LSTM(UNITS), name="bi")(inputs)
    else:
        x = keras.layers.LSTM(16, return_sequences=True, name="lstm")(inputs)
        x = keras.layers.GRU(UNITS, name="gru")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name=kind)


@pytest.fixture(scope="module")
def zoo(digits):
    return TrainedZoo(digits, _build)


# ------------------------------------------------------------------ the support matrix


@pytest.mark.slow
@pytest.mark.parametrize("runtime", export.RUNTIMES)
@pytest.mark.parametrize("kind", KINDS)
def test_float32_matches_keras(zoo, kind, runtime):
    data = zoo.tflite(kind, None)
    assert export.quantization_of(data) == "float32"
    report = export.verify(data, zoo.model(kind), zoo.x_test[:100], runtime=runtime,
                           labels=zoo.y_test[:100])
    print(f"\nMATRIX {kind} float32 {report} bytes={len(data)}")
    assert report.max_abs_diff <= 1e-5, report
    assert report.argmax_agreement == 1.0
    if runtime == "tflm":
        assert report.arena_bytes and report.arena_bytes > 0
        assert report.ops_missing_in_tflm == []
        assert report.max_steps_vs_litert <= 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("runtime", export.RUNTIMES)
@pytest.mark.parametrize("kind", KINDS)
def test_int8_agrees_with_keras(zoo, kind, runtime):
    data = zoo.tflite(kind, "int8")
    assert export.quantization_of(data) == "int8"
    assert "WHILE" not in export.list_ops(data)  # loops were unrolled for int8
    report = export.verify(data, zoo.model(kind), zoo.x_test, runtime=runtime,
                           labels=zoo.y_test)
    print(f"\nMATRIX {kind} int8 {report} bytes={len(data)}")
    assert report.argmax_agreement >= 0.97, report
    assert report.keras_accuracy >= 0.85  # the model really learned the task
    if runtime == "tflm":
        assert report.arena_bytes and report.arena_bytes > 0


@pytest.mark.slow
def test_int8_in_process_uses_the_child_settings(zoo):
    """isolate=False runs the same converter function in-process: the same flatbuffer."""
    isolated = zoo.tflite("lstm", "int8")
    in_process = export.to_tflite(zoo.model("lstm"), quantization="int8",
                                  representative_data=zoo.x_train, isolate=False)
    assert export.quantization_of(in_process) == "int8"
    assert export.list_ops(in_process) == export.list_ops(isolated)
    report = export.verify(in_process, zoo.model("lstm"), zoo.x_test, runtime="litert",
                           labels=zoo.y_test)
    assert report.argmax_agreement >= 0.97, report


# What "dynamic" turns into, as measured: the MLIR quantizer makes GRU/SimpleRNN (and the
# stacked model's GRU) hybrid; it leaves fused LSTMs in float, so to_tflite falls back to the
# legacy quantizer, which stores int8 weights + DEQUANTIZE (float compute, runs in TFLM).
EXPECTED_DYNAMIC = {"simplernn": "dynamic", "gru": "dynamic", "stacked": "dynamic",
                    "lstm": "weights-int8", "bilstm": "weights-int8"}


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_dynamic_in_litert_and_tflm(zoo, kind):
    data = zoo.tflite(kind, "dynamic")
    assert export.quantization_of(data) == EXPECTED_DYNAMIC[kind]
    assert len(data) < 0.85 * len(zoo.tflite(kind, None))  # the weights really are int8
    report = export.verify(data, zoo.model(kind), zoo.x_test, runtime="litert")
    print(f"\nMATRIX {kind} dynamic {report} bytes={len(data)}")
    assert report.argmax_agreement >= 0.97, report
    if EXPECTED_DYNAMIC[kind] == "dynamic":
        with pytest.raises(export.UnsupportedError, match="do not run in TFLM"):
            export.verify(data, zoo.model(kind), zoo.x_test[:4], runtime="tflm")
    else:
        report = export.verify(data, zoo.model(kind), zoo.x_test[:100], runtime="tflm",
                               measure_arena=False)
        print(f"\nMATRIX {kind} dynamic {report}")
        assert report.argmax_agreement >= 0.97, report
        assert report.max_steps_vs_litert <= 1e-5  # float compute: TFLM matches LiteRT


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_float16_runs_in_litert_and_is_refused_by_tflm(zoo, kind):
    data = zoo.tflite(kind, "float16")
    assert export.quantization_of(data) == "float16"
    report = export.verify(data, zoo.model(kind), zoo.x_test[:100], runtime="litert")
    print(f"\nMATRIX {kind} float16 {report} bytes={len(data)}")
    assert report.max_abs_diff <= 1e-2, report
    assert report.argmax_agreement >= 0.97
    with pytest.raises(export.UnsupportedError, match="float16 models do not run in TFLM"):
        export.verify(data, zoo.model(kind), zoo.x_test[:4], runtime="tflm",
                      measure_arena=False)


# ------------------------------------------------------------------ crash isolation


def test_child_abort_becomes_an_error_and_we_survive():
    with pytest.raises(export.ChildProcessCrash, match="SIGABRT") as info:
        run_child("import os; os.abort()", what="A test step", hint="Fix: nothing.")
    assert "A test step" in str(info.value) and "Fix: nothing." in str(info.value)
    assert info.value.signal_name == "SIGABRT"


def test_child_segfault_becomes_an_error_and_we_survive():
    source = "import ctypes; ctypes.string_at(0)"  # reads address 0: SIGSEGV
    with pytest.raises(export.ChildProcessCrash, match="SIGSEGV"):
        run_child(source, what="Segfaulting step", hint="")


def test_child_exception_is_an_export_error():
    with pytest.raises(export.ExportError, match="boom"):
        run_child("raise SystemExit('boom')", what="Failing step", hint="")


@pytest.mark.slow
def test_gru_int8_loop_crash_names_layer_and_fix(zoo):
    model = _build("gru")
    try:
        export.to_tflite(model, quantization="int8", representative_data=zoo.x_train[:20],
                         unroll=False)
    except export.ChildProcessCrash as error:
        assert "gru (GRU)" in str(error) and "unroll" in str(error)
    else:  # pragma: no cover - only if a future converter fixes the crash
        pytest.skip("the converter no longer crashes on int8 WHILE loops")


# ------------------------------------------------------------------ argument checking


def test_bad_arguments_are_named():
    model = _build("lstm")
    with pytest.raises(ValueError, match="quantization"):
        export.to_tflite(model, quantization="int4")
    with pytest.raises(ValueError, match="representative_data"):
        export.to_tflite(model, quantization="int8")
    with pytest.raises(ValueError, match="batch_size"):
        export.to_tflite(model, batch_size=0)
    with pytest.raises(TypeError, match="tflite_bytes"):
        export.verify("model.tflite", model, np.zeros((1, 8, 8)))
    with pytest.raises(ValueError, match="TFLite flatbuffer"):
        export.to_c_array(b"not a model at all", "x")
    with pytest.raises(TypeError, match="tf_keras"):
        export.to_tflite(object())


def test_strip_removes_wrappers_inside_nested_models():
    """A pruned sub-model is stripped too: no mask-assignment ops reach the flatbuffer."""
    from tf_expander_pruning.keras_compat import tfmot

    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(6)])
    inner = tfmot.sparsity.keras.prune_low_magnitude(
        inner, pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.5, 0)
    )
    inputs = keras.Input((8, 8))
    model = keras.Model(inputs, keras.layers.Dense(3)(inner(inputs)))
    stripped = export.strip(model)
    assert stripped is not model
    assert not has_pruning_wrappers(stripped)
    ops = export.list_ops(export.to_tflite(model))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops
    assert not {"ASSIGN_VARIABLE", "VAR_HANDLE"} & set(ops), ops


def test_tflm_op_resolver_list():
    ops = export.tflm_supported_ops()
    for op in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "WHILE", "FULLY_CONNECTED", "REVERSE_V2"):
        assert op in ops
    assert "BIDIRECTIONAL_SEQUENCE_LSTM" not in ops  # TFLM has no kernel for it


# ------------------------------------------------------------------ C array


@pytest.fixture(scope="module")
def small_flatbuffer():
    keras.utils.set_random_seed(1)
    inputs = keras.Input(shape=(8, 8))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.LSTM(8)(inputs)))
    return export.to_tflite(model)


def test_c_array_compiles_and_length_matches(small_flatbuffer, tmp_path):
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler (the Makefile installs gcc)")
    array = export.to_c_array(small_flatbuffer, "model_data")
    header, source = array.write(tmp_path)
    assert array.length == len(small_flatbuffer)
    declared = int(re.search(r"model_data_len = (\d+);", array.source).group(1))
    assert declared == len(small_flatbuffer)
    body = array.source.split("{", 1)[1].split("}", 1)[0]
    assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body)) == small_flatbuffer
    # compile the .cc as shipped (C++) and the same text as C
    subprocess.run([compiler, "-c", str(source), "-o", str(tmp_path / "a.o")], check=True)
    c_copy = tmp_path / "model_data_c.c"
    c_copy.write_text(array.source)
    subprocess.run([compiler, "-c", "-I", str(tmp_path), str(c_copy), "-o",
                    str(tmp_path / "b.o")], check=True)
    # link a main that checks length and 16-byte alignment at run time
    main = tmp_path / "main.c"
    main.write_text(
        '#include <stdint.h>\n#include <stdio.h>\n#include "model_data.h"\n'
        "int main(void) { printf(\"%u %d %c%c%c%c\", model_data_len, "
        "(int)((uintptr_t)model_data % 16), model_data[4], model_data[5], model_data[6], "
        "model_data[7]); return 0; }\n"
    )
    exe = tmp_path / "main"
    subprocess.run([compiler, "-I", str(tmp_path), str(main), str(c_copy), "-o", str(exe)],
                   check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert out == f"{len(small_flatbuffer)} 0 TFL3"
    assert header.name == "model_data.h"


def test_cortex_m4_runtime_refuses_float_flatbuffers(small_flatbuffer):
    keras.utils.set_random_seed(1)
    inputs = keras.Input(shape=(8, 8))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.LSTM(8)(inputs)))
    with pytest.raises(export.UnsupportedError, match="tflm-cortex-m4.*full-int8"):
        export.verify(small_flatbuffer, model, np.zeros((2, 8, 8)), runtime="tflm-cortex-m4")
    with pytest.raises(ValueError, match="runtime"):
        export.verify(small_flatbuffer, model, np.zeros((2, 8, 8)), runtime="cortex-m4")


def test_c_array_rejects_bad_names(small_flatbuffer):
    for name in ("1model", "model-data", "", None):
        with pytest.raises(ValueError, match="C identifier"):
            export.to_c_array(small_flatbuffer, name)


# ------------------------------------------------------------------ compact and sizes


def _disconnect(model, dead, constant):
    """Zero weights so `dead` units have no outgoing edges and `constant` no incoming ones."""
    lstm, dense = model.get_layer("lstm"), model.get_layer("out")
    kernel, recurrent, bias = lstm.get_weights()
    units = lstm.units
    for j in dead:
        recurrent[j, :] = 0
    for j in constant:
        columns = [g * units + j for g in range(4)]
        kernel[:, columns] = 0
        recurrent[:, columns] = 0
        recurrent[j, :] = 0
    lstm.set_weights([kernel, recurrent, bias])
    dense_kernel, dense_bias = dense.get_weights()
    dense_kernel[list(dead)] = 0
    dense.set_weights([dense_kernel, dense_bias])


@pytest.mark.slow
def test_compact_removes_disconnected_units_exactly(digits):
    keras.utils.set_random_seed(2)
    model = _build("lstm")
    dead, constant = [1, 5, 9, 20], [3, 11]
    _disconnect(model, dead, constant)
    # unit 7: no incoming edges but still feeds the others recurrently -> must be kept
    lstm = model.get_layer("lstm")
    kernel, recurrent, bias = lstm.get_weights()
    kernel[:, [g * UNITS + 7 for g in range(4)]] = 0
    recurrent[:, [g * UNITS + 7 for g in range(4)]] = 0
    lstm.set_weights([kernel, recurrent, bias])

    small, report = export.compact(model, return_report=True)
    assert report["lstm"] == {"units_before": UNITS, "units_after": UNITS - 6,
                              "removed_dead": 4, "removed_constant": 2}
    x = digits[1][0][:64]
    np.testing.assert_allclose(small.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6, rtol=0)
    assert len(export.to_tflite(small)) < len(export.to_tflite(model))


@pytest.mark.slow
def test_compact_stacked_and_noop(digits):
    keras.utils.set_random_seed(3)
    model = _build("stacked")
    first = model.get_layer("lstm")
    kernel, recurrent, bias = first.get_weights()
    recurrent[[0, 2], :] = 0
    first.set_weights([kernel, recurrent, bias])
    gru = model.get_layer("gru")
    gru_weights = gru.get_weights()
    gru_weights[0][[0, 2], :] = 0  # the GRU's input rows for units 0 and 2 of the LSTM
    gru.set_weights(gru_weights)
    small, report = export.compact(model, return_report=True)
    assert report["lstm"]["units_after"] == 14 and report["gru"]["units_after"] == UNITS
    x = digits[1][0][:64]
    np.testing.assert_allclose(small.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6, rtol=0)
    # an untouched dense model: nothing to remove, outputs identical
    plain = _build("gru")
    same, report = export.compact(plain, return_report=True)
    assert report["gru"]["units_after"] == UNITS
    np.testing.assert_allclose(same.predict(x, verbose=0), plain.predict(x, verbose=0),
                               atol=1e-6, rtol=0)


def _tfmot_pruned(kind: str, sparsity: float, digits, *, samples: int, seed: int):
    """``_build(kind)`` pruned by TF-MOT to ``sparsity`` and trained one epoch on digits."""
    import tensorflow_model_optimization as tfmot
    (x_train, y_train), _ = digits
    keras.utils.set_random_seed(seed)
    schedule = tfmot.sparsity.keras.ConstantSparsity(sparsity, begin_step=0, frequency=1)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(_build(kind), pruning_schedule=schedule)
    pruned.compile("adam", "sparse_categorical_crossentropy")
    pruned.fit(x_train[:samples], y_train[:samples], epochs=1, batch_size=64, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return pruned


@pytest.mark.slow
def test_pruned_model_exports_and_size_report_is_honest(digits):
    (x_train, _), _ = digits
    pruned = _tfmot_pruned("lstm", 0.8, digits, samples=256, seed=4)
    counts = export.parameter_counts(pruned)
    assert counts["nonzero"] < 0.5 * counts["total"]
    data = export.to_tflite(pruned)
    report = export.verify(data, pruned, x_train[:32], runtime="litert")
    assert report.max_abs_diff <= 1e-5
    sizes = export.size_report(pruned, representative_data=x_train[:100],
                               quantizations=("float32", "dynamic"), measure_arena=False)
    fp32, dynamic = sizes.rows
    assert fp32["flatbuffer_bytes"] == len(data)  # the size printed is the real file size
    assert fp32["gzip_bytes"] < fp32["flatbuffer_bytes"]  # zeros compress; the file keeps them
    assert dynamic["flatbuffer_bytes"] < fp32["flatbuffer_bytes"]
    assert "dynamic" in str(sizes) and sizes.to_dict()["total_parameters"] == counts["total"]
    skipped = export.size_report(pruned, quantizations=("int8",), measure_arena=False)
    assert skipped.rows[0]["flatbuffer_bytes"] is None and "representative_data" in str(skipped)


@pytest.mark.slow
def test_deployment_table_rows(zoo):
    table = export.deployment_table(zoo.model("gru"), zoo.x_test[:60], zoo.y_test[:60],
                                    representative_data=zoo.x_train,
                                    quantizations=("float32", "dynamic"))
    assert [row["quantization"] for row in table.rows] == ["float32", "dynamic"]
    fp32, dynamic = table.rows
    assert fp32["tflm_accuracy"] == fp32["litert_accuracy"] == fp32["keras_accuracy"]
    assert dynamic["stored_as"] == "dynamic"
    assert dynamic["tflm_accuracy"] is None and "does not run in TFLM" in dynamic["note"]
    assert dynamic["litert_accuracy"] is not None
    assert fp32["tflm_arena_bytes"] > 0
    assert "| model | quant |" in table.text


# ------------------------------------------------------------------ CLI


@pytest.mark.slow
def test_cli_export_int8_c_array_and_tflm(tmp_path, capsys):
    from tf_expander_pruning import cli

    keras.utils.set_random_seed(5)
    model_path = tmp_path / "model.keras"
    _build("lstm").save(model_path)
    out = tmp_path / "out" / "model.tflite"
    code = cli.main([
        "export", str(model_path), "--quantization", "int8", "--representative-data", "digits",
        "--out", str(out), "--c-array", "model_data", "--verify", "tflm",
        "--verify-samples", "40", "--json",
    ])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["flatbuffer_bytes"] == out.stat().st_size
    assert printed["stored_as"] == "int8"
    assert (tmp_path / "out" / "model_data.h").exists()
    assert str(out.stat().st_size) in (tmp_path / "out" / "model_data.cc").read_text()
    (report,) = printed["verify"]
    assert report["runtime"] == "tflm" and report["arena_bytes"] > 0
    assert report["argmax_agreement"] >= 0.9


def test_cli_export_rejects_bad_input(tmp_path):
    from tf_expander_pruning import cli

    assert cli.main(["export", str(tmp_path / "missing.keras")]) == 1
    assert cli.main(["export", str(tmp_path / "m.keras"), "--quantization", "int8"]) == 1


@pytest.mark.slow
def test_cli_export_tfmot_pruned_savedmodel(tmp_path, capsys, digits):
    """A TF-MOT-pruned model saved as a SavedModel loads (prune_scope) and is stripped."""
    from tf_expander_pruning import cli

    pruned = _tfmot_pruned("gru", 0.7, digits, samples=128, seed=6)
    saved = tmp_path / "pruned_savedmodel"
    pruned.save(saved)  # no extension: SavedModel (TF-MOT RNN wrappers break .h5, issue 1077)
    out = tmp_path / "pruned.tflite"
    assert cli.main(["export", str(saved), "--out", str(out), "--representative-data", "digits",
                     "--verify", "litert", "--verify-samples", "50", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["stored_as"] == "float32" and out.stat().st_size == printed["flatbuffer_bytes"]
    assert printed["verify"][0]["max_abs_diff"] <= 1e-5
