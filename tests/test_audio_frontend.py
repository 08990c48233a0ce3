"""The keyword-spotting audio front end (Python references, generated C on the host and on
Cortex-M cores) and the offline spoken_words data set."""

import re

import numpy as np
import pytest
import scipy.fft
import scipy.signal

import tf_expander_pruning as tep
from tf_expander_pruning.core import audio_frontend as af
from tf_expander_pruning.deployment.codegen.frontend import (
    FIXED_MAX_ABS_ERROR,
    FLOAT_C_MAX_ABS_ERROR,
    frontend_to_c,
)
from tf_expander_pruning.deployment.codegen.frontend_run import (
    compile_frontend,
    feature_errors,
    run_frontend_on_mcu,
)
from tf_expander_pruning.research import spoken_words as sw

# Four variants: sorted, index 0 goes to test and 1..3 to train (3 accents each).
SMALL_VARIANTS = ("m1", "m3", "f2", "klatt")


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    directory = tmp_path_factory.mktemp("spoken_words")
    data = {split: sw.load_clips(split, variants=SMALL_VARIANTS, copies=1, directory=directory)
            for split in sw.SPLITS}
    data["directory"] = directory
    return data


@pytest.fixture(scope="module")
def clips(small_set):
    """Eight speech clips (both splits, several words) and synthetic extremes."""
    rng = np.random.default_rng(1)
    t = np.arange(sw.CLIP_SAMPLES) / sw.SAMPLE_RATE
    synthetic = [
        np.zeros(sw.CLIP_SAMPLES),                                  # digital silence
        32767 * np.sign(np.sin(2 * np.pi * 1000 * t)),              # full-scale square wave
        np.clip(rng.normal(0, 20000, sw.CLIP_SAMPLES), -32768, 32767),  # clipped noise
        rng.integers(-2, 3, sw.CLIP_SAMPLES),                       # +-2 LSB noise
    ]
    speech = np.concatenate([small_set["train"].clips[::17][:5], small_set["test"].clips[::13][:3]])
    return np.concatenate([speech, np.array(synthetic).astype(np.int16)])


def test_float_reference_matches_tf_signal(clips):
    """Framing, Hann window, FFT, mel matrix, log and DCT against tf.signal's own pipeline."""
    from tf_expander_pruning.keras_compat import tf

    bank = tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0).numpy()
    np.testing.assert_allclose(af.mel_filterbank(), bank, atol=1e-5)  # TF: float32
    for clip in clips[[0, 5, 9]]:
        stft = tf.signal.stft(clip.astype(np.float32) / 32768.0, 480, 320, 512).numpy()
        power = np.abs(stft.astype(np.complex128)) ** 2
        expected = np.log(power @ bank.astype(np.float64) + 2.0 ** -20)
        np.testing.assert_allclose(af.log_mel(clip), expected, atol=2e-3)
        tf_mfcc = tf.signal.mfccs_from_log_mel_spectrograms(expected.astype(np.float32)).numpy()
        tf_mfcc[:, 0] /= np.sqrt(2.0)  # TF's DCT is orthonormal except for the first row
        np.testing.assert_allclose(af.mfcc(clip), tf_mfcc[:, :10], atol=2e-3)


def test_tables_and_dct():
    dct = af.dct_matrix(40, 13)
    np.testing.assert_allclose(dct, scipy.fft.dct(np.eye(40), type=2, norm="ortho", axis=0)[:13],
                               atol=1e-12)
    np.testing.assert_allclose(af.hann_window(480), scipy.signal.get_window("hann", 480),
                               atol=1e-15)
    tables = af.fixed_tables()
    assert tables.bit_reverse[1] == 256 and tables.bit_reverse[3] == 384
    assert np.array_equal(np.sort(tables.bit_reverse), np.arange(512))
    assert af.frame_count(16000) == 49 and af.frame_count(479) == 0


def test_fixed_fft_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.integers(-2 ** 22, 2 ** 22, (4, 512))
    re, im = af.fixed_fft(x, af.fixed_tables())
    expected = np.fft.fft(x)
    assert np.abs(re - expected.real).max() <= 32 and np.abs(im - expected.imag).max() <= 32


def test_c_matches_python(clips):
    """Float C within the documented bound of float64 NumPy; integer C bit for bit."""
    for features in ("mfcc", "log_mel"):
        errors = feature_errors(clips, features=features)
        assert errors["float_c_vs_python"] <= FLOAT_C_MAX_ABS_ERROR, errors
        assert errors["fixed_c_vs_python"] == 0, errors
        assert errors["fixed_vs_float"] <= FIXED_MAX_ABS_ERROR, errors
    # Speech alone is much closer than the bounds (the extremes are the worst case).
    speech = feature_errors(clips[:8])
    assert speech["float_c_vs_python"] < 2e-4 and speech["fixed_vs_float"] < 5e-3, speech


def test_frame_api_and_integer_source(clips, tmp_path):
    c_fixed = frontend_to_c(integer_only=True, name="kws")
    assert not re.search(r"\bfloat\b|\bdouble\b|\d\.\d", c_fixed.source)
    assert "KWS_FRONTEND_FRAC_BITS 16" in c_fixed.header
    header, source = c_fixed.write(tmp_path)
    assert header.name == "kws_frontend.h" and source.name == "kws_frontend.c"
    compiled = compile_frontend(c_fixed)
    # Frame f of a clip equals the frame computed on its 480 samples alone.
    whole = compiled(clips[:1])[0]
    window = clips[0, 10 * 320:10 * 320 + 480]
    assert np.array_equal(compiled(window)[0, 0], whole[10])
    assert np.array_equal(whole, af.fixed_mfcc(clips[0]))
    c_float = frontend_to_c()
    assert c_float.flash_bytes > 7000 and c_float.ram_bytes == 4 * (2 * 512 + 40)


