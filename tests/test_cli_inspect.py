"""`tf-expander inspect` on .keras, .h5 and SavedModel files."""

import json
import subprocess
import sys

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import graphs
from tf_expander_pruning.cli import main


@pytest.fixture(scope="module")
def model():
    model = keras.Sequential([
        keras.Input((6, 5)),
        keras.layers.LSTM(8, return_sequences=True, name="lstm"),
        keras.layers.GRU(6, name="gru"),
        keras.layers.Dense(3, name="dense"),
    ])
    rng = np.random.default_rng(0)
    for weight in model.weights:
        if "kernel" in weight.name:
            value = weight.numpy()
            value[rng.random(value.shape) < 0.4] = 0
            weight.assign(value)
    return model


@pytest.mark.parametrize("suffix", [".keras", ".h5", "_savedmodel"])
def test_inspect_json_matches_in_memory_analysis(model, tmp_path, capsys, suffix):
    path = tmp_path / f"model{suffix}"
    model.save(path)
    assert main(["inspect", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expected = graphs.summary_rows(model)
    assert [(r["layer"], r["role"]) for r in rows] == [(r["layer"], r["role"]) for r in expected]
    for row, want in zip(rows, expected, strict=True):
        if want["delta_r"] is None:
            assert row["delta_r"] is None
        else:
            assert row["delta_r"] == pytest.approx(want["delta_r"])
        assert row["status"] == want["status"]


def test_inspect_table_per_gate(model, tmp_path, capsys):
    path = tmp_path / "model.keras"
    model.save(path)
    assert main(["inspect", str(path), "--per-gate"]) == 0
    out = capsys.readouterr().out
    for gate in ("W_hh/i", "W_hh/f", "W_hh/c", "W_hh/o", "W_xh/z", "W_xh/r", "W_xh/h"):
        assert gate in out
    assert "not analysed" in out


def test_inspect_missing_and_corrupt_files(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.keras")]) == 1
    assert "No model at" in capsys.readouterr().err
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 truncated")
    assert main(["inspect", str(broken)]) == 1
    assert "Could not load a Keras model" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script_runs(model, tmp_path):
    path = tmp_path / "model.h5"
    model.save(path)
    result = subprocess.run(
        [sys.executable, "-m", "tf_expander_pruning.cli", "inspect", str(path)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Delta_r" in result.stdout and "lstm" in result.stdout


def test_inspect_weighted_gives_the_gap_and_no_verdict(model, tmp_path, capsys):
    path = tmp_path / "model.keras"
    model.save(path)
    assert main(["inspect", str(path), "--weighted", "--json"]) == 0
    rows = [row for row in json.loads(capsys.readouterr().out) if row["analysed"]]
    found = graphs.weight_graphs(model)
    assert len(rows) == len(found) == 4
    for row, graph in zip(rows, found, strict=True):
        values = np.abs(graph.weights.astype(np.float64)) * graph.mask
        sigma = np.linalg.svd(values, compute_uv=False)
        assert row["spectral_gap"] == pytest.approx(sigma[0] - sigma[1], rel=1e-9)
        assert row["bound"] is None and row["delta_r"] is None and row["weighted"] is True
        assert row["status"] == graphs.summary_rows(model, weighted=True)[0]["status"]
        assert "no Ramanujan verdict" in row["status"]
        assert row["components"] >= 1
    assert main(["inspect", str(path), "--weighted"]) == 0
    table = capsys.readouterr().out
    assert "Gap" in table and "Delta_r" not in table and "Ramanujan:" not in table
