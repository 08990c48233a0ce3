"""Keyword spotting end to end (issue 25 item 4): the front end + network C on the emulated
Cortex-M4 against the host build of the same C, the normalisation folding, and the plumbing of
the report and of ``tf-expander kws``."""

import json

import numpy as np
import pytest

from tf_expander_pruning.cli import main as cli_main
from tf_expander_pruning.core import audio_frontend as af
from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.deployment.codegen import compile_c, frontend_to_c, to_c
from tf_expander_pruning.deployment.codegen.frontend_run import compile_frontend
from tf_expander_pruning.deployment.codegen.kws_firmware import (
    kws_program,
    run_kws_host,
    run_kws_on_mcu,
)
from tf_expander_pruning.research import kws
from tf_expander_pruning.research import spoken_words as sw
from tf_expander_pruning.research.classifier import compile_classifier, recurrent_classifier

# As in tests/test_audio_frontend.py: index 0 of the sorted variants is a test voice.
SMALL_VARIANTS = ("m1", "m3", "f2", "klatt")


@pytest.fixture(scope="module")
def tiny_kws(tmp_path_factory):
    """A small spoken_words set (90 training clips, 30 test clips, voices disjoint) and an
    LSTM(32) trained for a few seconds on its standardised MFCCs, standardisation folded in."""
    directory = tmp_path_factory.mktemp("spoken_words")
    train, test = (sw.load_clips(split, variants=SMALL_VARIANTS, copies=1, directory=directory)
                   for split in ("train", "test"))
    x = np.stack([af.mfcc(clip) for clip in train.clips]).astype(np.float32)
    mean, std = x.mean(axis=(0, 1)), x.std(axis=(0, 1))
    keras.utils.set_random_seed(0)
    model = compile_classifier(recurrent_classifier("lstm", 32, input_shape=x.shape[1:]),
                               learning_rate=1e-2)
    model.fit((x - mean) / std, train.labels, epochs=40, batch_size=16, verbose=0)
    return {"model": kws.fold_input_normalization(model, mean, std), "clips": test.clips[:20],
            "labels": test.labels[:20]}


@pytest.mark.slow
def test_cortex_m4_labels_equal_the_host_build(tiny_kws):
    """20 test clips, 49 frames each, front end then network step per 20 ms frame: the core's
    labels and logits equal the host build's, which equal an independent path (the front end
    library on all frames, then the network C streamed) and Keras's labels."""
    c_frontend = frontend_to_c(name="kws")
    c_model = to_c(tiny_kws["model"], quantization="int8", name="kws_net")
    clips = tiny_kws["clips"]
    host = run_kws_host(c_frontend, c_model, clips)
    device = run_kws_on_mcu(c_frontend, c_model, clips, clips_per_image=12)  # two images
    np.testing.assert_array_equal(device.labels, host.labels)
    np.testing.assert_array_equal(device.logits.view(np.uint32), host.logits.view(np.uint32))

    features = compile_frontend(c_frontend)(clips)  # (20, 49, 10), the float C front end
    assert features.shape == (20, af.frame_count(sw.CLIP_SAMPLES), 10)
    compiled = compile_c(c_model, flags=("-O2", "-ffp-contract=off"))
    try:
        streamed = compiled.stream(features)[:, -1]
    finally:
        compiled.close()
    np.testing.assert_array_equal(host.logits.view(np.uint32), streamed.view(np.uint32))
    reference = np.stack([af.mfcc(clip) for clip in clips]).astype(np.float32)
    keras_labels = np.argmax(tiny_kws["model"].predict(reference, verbose=0), axis=-1)
    assert np.mean(host.labels == keras_labels) >= 0.9
    assert np.mean(keras_labels == tiny_kws["labels"]) >= 0.35  # trained (chance: 0.1)

    # Measured sizes: the static RAM of each object is what the generators counted.
    assert device.sizes["frontend"]["ram_bytes"] == c_frontend.ram_bytes
    assert device.sizes["network"]["ram_bytes"] == c_model.ram_bytes
    assert device.sizes["frontend"]["flash_bytes"] > c_frontend.flash_bytes
    assert device.sizes["network"]["flash_bytes"] > c_model.flash_bytes
    # Every frame is timed: the front end costs the same on every frame of a clip (no
    # data-dependent branch but the log), the network tens of thousands of instructions.
    mean, largest = device.frontend_instructions.T
    assert np.all(largest >= mean) and 30_000 < mean.min() <= largest.max() < 300_000
    assert np.all(host.frontend_instructions == 0)
    assert 1_000 < device.network_instructions[:, 0].min() < 100_000


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_folded_normalization_equals_the_standardised_model(cell):
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(1)
    model = recurrent_classifier(cell, 8, input_shape=(6, 5))
    for layer in model.layers:
        weights = layer.get_weights()
        layer.set_weights([w * (rng.random(w.shape) > 0.5) + (w == 0) * 0.1 for w in weights])
    x = rng.normal(3.0, 4.0, (7, 6, 5)).astype(np.float32)
    mean, std = x.mean(axis=(0, 1)), x.std(axis=(0, 1))
    folded = kws.fold_input_normalization(model, mean, std)
    np.testing.assert_allclose(folded(x).numpy(), model((x - mean) / std).numpy(), atol=2e-5)
    kernel, folded_kernel = model.layers[0].get_weights()[0], folded.layers[0].get_weights()[0]
    np.testing.assert_array_equal(kernel == 0, folded_kernel == 0)  # pruned zeros stay zero


