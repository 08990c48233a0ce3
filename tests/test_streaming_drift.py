"""Drift-free int8 streaming (issue 25 item 1): the int8 step model keeps its states in int16
(TFLite's 16x8 mode: int8 weights, int16 activations), so a long stream agrees with Keras.

Task: digits, each 8-row image resampled to 40 frames; a 32-unit LSTM or GRU -> Dense(10) trained
on it.  The stream: 25 test digits back to back, 1,000 frames, fed one frame per call through
``export.verify`` (the runtime child: LiteRT or TFLM), compared with the same Keras model run on
the whole 1,000-frame sequence.  Before this change the all-int8 graph (still made by
``streaming_tflite(..., activations="int8")``) is measured on the same stream for comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
from tf_expander_pruning.keras_compat import keras

from tf_expander_pruning import export
from tf_expander_pruning.deployment.export.state_error import float_states, state_errors
from tf_expander_pruning.deployment.export.state_scales import share_state_scales
from tf_expander_pruning.deployment.export.streaming import stream_plan, streaming_tflite

FRAMES = 40  # per digit
DIGITS_PER_STREAM = 25  # 25 x 40 = 1,000 frames
STREAMS = 100


def _resample(x: np.ndarray, steps: int) -> np.ndarray:
    old, new = np.linspace(0, 1, x.shape[1]), np.linspace(0, 1, steps)
    return np.stack([np.stack([np.interp(new, old, s[:, f]) for f in range(s.shape[1])], axis=1)
                     for s in x]).astype(np.float32)


class _Zoo:
    """One trained model per cell and its streaming flatbuffers, made on first use."""

    def __init__(self, digits_data) -> None:
        x_train, self.y_train, x_test, y_test = digits_data
        self.x_train, x_test = _resample(x_train, FRAMES), _resample(x_test, FRAMES)
        rng = np.random.default_rng(25)
        picks = rng.integers(0, len(x_test), size=(STREAMS, DIGITS_PER_STREAM))
        self.streams = x_test[picks].reshape(STREAMS, FRAMES * DIGITS_PER_STREAM, -1)
        self.labels = y_test[picks[:, -1]]  # the digit the stream ends on
        self._models, self._data = {}, {}

    def model(self, cell: str):
        if cell not in self._models:
            keras.utils.set_random_seed(0)
            inputs = keras.Input((None, 8))
            layer = keras.layers.LSTM(32) if cell == "lstm" else keras.layers.GRU(32)
            model = keras.Model(inputs,
                                keras.layers.Dense(10, activation="softmax")(layer(inputs)))
            model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
            model.fit(self.x_train, self.y_train, epochs=8, batch_size=64, verbose=0)
            self._models[cell] = model
        return self._models[cell]

    def tflite(self, cell: str, activations: str = "int16") -> bytes:
        if (cell, activations) not in self._data:
            self._data[(cell, activations)] = streaming_tflite(
                export.strip(self.model(cell)), quantization="int8",
                representative_data=self.x_train[:100], batch_size=1, isolate=True,
                activations=activations)
        return self._data[(cell, activations)]


@pytest.fixture(scope="module")
def zoo(digits_data):
    return _Zoo(digits_data)


@pytest.mark.slow
@pytest.mark.parametrize(("cell", "runtime"), [("lstm", "tflm"), ("lstm", "litert"),
                                               ("gru", "litert"), ("gru", "tflm")])
def test_int8_streaming_agrees_with_keras_at_t_1000(zoo, cell, runtime):
    data = zoo.tflite(cell)
    assert export.quantization_of(data) == "int8"
    report = export.verify(data, zoo.model(cell), zoo.streams, runtime=runtime,
                           labels=zoo.labels, measure_arena=False)
    print(f"\nDRIFT {cell} {runtime} T=1000 int16 states: {report}")
    assert report.streaming and report.samples == STREAMS
    assert report.argmax_agreement >= 0.97, report
    assert abs(report.runtime_accuracy - report.keras_accuracy) <= 0.03, report


@pytest.mark.slow
def test_states_are_int16_and_fed_back_unchanged(zoo):
    """Every state is symmetric int16 with the same scale in and out: firmware copies it."""
    plan = stream_plan(zoo.tflite("lstm"))
    assert plan["x_info"]["dtype"] == np.int16 and plan["y_info"]["dtype"] == np.int16
    assert len(plan["states"]) == 2  # h, c
    for state in plan["states"]:
        assert state["dtype"] == "int16"
        assert state["in_zero_point"] == state["out_zero_point"] == 0
        assert state["in_scale"] == state["out_scale"] > 0
    ops = set(export.list_ops(zoo.tflite("lstm")))
    assert ops <= {"FULLY_CONNECTED", "ADD", "SUB", "MUL", "LOGISTIC", "TANH", "SOFTMAX"}, ops
    # Per-channel dense weights (one scale per output unit): per-tensor ones double the state
    # error (docs/deploy.md, Drift); the vendored TFLM runs them on the Cortex-M4 too.
    assert _fully_connected_weight_scales(zoo.tflite("lstm")) == {True}


def _fully_connected_weight_scales(data: bytes) -> set[bool]:
    """For each FULLY_CONNECTED: whether its weights have one scale per output unit."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(data, 0)
    graph = model.Subgraphs(0)
    per_channel = set()
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        code = model.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == \
                schema.BuiltinOperator.FULLY_CONNECTED:
            weights = graph.Tensors(op.Inputs(1))
            per_channel.add(weights.Quantization().ScaleLength() == weights.Shape(0) > 1)
    return per_channel


