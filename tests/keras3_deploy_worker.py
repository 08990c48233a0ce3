"""A pruned Keras 3 LSTM deployed to C and TFLite, measured on the backend ``KERAS_BACKEND`` picks.

tests/test_keras3_deploy.py calls these functions in-process (TensorFlow backend) and runs this
file in a child process with ``KERAS_BACKEND=jax``::

    KERAS_BACKEND=jax python tests/keras3_deploy_worker.py c float32 ...

which prints one ``RESULT{json}`` line: the backend and, for each measurement named on the
command line, its figures.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import keras  # noqa: E402  (Keras 3: the backend is chosen by KERAS_BACKEND)
import numpy as np  # noqa: E402

from tf_expander_pruning import codegen, datasets, export  # noqa: E402

SPARSITY = 0.7
UNITS = 32


def pruned_lstm(seed: int = 0):
    """A Keras 3 LSTM trained briefly on digits, 70 % of its kernel and recurrent kernel zero."""
    x, y = datasets.load("digits", "train")
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.LSTM(UNITS, name="lstm"),
                              keras.layers.Dense(10, activation="softmax", name="out")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    # Until Keras 3 `prune_rnn` / `strip_pruning` land (issue 24 items 1-2), the smallest-magnitude
    # weights are zeroed by hand; this should become prune_rnn + fit + strip_pruning then.
    cell = model.get_layer("lstm").cell
    for variable in (cell.kernel, cell.recurrent_kernel):
        value = keras.ops.convert_to_numpy(variable)
        cut = np.quantile(np.abs(value), SPARSITY)
        variable.assign(np.where(np.abs(value) > cut, value, 0.0).astype(np.float32))
    return model


def c_figures(model, x, quantization: str) -> dict:
    """The generated C against the Keras 3 model's own predictions."""
    c_model = codegen.to_c(model, quantization=quantization)
    report = codegen.verify(model, x, quantization=quantization, c_model=c_model)
    lstm = [m.sparsity for m in c_model.matrices if m.layer == "lstm"]
    return {"max_abs_diff": report.max_abs_diff, "argmax_agreement": report.argmax_agreement,
            "lstm_sparsity": min(lstm), "formats": sorted({m.format for m in c_model.matrices})}


def litert_outputs(data: bytes, x: np.ndarray) -> np.ndarray:
    """A whole-sequence float flatbuffer run in LiteRT, one sequence per invoke."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for sequence in x:
        interpreter.reset_all_variables()  # the fused LSTM keeps its state between invokes
        interpreter.set_tensor(source["index"], sequence[None].astype(np.float32))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(sink["index"])[0])
    return np.stack(outputs)


def tflite_figures(model, x, x_train, quantization: str, streaming: bool = False) -> dict:
    """``to_tflite`` of the Keras 3 model, run in LiteRT and compared with Keras."""
    data = export.to_tflite(model, quantization=quantization, streaming=streaming,
                            representative_data=x_train if quantization == "int8" else None)
    report = export.verify(data, model, x, runtime="litert")
    figures = {"max_abs_diff": report.max_abs_diff, "argmax_agreement": report.argmax_agreement,
               "kind": export.quantization_of(data), "streaming": report.streaming}
    if quantization == "float32" and not streaming:  # against Keras 3 itself, no twin between
        expected = model.predict(x, verbose=0)
        figures["direct_max_abs_diff"] = float(np.max(np.abs(litert_outputs(data, x) - expected)))
    return figures


MEASUREMENTS = {
    "c-float32": lambda m, x, xt: c_figures(m, x, "float32"),
    "c-int8": lambda m, x, xt: c_figures(m, x, "int8"),
    "tflite-float32": lambda m, x, xt: tflite_figures(m, x, xt, "float32"),
    "tflite-streaming": lambda m, x, xt: tflite_figures(m, x, xt, "float32", streaming=True),
    "tflite-dynamic": lambda m, x, xt: tflite_figures(m, x, xt, "dynamic"),
    "tflite-int8": lambda m, x, xt: tflite_figures(m, x, xt, "int8"),
}


def main(names: list[str]) -> None:
    model = pruned_lstm()
    x, x_train = datasets.load("digits", "test")[0], datasets.load("digits", "train")[0]
    result = {"backend": keras.backend.backend()}
    for name in names:
        result[name] = MEASUREMENTS[name](model, x, x_train)
    print("RESULT" + json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