def _synthetic_result():
    return {"cell": "lstm", "units": 8, "train_clips": 10, "test_clips": 4,
            "dense_keras_accuracy": 0.5, "keras_accuracy": 0.5, "sparsity": 0.4,
            "c": {"quantization": "int8", "clips": 4, "host_accuracy": 0.75,
                  "device_accuracy": 0.75, "device_equals_host": True,
                  "agreement_with_keras": 1.0,
                  "frontend": {"flash_bytes": 100, "ram_bytes": 10,
                               "instructions_per_frame": 80_000.0},
                  "network": {"flash_bytes": 50, "ram_bytes": 5,
                              "instructions_per_frame": 16_000.0}},
            "tflm": {"clips": 2, "keras_accuracy": 0.5, "device_accuracy": 0.5,
                     "flash_bytes": 60_000, "ram_bytes": 4_000,
                     "instructions_per_frame": 48_000.0},
            "seconds": 1.0}


def test_report_and_results_plumbing(tmp_path):
    result = _synthetic_result()
    result["realtime"] = kws._realtime(result)
    assert result["realtime"]["sparse_c"] == pytest.approx(96_000 / 1_600_000)
    assert result["realtime"]["tflm_cmsis_nn"] == pytest.approx(128_000 / 1_600_000)
    text = kws.format_report(result)
    assert "6.00%" in text and "8.00%" in text and "| 60,000 | 4,000 | 48,000 |" in text
    paths = kws.write_results(result, tmp_path / "out")
    saved = json.loads(paths[0].read_text())
    assert saved["c"]["device_accuracy"] == 0.75
    rows = paths[1].read_text().splitlines()
    assert rows[0].startswith("part,flash_bytes,ram_bytes") and len(rows) == 4
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="existing file"):
        kws.write_results(result, tmp_path / "file")


@pytest.mark.parametrize("settings, message", [
    ({"cell": "cnn"}, "cell"), ({"units": 0}, "units"), ({"prune_epochs": 4}, "prune_epochs"),
    ({"max_train": 5}, "max_train"), ({"quantization": "int4"}, "quantization"),
    ({"tflm_clips": -1}, "tflm_clips")])
def test_bad_settings_raise_a_clear_value_error(settings, message):
    with pytest.raises(ValueError, match=message):
        kws.run_kws(**settings)  # before any data is loaded or model trained


def test_cli_rejects_bad_options(tmp_path, capsys):
    assert cli_main(["kws", "--units", "0", "--out", str(tmp_path / "o")]) == 1
    assert "`units` must be >= 1" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert cli_main(["kws", "--out", str(tmp_path / "file")]) == 1
    assert "existing file" in capsys.readouterr().err


def test_firmware_refuses_a_mismatched_network():
    model = recurrent_classifier("gru", 4, input_shape=(49, 7))
    with pytest.raises(ValueError, match="takes 7 features a frame, the front end gives 10"):
        kws_program(frontend_to_c(name="kws"), to_c(model, name="net"), sw.CLIP_SAMPLES)


def test_deploy_md_keyword_spotting_table_is_recomputed_from_the_raw_results():
    """docs/deploy.md's keyword-spotting table and real-time figures come from
    docs/kws/kws_results.json (what ``tf-expander kws --out docs/kws`` wrote)."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    result = json.loads((docs / "kws" / "kws_results.json").read_text())
    report = kws.format_report(result)
    assert report == (docs / "kws" / "kws_report.md").read_text().rstrip("\n")
    section = (docs / "deploy.md").read_text().split("## Keyword spotting on a Cortex-M4")[1]
    section = section.split("\n## ")[0]
    table = [line for line in report.splitlines() if line.startswith("|")]
    assert len(table) == 5 and "\n".join(table) in section
    budget = result["realtime"]["cycles_per_frame_budget"]
    front = result["c"]["frontend"]["instructions_per_frame"]
    c_share = (front + result["c"]["network"]["instructions_per_frame"]) / budget
    tflm_share = (front + result["tflm"]["instructions_per_frame"]) / budget
    assert f"**{c_share:.2%}**".replace("%", " %") in section
    assert f"**{tflm_share:.2%}**".replace("%", " %") in section
    assert result["c"]["device_equals_host"] and result["c"]["clips"] == result["test_clips"]
    assert f"{result['keras_accuracy']:.2%}".replace("%", " %") in section
