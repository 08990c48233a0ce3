"""Every examples/*.ipynb runs top to bottom; each is stored without outputs except
03_paper_findings (plots visible when opened; issue 15), 02_microcontroller (the device table
from a real run; issue 13) and 05_keyword_spotting (the keyword-spotting table and plots from a
real run; issue 25), which are committed with their outputs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat  # noqa: E402  (the [dev] extra, installed by make test)
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
EXPECTED = {"01_quickstart", "02_microcontroller", "03_paper_findings", "04_tuning",
            "05_keyword_spotting"}
KERNEL = "tep-python"  # a kernelspec written by the test, pointing at this interpreter
# Stored executed (name -> the least number of plots stored), so a reader sees the results.
WITH_OUTPUTS = {"03_paper_findings": 4, "02_microcontroller": 0, "05_keyword_spotting": 2}


def test_the_example_notebooks_exist():
    assert EXPECTED <= {path.stem for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert code, "a notebook without code"
    if path.stem in WITH_OUTPUTS:
        _check_stored_outputs(code, WITH_OUTPUTS[path.stem])
    else:
        dirty = [
            i for i, cell in enumerate(code) if cell.outputs or cell.execution_count is not None
        ]
        assert not dirty, f"code cells {dirty} have outputs or execution counts: clear them"
    # Keras 2 must be chosen before TensorFlow is imported (TF-MOT needs it).
    first = code[0].source
    assert 'os.environ["TF_USE_LEGACY_KERAS"] = "1"' in first
    assert first.index("TF_USE_LEGACY_KERAS") < min(
        (first.index(word) for word in ("import tensorflow", "import tf_", "from tf_")
         if word in first), default=len(first)
    )


def _check_stored_outputs(code, min_images: int) -> None:
    """Executed top to bottom in one run, no error output, and the plots are in the file."""
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), f"not one clean run: counts {counts}"
    outputs = [output for cell in code for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"], "an error is stored"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= min_images, f"expected the stored plots, found {len(images)} images"
    assert any(o.output_type in ("stream", "execute_result", "display_data") for o in outputs)


@pytest.fixture()
def kernel_env(tmp_path, monkeypatch):
    """A kernelspec running ``sys.executable`` (this venv), found first on JUPYTER_PATH.

    The stock ``python3`` spec may resolve to another interpreter when a user-level kernelspec
    of that name exists; this one cannot.
    """
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tf_expander_pruning (tests)",
        "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    work = tmp_path / "cwd"
    work.mkdir()
    return work


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, kernel_env):
    import nbclient
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert os.path.realpath(spec.argv[0]) == os.path.realpath(sys.executable)
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        book, kernel_name=KERNEL, timeout=600, allow_errors=False,
        resources={"metadata": {"path": str(kernel_env)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        output for cell in book.cells if cell.cell_type == "code"
        for output in cell.outputs if output.output_type == "error"
    ]
    assert not errors
    # the notebook really ran in this interpreter's environment, in the temporary directory
    assert all(cell.execution_count for cell in book.cells if cell.cell_type == "code")
