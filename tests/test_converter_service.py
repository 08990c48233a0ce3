"""The long-lived int8 converter child: one child for many conversions, a crash or a hang is an
error here and the next request gets a new child.  The protocol tests use a stand-in child that
imports nothing (fast); the last test converts for real."""

from __future__ import annotations

import numpy as np
import pytest

from tf_expander_pruning import export
from tf_expander_pruning.deployment.export.converter_service import (
    ConverterService,
    shared_service,
)
from tf_expander_pruning.deployment.export.runtimes import run_runtime

# Reads requests like int8_child.py --serve; the SavedModel path says what to do.
STAND_IN = """
import json, os, sys, time
for line in sys.stdin:
    saved, rep, out = json.loads(line)[:3]  # the fourth field (activations) is not used here
    if saved == "abort":
        os.abort()
    if saved == "sleep":
        time.sleep(30)
    if saved == "fail":
        reply = {"ok": False, "error": "Traceback: ValueError: calibration data has NaN"}
    else:
        open(out, "w").write(str(os.getpid()))
        reply = {"ok": True}
    print("converter noise on stdout")
    print(sys.argv[2] + json.dumps(reply), flush=True)  # the prefix the service gave
"""


@pytest.fixture()
def service():
    service = ConverterService(STAND_IN)
    yield service
    service.close()


def _convert(service, tmp_path, saved="ok", **kwargs):
    out = tmp_path / "out.txt"
    service.convert(saved, "rep.npy", str(out), what="Stand-in step", hint="Hint: none.",
                    **kwargs)
    return int(out.read_text())


def test_one_child_serves_many_requests(service, tmp_path):
    pids = {_convert(service, tmp_path) for _ in range(3)}
    assert pids == {service.pid}


def test_a_failed_request_is_an_export_error_and_the_child_lives_on(service, tmp_path):
    first = _convert(service, tmp_path)
    with pytest.raises(export.ExportError, match="(?s)Stand-in step failed.*Hint: none.*NaN"):
        _convert(service, tmp_path, saved="fail")
    assert _convert(service, tmp_path) == first


def test_a_crash_is_reported_and_the_next_request_gets_a_new_child(service, tmp_path):
    first = _convert(service, tmp_path)
    with pytest.raises(export.ChildProcessCrash, match="SIGABRT") as info:
        _convert(service, tmp_path, saved="abort")
    assert info.value.signal_name == "SIGABRT" and "Stand-in step" in str(info.value)
    assert service.pid is None
    second = _convert(service, tmp_path)
    assert second != first and second == service.pid


def test_a_hung_child_times_out_and_is_replaced(service, tmp_path):
    first = _convert(service, tmp_path)
    with pytest.raises(export.ExportError, match="did not finish within 1 s"):
        _convert(service, tmp_path, saved="sleep", timeout=1)
    assert _convert(service, tmp_path) not in (first, None)


@pytest.mark.slow
def test_real_int8_conversions_share_the_child_and_match_in_process(digits_data):
    from tf_expander_pruning.keras_compat import keras

    x_train = digits_data[0][:50]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.GRU(8), keras.layers.Dense(10)])
    first = export.to_tflite(model, quantization="int8", representative_data=x_train)
    pid = shared_service().pid
    second = export.to_tflite(model, quantization="int8", representative_data=x_train)
    assert pid is not None and shared_service().pid == pid
    in_process = export.to_tflite(model, quantization="int8", representative_data=x_train,
                                  isolate=False)
    # Not compared byte for byte: the converter itself sometimes keeps an extra DEQUANTIZE
    # (seen in-process and in fresh children alike); what it computes is the same.
    batches = np.random.default_rng(0).integers(-128, 128, (30, 1, 8, 8)).astype(np.int8)
    outputs = [run_runtime(data, batches, "litert", None) for data in (first, second, in_process)]
    assert export.quantization_of(first) == "int8"
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], outputs[2])
