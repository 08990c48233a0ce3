"""Issue 12.4: the analysis layer loads without TensorFlow (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "tf_keras", "keras", "tensorflow_model_optimization", "keras_tuner")


def fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it must print one JSON object on its last line."""
    env = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


LOADED = f"json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules))"


@pytest.mark.parametrize("code", [
    "import tf_expander_pruning.spectral",
    "from tf_expander_pruning.spectral import analyze, SpectralCache, SpectralReport",
    "import tf_expander_pruning.graphs",
    "import tf_expander_pruning.analysis.spectral.cache",
    "import tf_expander_pruning.unrolled",
])
def test_analysis_modules_do_not_import_tensorflow(code):
    assert fresh(f"import sys, json\n{code}\nprint({LOADED})") == []


def test_root_analyze_on_a_numpy_mask_does_not_import_tensorflow():
    code = f"""
import sys, json
import numpy as np
import tf_expander_pruning as tep
mask = np.random.default_rng(0).random((40, 120)) < 0.3
report = tep.analyze(mask)
cached = tep.spectral.SpectralCache().analyze("w", mask)
assert report.components == 1 and cached.delta_r == report.delta_r
assert tep.ramanujan_bound(4, 4) > 0
print({LOADED})
"""
    assert fresh(code) == []


def test_the_short_paths_are_the_real_modules_and_heavy_names_still_load():
    code = """
import sys, json
import tf_expander_pruning as tep
import tf_expander_pruning.spectral as short
import tf_expander_pruning.analysis.spectral as real
same = short is real and tep.spectral is real and tep.graphs is sys.modules[
    "tf_expander_pruning.analysis.graphs"]
before = "tensorflow" in sys.modules
tep.prune_rnn  # a name that needs TensorFlow loads it on first use
print(json.dumps([same, before, "tensorflow" in sys.modules]))
"""
    assert fresh(code) == [True, False, True]
