"""Shared test set-up, session fixtures and the ``--cpu-durations N`` option.

Keras 2 must be selected before anything imports TensorFlow, hence the environment first.

``pytest --cpu-durations 30`` lists the 30 tests that used the most CPU seconds (the test
process plus the child processes that finished meanwhile: notebook kernels, workers,
compilers). On a machine shared with other jobs this is the figure to compare, not wall time.
It counts the tests of this process only: run it with ``-n 0`` (``make test`` uses two processes).

Session fixtures (trained once per test run, on first use; treat what they return as read-only:
clone a model with ``keras.models.clone_model`` + ``set_weights`` before changing it):

* ``digits_data``: ``(x_train, y_train, x_test, y_test)`` of scikit-learn's digits, 8 steps x 8
  features, float32 and int64 labels.
* ``pruned_digits``: a factory, ``pruned_digits("lstm" | "gru" | "simplernn")`` ->
  :class:`PrunedDigits`: a 16-unit classifier (logits) trained on digits, then pruned with
  ``prune_rnn`` + ``RamanujanConstraint`` (the demo's recipe), with the dense, wrapped and
  stripped models, the constraint, both test accuracies and the stripped model saved as
  ``.keras`` (for CLI tests).
* ``demo_run``: ``make demo``'s job, shortened (16 units, 4 + 8 epochs, no export):
  :class:`DemoRun` with the returned figures, the printed lines and the output folder, which
  holds ``history.csv``, the plot and ``pruned_model.keras`` (the demo model).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

import tf_expander_pruning  # noqa: E402,F401

# ------------------------------------------------------------------ --cpu-durations
# Wall-clock durations on a shared machine mostly measure the other users; CPU seconds of the
# test process and of its finished children (notebook kernels, workers, compilers) do not.
_CPU_TIMES = pytest.StashKey[list]()


def _cpu_seconds() -> float:
    try:
        import resource  # POSIX only: elsewhere the children are not counted
    except ImportError:
        return time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--cpu-durations", type=int, default=None, metavar="N",
        help="list the N tests that used the most CPU seconds (this process and its finished "
        "child processes, fixtures included); 0 lists all. Unlike --durations it hardly "
        "depends on the machine's load.",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if item.config.getoption("cpu_durations") is None:
        yield
        return
    start = _cpu_seconds()
    yield
    item.config.stash.setdefault(_CPU_TIMES, []).append((_cpu_seconds() - start, item.nodeid))


#: The longest tests (25-60 s each on an idle 2-core machine), handed out before the other slow
#: ones under pytest-xdist: started last, one of them would run alone at the end.
LONGEST_FIRST = (
    "tests/test_notebooks.py::test_notebook_runs",
    "tests/test_experiments.py::test_protocol_on_a_few_hundred",
    "tests/test_distributed.py",
)


def pytest_generate_tests(metafunc) -> None:
    """``flavour`` (tests/behaviour): the Keras of this process, see tests/flavours.py."""
    if "flavour" in metafunc.fixturenames:
        from flavours import FLAVOUR

        metafunc.parametrize("flavour", [FLAVOUR], ids=[FLAVOUR.name], indirect=True)


@pytest.fixture()
def flavour(request):
    request.param.keras.utils.set_random_seed(0)
    return request.param


def pytest_collection_modifyitems(config, items) -> None:
    # On several processes (pytest-xdist, `make test`) the slow tests are handed out first, so
    # that the short ones fill the gaps at the end instead of one long test running alone.
    if getattr(config.option, "numprocesses", None):
        items.sort(key=lambda item: (not item.nodeid.startswith(LONGEST_FIRST),
                                     item.get_closest_marker("slow") is None))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    count = config.getoption("cpu_durations")
    times = sorted(config.stash.get(_CPU_TIMES, []), reverse=True)
    if count is None or not times:
        return
    terminalreporter.write_sep("=", f"CPU seconds per test (total {sum(t for t, _ in times):.1f})")
    for seconds, nodeid in times[: count or None]:
        terminalreporter.write_line(f"{seconds:8.2f}s  {nodeid}")

def once_per_run(tmp_path_factory, name: str, build) -> Path:
    """``build(folder)`` once per test run, even on several pytest-xdist processes; the folder.

    The first process to get here builds under a file lock; the others wait and reuse the
    folder (the lock and the folder live in the run's shared temporary directory).  Without
    xdist it is a fresh temporary folder, built once per call.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    import fcntl  # POSIX; the parallel suite runs on Linux

    root = tmp_path_factory.getbasetemp().parent  # one per run, shared by its processes
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            folder.mkdir(exist_ok=True)
            build(folder)
            done.touch()
    return folder


class TrainedZoo:
    """Small classifiers trained on digits on first use, and their flatbuffers, cached.

    ``build(kind)`` returns an uncompiled softmax model; each kind is trained once (seed 0,
    Adam 0.01, 15 epochs) and each ``(kind, quantization)`` converted once with
    ``to_tflite(..., representative_data=x_train, **convert_options)``.
    """

    def __init__(self, digits, build, **convert_options):
        (self.x_train, self.y_train), (self.x_test, self.y_test) = digits
        self.build, self.convert_options = build, convert_options
        self.models: dict = {}
        self.flatbuffers: dict = {}

    def model(self, kind: str):
        if kind not in self.models:
            from tf_expander_pruning.keras_compat import keras

            keras.utils.set_random_seed(0)
            model = self.build(kind)
            model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
            model.fit(self.x_train, self.y_train, epochs=15, batch_size=32, verbose=0)
            self.models[kind] = model
        return self.models[kind]

    def tflite(self, kind: str, quantization):
        from tf_expander_pruning import export

        key = (kind, quantization)
        if key not in self.flatbuffers:
            self.flatbuffers[key] = export.to_tflite(
                self.model(kind), quantization=quantization, representative_data=self.x_train,
                **self.convert_options,
            )
        return self.flatbuffers[key]


#: Units and epochs of the shared pruned models: big enough that every gate graph has a defined
#: Ramanujan bound at the start (degree >= 3) and the constraint makes several mask updates.
SHARED_UNITS = 16
SHARED_DENSE_EPOCHS = 6
SHARED_PRUNE_EPOCHS = 8


@dataclass(frozen=True)
class PrunedDigits:
    """A small recurrent classifier trained on digits and pruned under the constraint."""

    cell: str
    dense: Any  # the trained dense tf_keras model (compiled, logits)
    pruned: Any  # the model still wrapped for pruning, after constrained pruning
    stripped: Any  # strip_pruning(pruned): plain layers with sparse weights
    constraint: Any  # the RamanujanConstraint that ran (history, frozen_layers, ...)
    dense_accuracy: float
    pruned_accuracy: float
    path: Path  # the stripped model saved as .keras


@dataclass(frozen=True)
class DemoRun:
    """What the shortened demo returned, printed and wrote."""

    result: dict[str, Any]
    lines: list[str]
    out: Path

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def model_path(self) -> Path:
        return self.out / "pruned_model.keras"


@pytest.fixture(scope="session")
def digits_data():
    """``(x_train, y_train, x_test, y_test)`` of the embedded digits data set."""
    from tf_expander_pruning import datasets

    return (*datasets.load("digits", "train"), *datasets.load("digits", "test"))


def _pruned_digits(cell: str, data, folder: Path) -> PrunedDigits:
    from tf_expander_pruning import demo
    from tf_expander_pruning.pruning import strip_pruning
    from tf_expander_pruning.research.classifier import accuracy

    x_train, y_train, x_test, y_test = data
    dense = demo.train_dense(x_train, y_train, units=SHARED_UNITS, epochs=SHARED_DENSE_EPOCHS,
                             cell=cell, progress=False)
    pruned, constraint = demo.prune_while_ramanujan(dense, x_train, y_train,
                                                    epochs=SHARED_PRUNE_EPOCHS, progress=False)
    stripped = strip_pruning(pruned)
    path = folder / f"pruned_{cell}.keras"
    stripped.save(path)
    return PrunedDigits(cell, dense, pruned, stripped, constraint,
                        accuracy(dense, x_test, y_test), accuracy(stripped, x_test, y_test), path)


@pytest.fixture(scope="session")
def pruned_digits(digits_data, tmp_path_factory):
    """``pruned_digits(cell)`` -> :class:`PrunedDigits`, trained once per cell and session."""
    cache: dict[str, PrunedDigits] = {}
    folder = tmp_path_factory.mktemp("pruned_digits")

    def get(cell: str = "lstm") -> PrunedDigits:
        if cell not in cache:
            cache[cell] = _pruned_digits(cell, digits_data, folder)
        return cache[cell]

    return get


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """``make demo``'s job on a small budget, run once (see :class:`DemoRun`)."""
    from tf_expander_pruning import demo

    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    result = demo.run(out, units=16, dense_epochs=4, prune_epochs=8, export=False,
                      print_fn=lines.append)
    return DemoRun(result, lines, out)
