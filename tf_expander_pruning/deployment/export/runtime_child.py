"""Runtime child: run a flatbuffer in LiteRT or TFLM (no TensorFlow, no package import).

    python -c "import runpy; runpy.run_path('runtime_child.py', run_name='__main__')" CFG.json

``CFG.json`` keys: ``model`` (.tflite path), ``inputs`` (.npy, ``(batches, batch, ...)`` in the
model's input dtype), ``out`` (.npy for the raw outputs), ``runtime`` (``"litert"``/``"tflm"``),
``mode`` (``"run"``: every batch; ``"probe"``: TFLM allocates with ``arena`` and runs once, exit
0 if that worked; ``"search"``: the smallest arena, see :func:`_search`; the state machine is
``arena_search.py`` of this folder, loaded by path),
``arena``, ``stream`` (``None`` for a whole-sequence model, else the
positions of ``x_t``, the output and each state, see ``export.streaming.stream_plan``), and
``masks``/``mask_inputs`` (a masked-sequence model's mask input and the positions of ``x`` and
``mask``; for a streaming model, ``masks`` marks the frames to feed).

A whole-sequence model is reset before every batch: the fused LSTM keeps its state in variable
tensors that persist across ``invoke()``.  A streaming model gets ``x[:, t]`` and the states of
the previous step; an int8 state is requantised from its output scale to its input scale.
"""

import json
import sys

import numpy as np


class _Runner:
    """set(position, array) / invoke() / get(position) / reset() over either runtime."""

    def __init__(self, model: bytes, runtime: str, arena: int) -> None:
        self.tflm = runtime == "tflm"
        if self.tflm:
            from tflite_micro.python.tflite_micro import runtime as micro

            self.it = micro.Interpreter.from_bytes(model, arena_size=int(arena))
        else:
            from ai_edge_litert.interpreter import Interpreter

            self.it = Interpreter(model_content=model)
            self.it.allocate_tensors()
            self.ins = [d["index"] for d in self.it.get_input_details()]
            self.outs = [d["index"] for d in self.it.get_output_details()]

    def reset(self) -> None:
        if self.tflm:
            self.it.reset()
        else:
            self.it.reset_all_variables()

    def set(self, position: int, value) -> None:
        if self.tflm:
            self.it.set_input(value, position)
        else:
            self.it.set_tensor(self.ins[position], value)

    def invoke(self) -> None:
        self.it.invoke()

    def get(self, position: int):
        if self.tflm:
            return np.array(self.it.get_output(position))
        return np.array(self.it.get_tensor(self.outs[position]))


def _requantise(raw, state):
    """Output-state values (raw) -> the input-state tensor's dtype and scale."""
    if state["dtype"] == "float32":
        return raw.astype(np.float32)
    real = (raw.astype(np.float64) - state["out_zero_point"]) * state["out_scale"]
    q = np.round(real / state["in_scale"]) + state["in_zero_point"]
    limits = np.iinfo(state["dtype"])  # int8, or int16 in a 16x8 streaming model
    return np.clip(q, limits.min, limits.max).astype(state["dtype"])


def _run_stream(runner, batch, stream, feed):
    """Every step of ``batch``; a frame with ``feed`` 0 for the whole batch is padding: skipped
    (its output repeats the last one, as Keras repeats or zeroes it)."""
    states = [np.full(s["shape"], s["zero_value"], dtype=s["dtype"]) for s in stream["states"]]
    steps, last = [], None
    for t in range(batch.shape[1]):
        if feed is not None and not np.any(feed[:, t]):
            steps.append(last if last is not None else runner_zero(runner, stream))
            continue
        runner.set(stream["x"], np.ascontiguousarray(batch[:, t]))
        for state, value in zip(stream["states"], states, strict=True):
            runner.set(state["input"], value)
        runner.invoke()
        last = runner.get(stream["y"])
        steps.append(last)
        states = [_requantise(runner.get(s["output"]), s) for s in stream["states"]]
    return np.stack(steps, axis=1) if stream["every_step"] else steps[-1]


def runner_zero(runner, stream):
    """The output of a padded first frame: nothing has been fed yet (a zero-state output)."""
    return np.zeros_like(runner.get(stream["y"]))


def _run(cfg: dict, model: bytes, inputs, masks, arena: int) -> list:
    runner = _Runner(model, cfg["runtime"], arena)
    outs = []
    for batch, mask in zip(inputs, masks, strict=True):
        if cfg.get("stream"):
            outs.append(_run_stream(runner, batch, cfg["stream"], mask))
        else:
            runner.reset()
            positions = cfg.get("mask_inputs") or {"x": 0}
            runner.set(positions["x"], batch)
            if "mask" in positions:
                runner.set(positions["mask"], mask)
            runner.invoke()
            outs.append(runner.get(0))
        if cfg["mode"] != "run":
            break
    return outs


def _arena_search():
    """``arena_search.py`` next to this file, loaded by its path (this child does not import
    the package): the one state machine of the search, shared with ``runtimes``."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "arena_search.py")
    spec = importlib.util.spec_from_file_location("tep_arena_search", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _search(cfg: dict, model: bytes, inputs, masks) -> None:
    """Binary search for TFLM's smallest arena, every probe in this process.

    ``cfg["search"]`` is an ``arena_search`` state plus ``log`` (the probe log) and
    ``max_probes``.  Each probe is logged before it starts ("try N") and after ("ok N" /
    "fail N"), so that when a too-small arena segfaults this process, the parent replays the
    log (a "try" without an outcome is a failure) and starts a new child from there
    (``runtimes.measure_tflm_arena``).  With ``max_probes`` set, the child stops after that many
    probes (1: one process per probe).
    """
    state = cfg["search"]

    def works(arena: int) -> bool:
        _run(cfg, model, inputs, masks, arena)  # a too-small arena raises (or segfaults)
        return True

    with open(state["log"], "a", buffering=1) as log:
        _arena_search().run(state, works, log=log, max_probes=state.get("max_probes"))


def main(path: str) -> None:
    cfg = json.load(open(path))
    model = open(cfg["model"], "rb").read()
    inputs = np.load(cfg["inputs"])
    masks = np.load(cfg["masks"]) if cfg.get("masks") else [None] * len(inputs)
    if cfg["mode"] == "search":
        _search(cfg, model, inputs, masks)
        return
    outs = _run(cfg, model, inputs, masks, cfg.get("arena") or 0)
    if cfg["mode"] == "run":
        np.save(cfg["out"], np.stack(outs))


if __name__ == "__main__":
    main(sys.argv[1])
