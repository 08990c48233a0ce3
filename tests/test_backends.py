"""Issue 24: the behaviour tests of pruning and the constraint (tests/behaviour, one body) run
for Keras 2 in this process and for Keras 3 on each backend in a child process of its own
(``KERAS_BACKEND`` picks the backend when Keras 3 is first imported)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_behaviour_tests_pass_on_keras3(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TEP_BEHAVIOUR_KERAS": "3"}
    env.pop("PYTEST_XDIST_WORKER", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-p", "no:xdist",
         "tests/behaviour"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=900,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, (
        f"tests/behaviour on Keras 3 ({backend}) failed: {summary}\n"
        + done.stdout[-6000:] + done.stderr[-2000:]
    )
    ran = done.stdout.count(f"[keras3-{backend}] PASSED")
    assert ran >= 7, f"expected the behaviour tests on keras3-{backend}; {summary}"
