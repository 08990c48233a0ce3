"""The package root: lazy public names, short module paths, registration for load_model."""

import json
import subprocess
import sys

import numpy as np


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_short_module_paths_are_the_real_modules():
    import tf_expander_pruning as tep
    from tf_expander_pruning import spectral
    from tf_expander_pruning.analysis import spectral as real

    assert spectral is real and tep.spectral is real
    assert spectral.__name__ == "tf_expander_pruning.analysis.spectral"
    assert spectral.__spec__.name == "tf_expander_pruning.analysis.spectral"
    report = tep.analyze(np.ones((4, 4), dtype=bool))
    assert abs(report.mu_hat) < 1e-12 and abs(report.lambda1 - 4.0) < 1e-12  # K(4,4)


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    import tf_expander_pruning as tep

    with pytest.raises(AttributeError, match="no_such_name"):
        _ = tep.no_such_name


def test_root_import_and_analysis_do_not_load_tensorflow():
    out = _run(
        "import sys, numpy as np\n"
        "import tf_expander_pruning as tep\n"
        "import tf_expander_pruning.spectral\n"
        "r = tep.analyze(np.random.default_rng(0).random((32, 64)) < 0.5)\n"
        "print(r.delta_r is not None, 'tensorflow' in sys.modules, 'tf_keras' in sys.modules)\n"
    )
    assert out.splitlines()[-1] == "True False False"


def test_saved_pruned_model_loads_after_taking_the_package_keras(tmp_path):
    path = tmp_path / "pruned"
    _run(
        "import numpy as np, tf_expander_pruning as tep\n"
        "from tf_expander_pruning import keras\n"
        "m = keras.Sequential([keras.Input((4, 3)), keras.layers.LSTM(8), keras.layers.Dense(2)])\n"
        "p = tep.prune_rnn(m, tep.GeometricSchedule(rate=0.2, frequency=1))\n"
        f"p.save({str(path)!r})\n"
    )
    out = _run(
        "import tf_expander_pruning as tep\n"
        "from tf_expander_pruning import keras\n"
        f"m = keras.models.load_model({str(path)!r}, compile=False)\n"
        "print(sorted({type(l).__name__ for l in m.layers}))\n"
    )
    assert "PruneRecurrent" in out.splitlines()[-1]


def test_python_dash_m_runs_a_short_module_path():
    result = subprocess.run([sys.executable, "-m", "tf_expander_pruning.cli", "--help"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "tf-expander" in result.stdout


def test_every_short_path_imports_as_the_layer_module_without_tensorflow():
    out = _run(
        "import sys, importlib, json\n"
        "import tf_expander_pruning as tep\n"
        "import tf_expander_pruning.export\n"
        "heavy = [m for m in ('tensorflow', 'tf_keras', 'keras') if m in sys.modules]\n"
        "from tf_expander_pruning.export import to_tflite\n"
        "import tf_expander_pruning.deployment.export as real\n"
        "import tf_expander_pruning.export as short\n"
        "same = {s: getattr(tep, s) is sys.modules[f'tf_expander_pruning.{s}']\n"
        "       is importlib.import_module(f'tf_expander_pruning.{s}')\n"
        "       is importlib.import_module(f'tf_expander_pruning.{r}')\n"
        "       for s, r in tep.MODULES.items()}\n"
        "print(json.dumps([heavy, to_tflite is real.to_tflite, short is real, tep.export is real,\n"
        "                  sys.modules['tf_expander_pruning.export'] is real, same]))\n"
    )
    heavy, *identities, same = json.loads(out.splitlines()[-1])
    assert heavy == [] and identities == [True, True, True, True]
    assert same and all(same.values()), same


def test_no_import_hook_and_no_reexport_only_module():
    import pathlib

    import tf_expander_pruning as tep

    assert not [f for f in sys.meta_path if type(f).__module__.startswith("tf_expander_pruning")]
    root = pathlib.Path(tep.__file__).parent
    assert not (root / "core" / "aliases.py").exists()
    assert not (root / "pruning" / "wrapper.py").exists()
    assert not (root / "pruning" / "roles.py").exists()


def test_pruning_layer_names_come_from_one_place():
    import tf_expander_pruning as tep
    from tf_expander_pruning import pruning
    from tf_expander_pruning.pruning import model_ops, recurrent, schedules

    assert pruning.prune_rnn is model_ops.prune_rnn is tep.prune_rnn
    assert pruning.PruneRecurrent is recurrent.PruneRecurrent is tep.PruneRecurrent
    assert pruning.GeometricSchedule is schedules.GeometricSchedule is tep.GeometricSchedule
    assert pruning.schedules is schedules is tep.schedules
