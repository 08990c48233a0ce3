"""RamanujanConstraint + GeometricSchedule under MultiWorkerMirroredStrategy (two local workers).

Two worker processes (tests/distributed_worker.py) on localhost, each with its own TF_CONFIG,
train the same pruned LSTM inside ``MultiWorkerMirroredStrategy().scope()`` with
``UpdatePruningStep`` and ``RamanujanConstraint`` and write their final state to files.  The
tests compare the two workers: same frozen weights, same freeze step, bit-identical masks,
weights and good masks, identical constraint histories.  MirroredStrategy on two logical CPUs
is covered by test_mirrored_strategy_two_logical_cpus_keeps_replicas_equal in
tests/test_constraint.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import once_per_run

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("distributed_worker.py")
SCENARIOS = ("callable", "default", "disagree")
TIMEOUT = 420  # seconds for the whole two-worker run (about 1 min on an idle 2-core machine)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("localhost", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(path: Path, chars: int = 2500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "<no output>"


def run_workers(out_dir: Path, scenarios=SCENARIOS, timeout: float = TIMEOUT) -> None:
    """Start two MWMS workers on free localhost ports; kill both and fail on any problem."""
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    procs, logs = [], []
    try:
        for index in range(2):
            env = dict(
                os.environ, TF_USE_LEGACY_KERAS="1", CUDA_VISIBLE_DEVICES="-1",
                TF_CPP_MIN_LOG_LEVEL="2",
                TF_CONFIG=json.dumps({"cluster": cluster,
                                      "task": {"type": "worker", "index": index}}),
            )
            log = out_dir / f"worker{index}.log"
            logs.append(log)
            with open(log, "w") as handle:
                procs.append(subprocess.Popen(
                    [sys.executable, str(WORKER), str(out_dir), *scenarios],
                    stdout=handle, stderr=subprocess.STDOUT, env=env,
                ))
        deadline = time.monotonic() + timeout
        while any(proc.poll() is None for proc in procs):
            failed = [proc for proc in procs if proc.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                break  # the peer of a dead worker would wait in a collective: stop both
            time.sleep(0.5)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            proc.wait()
    codes = [proc.returncode for proc in procs]
    if codes != [0, 0]:
        reason = "timed out" if any(c is not None and c < 0 for c in codes) else "failed"
        tails = "\n".join(
            f"----- worker {i} (exit {code}) -----\n{_tail(log)}"
            for i, (code, log) in enumerate(zip(codes, logs, strict=True))
        )
        pytest.fail(f"MultiWorkerMirroredStrategy workers {reason} (exit codes {codes}; "
                    f"timeout {timeout}s):\n{tails}", pytrace=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out_dir = once_per_run(tmp_path_factory, "mwms", run_workers)
    loaded = {}
    for scenario in SCENARIOS:
        pair = []
        for index in range(2):
            stem = out_dir / f"{scenario}_worker{index}"
            with open(f"{stem}.json") as handle:
                state = json.load(handle)
            with np.load(f"{stem}.npz") as arrays:
                state["arrays"] = {key: arrays[key] for key in arrays.files}
            pair.append(state)
        loaded[scenario] = pair
    loaded["out_dir"] = out_dir
    return loaded


def _sparsity(mask) -> float:
    return 1.0 - np.count_nonzero(mask) / mask.size


def _assert_workers_agree(first, second):
    assert (first["task"], second["task"]) == (0, 1)
    assert (first["chief"], second["chief"]) == (True, False)  # worker 0 is the chief
    assert first["replicas"] == second["replicas"] == 2
    for key in ("pruning_step", "frozen", "frozen_step", "mask_updates", "frozen_layers"):
        assert first[key] == second[key], (key, first[key], second[key])
    assert first["arrays"].keys() == second["arrays"].keys()
    for key, value in first["arrays"].items():
        assert np.array_equal(value, second["arrays"][key]), f"{key} differs between workers"
    # Every record (step, sparsity, Delta_r, verdict, ...) equal, floats exactly.
    assert first["history"] == second["history"]
    assert first["history"], "the constraint checked nothing"


def test_callable_criterion_freezes_w_xh_on_both_workers_at_the_same_step(results):
    first, second = results["callable"]
    _assert_workers_agree(first, second)
    assert first["frozen"] == {"lstm/W_xh": True, "lstm/W_hh": False}
    assert first["frozen_layers"] == {"lstm": ["W_xh"]}
    step = first["frozen_step"]["lstm/W_xh"]
    assert step > 0
    failing = [r for r in first["history"] if r["frozen"]]
    assert [r["step"] for r in failing] == [step] and failing[0]["role"] == "W_xh"
    assert failing[0]["sparsity"] > 0.4
    masks = first["arrays"]
    # rolled back to the last passing mask, while W_hh went on to the cap
    assert _sparsity(masks["lstm/W_xh/mask"]) <= 0.4
    assert np.array_equal(masks["lstm/W_xh/mask"], masks["lstm/W_xh/good_mask"])
    assert _sparsity(masks["lstm/W_hh/mask"]) > 0.8
    assert np.all(masks["lstm/W_xh/weight"][masks["lstm/W_xh/mask"] == 0] == 0)


def test_default_criterion_freezes_the_same_weights_at_the_same_steps(results):
    first, second = results["default"]
    _assert_workers_agree(first, second)
    frozen = [name for name, flag in first["frozen"].items() if flag]
    assert frozen, "no freeze with the default criterion while pruning to 90 %"
    for name in frozen:
        assert first["frozen_step"][name] > 0
    assert first["messages"] == second["messages"]


def test_a_failure_on_one_worker_freezes_the_weight_on_every_worker(results):
    # Only worker 1's criterion fails; the constraint must not let the workers' masks diverge.
    first, second = results["disagree"]
    assert first["frozen"] == second["frozen"] == {"lstm/W_xh": True, "lstm/W_hh": False}
    assert first["frozen_step"] == second["frozen_step"]
    for key, value in first["arrays"].items():
        assert np.array_equal(value, second["arrays"][key]), f"{key} differs between workers"
    assert _sparsity(first["arrays"]["lstm/W_xh/mask"]) <= 0.4


def test_only_the_chief_writes_tensorboard_scalars(results):
    # Both workers were given the same log_dir (as on a shared file system).
    chief, other = results["callable"]
    files = sorted((results["out_dir"] / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1, f"expected one event file (the chief's), got {files}"
    assert f".{chief['pid']}." in files[0].name and f".{other['pid']}." not in files[0].name
    assert files[0].stat().st_size > 100  # more than the file header: scalars were written


def test_freeze_lines_name_the_worker_that_failed(results):
    first, second = results["disagree"]
    assert any("failed the check on another worker" in line for line in first["messages"])
    assert any("failed the criterion" in line for line in second["messages"])
