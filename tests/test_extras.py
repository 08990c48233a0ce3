"""Issue 23 item 2: a lean install; the runtimes and the research stack come with extras."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tf_expander_pruning.core.extras import EXTRAS, MissingExtraError, require, require_installed

ROOT = Path(__file__).resolve().parents[1]


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def _distributions(text: str) -> set[str]:
    """Distribution names of a setup.cfg requirement list (versions and comments dropped)."""
    names = set()
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower())
    return names


def test_extras_table_equals_setup_cfg():
    section = _setup_cfg()["options.extras_require"]
    for extra, distributions in EXTRAS.items():
        assert _distributions(section[extra]) == set(distributions), extra
    assert "tf_expander_pruning" in _distributions(section["all"])
    assert set(re.findall(r"\[(.*)\]", section["all"])[0].split(",")) == set(EXTRAS)


def test_core_install_has_the_card_packages_and_no_extra():
    core = _distributions(_setup_cfg()["options"]["install_requires"])
    card = {"tensorflow", "tf-keras", "tensorflow-model-optimization", "tensorflow-datasets",
            "scipy", "keras-tuner"}
    assert card <= core
    optional = {name for names in EXTRAS.values() for name in names}
    assert not core & optional, core & optional


def test_make_installs_every_extra():
    makefile = (ROOT / "Makefile").read_text()
    installed = re.search(r'pip install --quiet -e "\.\[([^\]]*)\]"', makefile).group(1)
    assert set(EXTRAS) <= set(installed.split(","))


@pytest.mark.parametrize(("runtime", "module"), [("tflm", "tflite_micro"),
                                                 ("litert", "ai_edge_litert")])
def test_a_runtime_without_the_deploy_extra_names_it(monkeypatch, runtime, module):
    from tf_expander_pruning.deployment.export.runtimes import run_runtime

    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"tf_expander_pruning\[deploy\]") as caught:
        run_runtime(b"\0\0\0\0TFL3", np.zeros((1, 1, 2), np.float32), runtime, None)
    assert f"runtime={runtime!r}" in str(caught.value)
    assert isinstance(caught.value, ImportError)  # `except ImportError` still catches it


def test_plots_without_the_research_extra_name_it(monkeypatch):
    from tf_expander_pruning.research.experiments.plots import pyplot

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"'matplotlib'.*\[research\]"):
        pyplot()


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    from tf_expander_pruning.research import datasets

    for name in [n for n in sys.modules if n == "sklearn" or n.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(MissingExtraError, match=r"'scikit-learn'.*\[research\]"):
        datasets.load("digits", "train")


def test_require_checks_its_arguments():
    assert require("json", extra="deploy", feature="x").dumps([1]) == "[1]"
    require_installed("json", extra="deploy", feature="x")
    with pytest.raises(ValueError, match="`extra` must be one of"):
        require("json", extra="nope", feature="x")
    with pytest.raises(MissingExtraError, match="no_such_package_here"):
        require_installed("no_such_package_here.sub", extra="data", feature="x")


@pytest.mark.slow
def test_conversion_and_flatbuffer_reading_work_without_the_runtimes(tmp_path):
    """A core install converts and reads flatbuffers (TensorFlow's schema stands in for TFLM's)."""
    script = textwrap.dedent("""
        import sys
        sys.modules["tflite_micro"] = None
        sys.modules["ai_edge_litert"] = None
        import numpy as np
        import tf_expander_pruning as tep
        from tf_expander_pruning.export import list_ops, quantization_of, to_tflite
        keras = tep.keras
        model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4), keras.layers.Dense(2)])
        data = to_tflite(model)
        print("ops", sorted(list_ops(data)))
        print("quantization", quantization_of(data))
        assert not any(name.startswith(("tflite_micro", "ai_edge_litert"))
                       for name in sys.modules if sys.modules[name] is not None)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FULLY_CONNECTED" in done.stdout or "WHILE" in done.stdout, done.stdout
    assert "quantization" in done.stdout


def test_the_demo_without_scikit_learn_says_which_extra_without_a_traceback(monkeypatch, capsys,
                                                                           tmp_path):
    from tf_expander_pruning.research import demo

    for name in [n for n in sys.modules if n == "sklearn" or n.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    assert demo.main(["--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("demo: error: Data set 'digits' needs the package 'scikit-learn'")
    assert 'pip install "tf_expander_pruning[research]"' in error
    assert "Traceback" not in error
