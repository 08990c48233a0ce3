"""Standard Keras layer options the converter or TFLM cannot take as they are, and the same
function in a form they can (issue 26).

* ``LSTM(use_bias=False)``: the converter fuses an LSTM into one ``UNIDIRECTIONAL_SEQUENCE_LSTM``
  op only when it has a bias; without one it becomes a ``WHILE`` loop, whose full-int8
  calibration segfaults the converter.  Export form: ``use_bias=True`` with a zero bias (the
  same outputs, one fused op).
* ``GRU(reset_after=False)`` with Keras's default ``implementation=2`` splits the recurrent
  product with ``tf.split(..., [units, units, -1])``, whose empty third part is a dynamic
  tensor TFLM refuses to allocate ("Dynamic tensors are not supported").  Export form:
  ``implementation=1`` (the same gates, computed from constant weight slices).
* ``stateful=True``: the layer has a fixed batch and keeps its state in variables between
  calls; traced for TFLite it fails inside Keras.  Export form: the stateless layer (states start
  at zero); the export itself writes the streaming step model, whose states the caller keeps.
* A recurrent layer that converts to a ``WHILE`` loop (GRU, SimpleRNN, an LSTM that cannot fuse,
  an ``RNN`` with a custom cell) crashes full-int8 calibration; unrolled it converts.  Layers
  rebuilt from their config get ``unroll=True``; an ``RNN`` with a custom cell (whose config may
  not rebuild it) is unrolled in place while it is traced (:func:`unrolled`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from tf_expander_pruning.core.cells import cell_kind
from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.core.layers import all_layers

__all__ = ["UNROLL_BY_CONFIG", "export_config", "inner_layers", "stateful_layer_names",
           "loop_layers", "custom_cell_layers", "copy_weights", "unrolled", "describe"]

#: Layers whose config takes ``unroll=True`` (a custom-cell RNN is unrolled in place instead).
UNROLL_BY_CONFIG = ("GRU", "SimpleRNN", "LSTM")


def _lstm_fuses(config: dict) -> bool:
    """Would the converter fuse an LSTM with this config into one sequence op?"""
    return (config.get("activation") == "tanh" and config.get("recurrent_activation") == "sigmoid"
            and not config.get("recurrent_dropout") and not config.get("unroll")
            and bool(config.get("use_bias", True)))


def _fix_cell_config(class_name: str, config: dict, *, unroll: bool,
                     traced: bool = True) -> None:
    """The export form of one SimpleRNN/LSTM/GRU config, changed in place (``traced=False``:
    the layer's own graph is not converted, only its weights are read: stateless only)."""
    if config.get("stateful"):
        config["stateful"] = False
        for key in ("batch_input_shape", "batch_shape", "batch_size"):
            config.pop(key, None)
    if not traced:
        return
    if class_name == "LSTM" and not config.get("use_bias", True):
        config.update(use_bias=True, bias_initializer="zeros", unit_forget_bias=False,
                      bias_regularizer=None, bias_constraint=None)
    if class_name == "GRU" and not config.get("reset_after", True):
        config["implementation"] = 1
    if unroll and class_name in UNROLL_BY_CONFIG and not config.get("unroll"):
        if class_name != "LSTM" or not _lstm_fuses(config):
            config["unroll"] = True


def export_config(layer, *, unroll: bool, traced: bool = True) -> dict | None:
    """The config of ``layer``'s export form, or ``None`` if it is exported as it is.

    ``unroll``: also unroll every layer that would convert to a ``WHILE`` loop (int8).
    ``traced=False`` (streaming and masked export, which build their own step graph from the
    weights): only ``stateful=True`` is changed.
    """
    if not isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
        return None
    if isinstance(layer, keras.layers.RNN) and cell_kind(layer) is None:
        return None  # a custom cell: unrolled in place (see `unrolled`), never rebuilt
    config = layer.get_config()
    fixed = copy.deepcopy(config)
    if isinstance(layer, keras.layers.Bidirectional):
        for key in ("layer", "backward_layer"):
            sub = fixed.get(key)
            if isinstance(sub, dict) and isinstance(sub.get("config"), dict):
                _fix_cell_config(sub.get("class_name", ""), sub["config"], unroll=unroll,
                                 traced=traced)
    else:
        _fix_cell_config(type(layer).__name__, fixed, unroll=unroll, traced=traced)
    return None if fixed == config else fixed


def inner_layers(layer) -> list:
    """``[layer]``, or a Bidirectional's forward and backward layers."""
    if isinstance(layer, keras.layers.Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    return [layer]


def _recurrent(model) -> Iterator:
    for layer in all_layers(model):
        if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            yield layer


def stateful_layer_names(model) -> list[str]:
    """Names of the ``stateful=True`` recurrent layers of ``model``."""
    return [layer.name for layer in _recurrent(model)
            if any(getattr(inner, "stateful", False) for inner in inner_layers(layer))]


def _converts_to_loop(inner) -> bool:
    if inner.unroll:
        return False
    kind = cell_kind(inner)
    if kind is not None and kind.layer == "LSTM":
        config = inner.get_config()
        _fix_cell_config("LSTM", config, unroll=False)  # a bias-free LSTM is given a bias
        return not _lstm_fuses(config)
    return True  # GRU, SimpleRNN and custom cells: a WHILE loop


def loop_layers(model) -> list:
    """The recurrent layers (Bidirectional as one) that convert to a ``WHILE`` loop."""
    return [layer for layer in _recurrent(model)
            if any(_converts_to_loop(inner) for inner in inner_layers(layer))]


def custom_cell_layers(model) -> list:
    """The ``RNN`` layers with a cell that is not SimpleRNN/LSTM/GRU (Bidirectional: halves)."""
    return [inner for layer in _recurrent(model) for inner in inner_layers(layer)
            if cell_kind(inner) is None]


def describe(layer) -> str:
    """``"name (GRU)"``; ``"name (RNN with cell MyCell)"`` for a custom cell."""
    inner = inner_layers(layer)[0]
    if cell_kind(inner) is None and isinstance(inner, keras.layers.RNN):
        return f"{layer.name} (RNN with cell {type(inner.cell).__name__})"
    return f"{layer.name} ({type(inner).__name__})"


def _filled(source: list[np.ndarray], target_weights: list) -> list[np.ndarray]:
    """``source`` in the order of ``target_weights``; a bias the source lacks is zero."""
    values, position = [], 0
    for weight in target_weights:
        shape = tuple(weight.shape)
        if position < len(source) and tuple(source[position].shape) == shape:
            values.append(source[position])
            position += 1
        elif len(shape) == 1:
            values.append(np.zeros(shape, np.float32))
        else:
            raise ValueError(f"Cannot map the weights of {weight.name!r} {shape} onto the "
                             "export form of its layer.")
    if position != len(source):
        raise ValueError("The export form of a layer does not take all of its weights.")
    return values


def copy_weights(source, target) -> None:
    """Copy ``source``'s weights (float as float32) into ``target``, its export form, layer by
    layer by name; an LSTM given a bias gets zeros."""
    by_name = {layer.name: layer for layer in target.layers}
    for layer in source.layers:
        twin = by_name.get(layer.name)
        if twin is None or twin is layer or not layer.weights:
            continue
        values = [np.asarray(w, np.float32) if np.asarray(w).dtype.kind == "f" else np.asarray(w)
                  for w in layer.get_weights()]
        if len(values) != len(twin.weights):
            values = _filled(values, twin.weights)
        twin.set_weights(values)


@contextmanager
def unrolled(layers: list):
    """``unroll=True`` on ``layers`` (custom-cell RNNs) while the block traces them."""
    before = [layer.unroll for layer in layers]
    try:
        for layer in layers:
            layer.unroll = True
        yield
    finally:
        for layer, value in zip(layers, before, strict=True):
            layer.unroll = value
