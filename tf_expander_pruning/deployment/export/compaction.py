"""``compact``: physically remove hidden units that pruning disconnected, exactly."""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.core import keras_compat
from tf_expander_pruning.core.cells import CELL_KINDS
from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.deployment.export.preparation import linear_chain, strip

__all__ = ["compact"]

_RNN_GATES = {name: kind.n_gates for name, kind in CELL_KINDS.items()}
_PASSTHROUGH = ("Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout")


def _gate_columns(units: int, gates: int, keep: np.ndarray) -> np.ndarray:
    return np.concatenate([gate * units + keep for gate in range(gates)])


def compact(model, *, return_report: bool = False):
    """Remove hidden units of SimpleRNN/LSTM/GRU layers that pruning disconnected, exactly.

    A unit ``j`` of a recurrent layer is removed when it cannot influence the output:

    * **no outgoing edges**: row ``j`` of ``recurrent_kernel`` (all gates) and row ``j`` of the
      next layer's kernel are zero.  Removing it is exact.
    * **no incoming edges** (column ``j`` of ``kernel`` and ``recurrent_kernel`` zero in every
      gate), no outgoing recurrent edges, and the layer returns only its last state into a
      ``Dense`` layer: its output is then an input-independent constant (it depends on the bias
      only), which is folded into the ``Dense`` bias.  Exact too.

    A unit with no incoming edges that still feeds other units (recurrently, or through a
    ``return_sequences`` output) is *kept*: its output varies with time, so no constant can
    replace it.  Magnitude pruning at ordinary sparsity rarely zeroes a whole row of an
    LSTM's 4*units-wide recurrent kernel, so expect few removals unless pruning was structured or
    extreme; the report says what happened.

    Supported: plain stacks (Sequential or functional chains) of SimpleRNN/LSTM/GRU, Dropout and
    Dense.  Bidirectional and other layers are copied unchanged (their units are not removed).
    Pruning wrappers are stripped first.

    Returns:
        A new model (same input shape and outputs within float rounding), or
        ``(model, report)`` with ``return_report=True``: per recurrent layer
        ``{"units_before", "units_after", "removed_dead", "removed_constant"}``.
    """
    keras_compat.check_model(model)
    model = strip(model)
    layers = linear_chain(model, "compact()")
    weights = [[np.array(w) for w in layer.get_weights()] for layer in layers]
    configs = [layer.get_config() for layer in layers]
    report: dict[str, dict[str, int]] = {}
    dropped_inputs: np.ndarray | None = None  # rows to drop from the next consumer's kernel
    for index, layer in enumerate(layers):
        kind = type(layer).__name__
        if dropped_inputs is not None and kind not in _PASSTHROUGH:
            weights[index][0] = np.delete(weights[index][0], dropped_inputs, axis=0)
            dropped_inputs = None
        if kind not in _RNN_GATES or getattr(layer, "stateful", False):
            continue
        consumer = next(
            (j for j in range(index + 1, len(layers))
             if type(layers[j]).__name__ not in _PASSTHROUGH),
            None,
        )
        consumer_kind = type(layers[consumer]).__name__ if consumer is not None else None
        if consumer_kind not in (*_RNN_GATES, "Dense"):
            continue  # removing units would change what an unknown consumer (or the output) sees
        remove, no_out, constant = _removable(layer, weights[index], weights[consumer][0],
                                              consumer_kind)
        if any(constant[j] for j in remove):
            _fold_constants(layer, remove, constant, weights[consumer])
        keep = _shrink(layer, weights[index], configs[index], remove)
        dropped_inputs = remove if len(remove) else None
        report[layer.name] = {
            "units_before": int(layer.units),
            "units_after": int(len(keep)),
            "removed_dead": int(sum(1 for j in remove if no_out[j])),
            "removed_constant": int(sum(1 for j in remove if constant[j] and not no_out[j])),
        }
    result = _rebuild(model, layers, configs, weights)
    return (result, report) if return_report else result


def _removable(layer, weights: list, next_kernel: np.ndarray, consumer_kind: str):
    """``(units to remove, no outgoing edges per unit, constant output per unit)``."""
    units, gates = layer.units, _RNN_GATES[type(layer).__name__]
    kernel, recurrent = weights[0], weights[1]
    no_out = [not recurrent[j].any() and not next_kernel[j].any() for j in range(units)]
    no_in = []
    for j in range(units):
        columns_j = [gate * units + j for gate in range(gates)]
        no_in.append(not kernel[:, columns_j].any() and not recurrent[:, columns_j].any())
    foldable = (
        consumer_kind == "Dense"
        and not layer.return_sequences
        and not getattr(layer, "return_state", False)
    )
    constant = [
        foldable and no_in[j] and not no_out[j] and not recurrent[j].any() for j in range(units)
    ]
    remove = np.array([j for j in range(units) if no_out[j] or constant[j]], dtype=int)
    if len(remove) == units:  # keep one unit so the layer still exists
        remove = remove[1:]
    return remove, no_out, constant


def _fold_constants(layer, remove, constant, consumer_weights: list) -> None:
    """Add the constant final output of the removed constant units into the Dense bias."""
    # These units' final state depends only on the bias: read it from the layer itself.
    shape = (1, *[int(d) for d in layer.input_shape[1:]])
    final = np.asarray(layer(np.zeros(shape, np.float32)))[0]
    next_kernel = consumer_weights[0]
    for j in remove:
        if constant[j]:
            consumer_weights[1] = consumer_weights[1] + final[j] * next_kernel[j]


def _shrink(layer, weights: list, config: dict, remove) -> np.ndarray:
    """Drop ``remove`` from the layer's weights (in place) and config; the kept units."""
    units, gates = layer.units, _RNN_GATES[type(layer).__name__]
    keep = np.setdiff1d(np.arange(units), remove)
    columns = _gate_columns(units, gates, keep)
    weights[0] = weights[0][:, columns]
    weights[1] = weights[1][keep][:, columns]
    if layer.use_bias:
        weights[2] = weights[2][..., columns]
    config["units"] = int(len(keep))
    return keep


def _rebuild(model, layers, configs, weights):
    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]))
    x = inputs
    rebuilt = []
    for layer, config in zip(layers, configs, strict=True):
        new_layer = layer.__class__.from_config(config)
        x = new_layer(x)
        rebuilt.append(new_layer)
    result = keras.Model(inputs, x, name=f"{model.name}_compact")
    for new_layer, layer_weights in zip(rebuilt, weights, strict=True):
        new_layer.set_weights(layer_weights)
    return result