@pytest.mark.slow
def test_the_all_int8_graph_drifts_on_the_same_stream(zoo):
    """The form before (every state int8) on the same LSTM and stream: worse than int16."""
    data = zoo.tflite("lstm", "int8")
    assert stream_plan(data)["states"][1]["dtype"] == "int8"
    before = export.verify(data, zoo.model("lstm"), zoo.streams, runtime="litert",
                           measure_arena=False)
    after = export.verify(zoo.tflite("lstm"), zoo.model("lstm"), zoo.streams,
                          runtime="litert", measure_arena=False)
    print(f"\nDRIFT lstm litert T=1000 before {before.argmax_agreement:.1%} "
          f"(max diff {before.max_abs_diff:.3f}), after {after.argmax_agreement:.1%} "
          f"(max diff {after.max_abs_diff:.3f})")
    assert after.max_abs_diff < before.max_abs_diff
    assert after.argmax_agreement >= before.argmax_agreement


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_int16_state_error_is_bounded_over_the_stream(zoo, cell):
    """Per frame, the largest |state - float state| over the units (median over 10 streams of
    1,000 frames, stepped in LiteRT): no growth from the second quarter of the stream to the
    last, and several times below the all-int8 graph's on the same streams."""
    x = zoo.streams[:10]
    reference = float_states(zoo.model(cell), x)
    after = np.median(state_errors(zoo.tflite(cell), x, reference), axis=2)  # (T, states)
    before = np.median(state_errors(zoo.tflite(cell, "int8"), x, reference), axis=2)
    quarters = [part.mean(axis=0) for part in np.array_split(after, 4)]
    print(f"\nSTATE ERROR {cell} int16 by quarter {np.round(quarters, 4).tolist()}, int8 "
          f"{np.round([p.mean(axis=0) for p in np.array_split(before, 4)], 4).tolist()}")
    assert np.all(quarters[3] <= 1.5 * quarters[1]), quarters
    assert np.all(after[250:].mean(axis=0) * 3 < before[250:].mean(axis=0))


@pytest.mark.slow
def test_share_state_scales_refuses_an_all_int8_model(zoo):
    with pytest.raises(ValueError, match="symmetric int16"):
        share_state_scales(zoo.tflite("gru", "int8"))


def test_bad_activations_are_refused():
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4)])
    with pytest.raises(ValueError, match="activations"):
        streaming_tflite(model, quantization="int8", representative_data=np.zeros((2, 5, 3)),
                         batch_size=1, isolate=True, activations="int4")


def test_share_state_scales_needs_a_signature():
    with pytest.raises(ValueError):
        share_state_scales(b"not a flatbuffer")
