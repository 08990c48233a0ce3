"""The README's Python examples run as written and do what the text says."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_exactly_two_setup_commands():
    text = README.read_text()
    setup = text.split("## Set-up", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make (\w+)", setup, flags=re.M)
    assert commands == ["demo", "test"]


def test_readme_cli_commands_are_real_subcommands():
    from tf_expander_pruning.cli import build_parser

    parser = build_parser()
    for line in re.findall(r"^\.venv/bin/tf-expander (.+)$", README.read_text(), flags=re.M):
        parser.parse_args(line.split())  # SystemExit on an unknown command or option


def test_readme_analyze_example(capsys):
    block = [b for b in python_blocks() if "tep.analyze(" in b][0]
    exec(compile(block, "README-analyze", "exec"), {})
    values = capsys.readouterr().out.split()
    assert len(values) == 6 and values[-1] in ("True", "False")


@pytest.mark.slow
def test_readme_fit_example(capsys):
    block = [b for b in python_blocks() if "RamanujanConstraint()" in b][0]
    namespace = {}
    exec(compile(block, "README-fit", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Delta_r" in out and "W_hh" in out
    loss, accuracy = namespace["final"].evaluate(
        namespace["x_test"], namespace["y_test"], verbose=0
    )
    assert accuracy > 0.8
    # the callback checked the graphs and every final weight graph is still Ramanujan or frozen
    assert namespace["constraint"].history
    assert not any(type(layer).__name__ == "PruneRecurrent" for layer in namespace["final"].layers)


@pytest.mark.slow
def test_readme_inspect_command_runs_on_the_demo_model(demo_run, capsys):
    """The README's `tf-expander inspect` line, on the model `make demo` writes."""
    import json

    from tf_expander_pruning.graphs import summary_rows
    from tf_expander_pruning.keras_compat import keras

    from tf_expander_pruning.cli import main

    (line,) = re.findall(r"^\.venv/bin/tf-expander (inspect .+)$", README.read_text(),
                         flags=re.M)
    args = line.replace("demo_output/pruned_model.keras", str(demo_run.model_path)).split()
    assert main(args) == 0
    assert "W_hh" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expected = summary_rows(keras.models.load_model(demo_run.model_path), per_gate=True)
    assert [(r["layer"], r["role"], r["gate"]) for r in rows] == [
        (r["layer"], r["role"], r["gate"]) for r in expected
    ]
    # --per-gate: one row per gate block of the demo's LSTM
    assert {r["gate"] for r in rows if r["layer"] == "lstm"} == {"i", "f", "c", "o"}


def test_readme_keras3_jax_example_runs_as_written(tmp_path):
    """Issue 24: the README's Keras 3 example, in a fresh process on the JAX backend."""
    import os
    import subprocess
    import sys

    block = [b for b in python_blocks() if 'KERAS_BACKEND"] = "jax"' in b][0]
    check = (
        "\nassert keras.backend.backend() == 'jax'"
        "\nassert [type(layer).__name__ for layer in final.layers] == ['LSTM', 'Dense']"
        "\nkernel = final.layers[0].cell.recurrent_kernel.numpy()"
        "\nprint('sparsity', 1 - (kernel != 0).mean())"
        "\nloaded = keras.saving.load_model('pruned_lstm.keras')"
        "\nassert [p.name for p in tep.pruned_weights(loaded)] == ['lstm/W_xh', 'lstm/W_hh']"
        "\nprint('accuracy', final.evaluate(x_val, y_val, verbose=0)[1])"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", block + check], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "W_hh" in out and "Delta_r" in out
    values = dict(line.split() for line in out.splitlines()
                  if line.startswith(("sparsity", "accuracy")))
    assert float(values["sparsity"]) > 0.3 and float(values["accuracy"]) > 0.8