@pytest.mark.parametrize("integer_only", [False, True])
def test_on_cortex_m4_equals_host(clips, integer_only):
    c_frontend = frontend_to_c(integer_only=integer_only)
    run = run_frontend_on_mcu(c_frontend, clips[[0, 9]], target="cortex-m4")
    assert np.array_equal(run.features, compile_frontend(c_frontend)(clips[[0, 9]]))
    per_frame = run.instructions_per_frame
    assert per_frame.shape == (2, 49)
    # Measured 79,200 (float) and 116,240 (integer): well under 1.6 M cycles per 20 ms frame.
    assert 40_000 < per_frame.mean() < 200_000
    assert 0 < run.flash_bytes < 12_000 and run.ram_bytes == c_frontend.ram_bytes


def test_integer_front_end_on_cortex_m0(clips):
    c_frontend = frontend_to_c(integer_only=True)
    run = run_frontend_on_mcu(c_frontend, clips[[3]], target="cortex-m0")
    assert np.array_equal(run.features[0], af.fixed_mfcc(clips[3]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="power of two"):
        af.FrontendConfig(fft_length=500)
    with pytest.raises(ValueError, match="f_low"):
        af.FrontendConfig(f_low=5000.0, f_high=4000.0)
    with pytest.raises(TypeError, match="int16"):
        af.mfcc(np.zeros(16000, np.float32))
    with pytest.raises(ValueError, match="fewer than one window"):
        af.mfcc(np.zeros(100, np.int16))
    with pytest.raises(ValueError, match="identifier"):
        frontend_to_c(name="1kws")
    with pytest.raises(ValueError, match="features"):
        frontend_to_c(features="spectrogram")
    with pytest.raises(TypeError, match="FrontendConfig"):
        frontend_to_c({"n_mel": 40})
    with pytest.raises(ValueError, match="split"):
        sw.load_clips("validation")
    with pytest.raises(ValueError, match="noise"):
        tep.datasets.load("spoken_words", "test", noise=("gaussian", 0.1))


def test_small_set_shapes_balance_and_voices(small_set):
    train, test = small_set["train"], small_set["test"]
    assert train.clips.shape == (3 * 3 * 10, 16000) and train.clips.dtype == np.int16
    assert test.clips.shape == (1 * 3 * 10, 16000)
    for split in (train, test):
        counts = np.bincount(split.labels, minlength=10)
        assert np.array_equal(counts, np.full(10, len(split.labels) // 10))
        # Not silent and not clipped to the rails; noise everywhere (no digital silence).
        peaks = np.abs(split.clips.astype(np.int64)).max(axis=1)
        assert peaks.min() > 0.2 * 32768 and peaks.max() < 32768
        assert (split.clips != 0).mean() > 0.9
    assert set(train.variants).isdisjoint(test.variants)
    assert set(train.voices).isdisjoint(test.voices)
    assert set(test.variants) == {"f2"} and len(set(train.voices)) == 9


def test_time_shifts_and_cache(small_set, monkeypatch):
    train = small_set["train"]
    # Where the loudest 20 ms lies differs from clip to clip (random offsets).
    energy = (train.clips.astype(np.float64) ** 2).reshape(len(train.clips), 50, 320).sum(-1)
    assert len(np.unique(energy.argmax(axis=1))) > 10
    # The draws depend on the seed, voice and word only: building again gives the same clips.
    rebuilt = sw.build(["f2"], copies=1, workers=1)
    assert np.array_equal(rebuilt.clips, small_set["test"].clips)
    # A second load reads the cache: no synthesis.
    monkeypatch.setattr(sw, "build", lambda *a, **k: pytest.fail("built again"))
    directory = small_set["directory"]
    again = sw.load_clips("test", variants=SMALL_VARIANTS, copies=1, directory=directory)
    assert np.array_equal(again.clips, small_set["test"].clips)
    assert len(list(directory.glob("test-*.npz"))) == 1


def test_load_through_datasets(monkeypatch, tmp_path):
    monkeypatch.setattr(sw, "espeak_variants", lambda: SMALL_VARIANTS)
    x, y = tep.datasets.load("spoken_words", "test", data_dir=tmp_path)
    assert x.shape == (60, 49, 10) and x.dtype == np.float32 and y.dtype == np.int64
    clips = tep.datasets.spoken_word_clips("test", directory=tmp_path)
    np.testing.assert_allclose(x[7], af.mfcc(clips.clips[7]), atol=1e-4)
    assert tep.datasets.dataset_info("spoken_words") == {"splits": ("train", "test"),
                                                         "num_classes": 10}


@pytest.mark.slow
def test_full_data_set():
    """The whole set (about a minute to build on two cores, then cached)."""
    train = tep.datasets.spoken_word_clips("train")
    test = tep.datasets.spoken_word_clips("test")
    variants = sw.espeak_variants()
    assert set(train.variants) | set(test.variants) == set(variants)
    assert set(train.voices).isdisjoint(test.voices)
    assert len(set(train.voices)) + len(set(test.voices)) == 3 * len(variants)
    for split in (train, test):
        assert np.all(np.bincount(split.labels) == len(split.labels) // 10)
    x, y = tep.datasets.load("spoken_words", "test")
    assert x.shape == (len(test.clips), 49, 10) and np.array_equal(y, test.labels)
    errors = feature_errors(test.clips[::40])
    assert errors["fixed_c_vs_python"] == 0 and errors["fixed_vs_float"] <= FIXED_MAX_ABS_ERROR
