"""TFLite conversion time: ``export.to_tflite`` against the stock converter recipe, one run.

Both arms convert the same trained-shape Keras model (float32, no quantisation) to the same
flatbuffer (checked byte for byte):

* stock:   ``tf.lite.TFLiteConverter.from_concrete_functions([fn], model)``, the recipe of the
  TFLite guide, which hands the converter the Keras model as the object to save;
* package: ``export.to_tflite(model)``, which hands it a ``tf.Module`` holding only the
  function and the model's variables (``deployment/export/converter.serving_module``), so the
  internal SavedModel save does not trace every layer for Keras serialization.

Arms are interleaved, each repeated; the figure is the ratio of the medians (the machine may
be shared: a ratio measured in the same run is what carries over).  Prints one line.

Usage: python benchmarks/conversion.py [--kind bilstm|lstm|gru|stacked] [--units 32]
       [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from tf_expander_pruning.keras_compat import keras, tf

# isort: split
from tf_expander_pruning import export


def build(kind: str, units: int):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(8, 8), batch_size=1)
    if kind == "bilstm":
        x = keras.layers.Bidirectional(keras.layers.LSTM(units))(inputs)
    elif kind == "stacked":
        x = keras.layers.LSTM(units, return_sequences=True)(inputs)
        x = keras.layers.GRU(units)(x)
    else:
        x = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind](units)(inputs)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def stock(model) -> bytes:
    serve = tf.function(lambda x: model(x, training=False),
                        input_signature=[tf.TensorSpec([1, 8, 8], tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], model)
    return bytes(converter.convert())


def timed(function, model) -> tuple[float, bytes]:
    start = time.perf_counter()
    data = function(model)
    return time.perf_counter() - start, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="bilstm", choices=("bilstm", "lstm", "gru", "stacked"))
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = build(args.kind, args.units)
    timed(export.to_tflite, model)  # warm-up: first trace, converter libraries loaded
    stock_times, package_times, same = [], [], True
    for _ in range(args.repeats):
        t_stock, a = timed(stock, model)
        t_package, b = timed(export.to_tflite, model)
        stock_times.append(t_stock)
        package_times.append(t_package)
        same = same and a == b
    ratio = statistics.median(package_times) / statistics.median(stock_times)
    print(f"conversion: to_tflite/stock converter time ratio = {ratio:.3f} "
          f"(same flatbuffer: {'yes' if same else 'NO'}) | {args.kind} units={args.units} float32, "
          f"median of {args.repeats} interleaved: stock {statistics.median(stock_times):.2f} s, "
          f"to_tflite {statistics.median(package_times):.2f} s")
    if not same:
        raise SystemExit("the two arms gave different flatbuffers")


if __name__ == "__main__":
    main()
