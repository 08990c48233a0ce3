"""Getting a Keras model ready to convert: strip wrappers, fix shapes, rebuild layers.

* Pruning wrappers are stripped (masks already applied to the weights).
* GRU/SimpleRNN (and LSTMs that cannot fuse, custom cells) convert to a ``WHILE`` loop whose
  full-int8 calibration segfaults inside the converter; rebuilt with ``unroll=True`` (same
  weights) they convert.
* Standard layer options the converter or TFLM cannot take (``LSTM(use_bias=False)``,
  ``GRU(reset_after=False)``, ``stateful=True``) are exported in an equivalent form
  (:mod:`.layer_forms`).
* A model built under ``mixed_float16`` keeps float16 compute in its layers even after the global
  policy is reset, and the converter then fails on mismatched result types: a float32 copy
  (same weights; mixed-precision variables are float32 already) converts in every quantisation.
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.core import keras_compat
from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.core.layers import all_layers
from tf_expander_pruning.deployment.export import layer_forms

__all__ = [
    "LOOP_LAYERS",
    "has_pruning_wrappers",
    "strip",
    "recurrent_layers",
    "loop_layer_names",
    "needs_rebuild",
    "reduced_precision_layers",
    "input_spec",
    "rebuilt",
    "linear_chain",
]

LOOP_LAYERS = ("GRU", "SimpleRNN")  # always a WHILE loop (see layer_forms.loop_layers for all)


def has_pruning_wrappers(model) -> bool:
    """True if any layer (nested models included) is a TF-MOT or package pruning wrapper."""
    return any(
        any(cls.__name__ == "PruneLowMagnitude" for cls in type(layer).__mro__)
        for layer in all_layers(model)
    )


def strip(model):
    """Return ``model`` without pruning wrappers (masks already applied to the weights).

    Uses :func:`tf_expander_pruning.pruning.strip_pruning`, which removes our wrappers and
    TF-MOT's, nested models included.  A model without wrappers is returned unchanged.
    """
    keras_compat.check_model(model)
    if not has_pruning_wrappers(model):
        return model
    from tf_expander_pruning.pruning import strip_pruning

    return strip_pruning(model)


def recurrent_layers(model) -> list:
    """All recurrent layers (Bidirectional as one), looking inside nested models."""
    return [
        layer
        for layer in all_layers(model)
        if isinstance(layer, (keras.layers.Bidirectional, keras.layers.RNN))
    ]


def loop_layer_names(model) -> list[str]:
    """``"name (GRU)"`` for every recurrent layer that would convert to a WHILE loop: GRU,
    SimpleRNN, an LSTM that cannot fuse (e.g. ``activation="relu"``), an RNN with a custom
    cell (``"name (RNN with cell MyCell)"``)."""
    return [layer_forms.describe(layer) for layer in layer_forms.loop_layers(model)]


def needs_rebuild(model, *, unroll: bool, traced: bool = True) -> bool:
    """Does any top-level layer of ``model`` have an export form (:mod:`.layer_forms`)?"""
    return any(layer_forms.export_config(layer, unroll=unroll, traced=traced) is not None
               for layer in model.layers)


def reduced_precision_layers(model) -> list[str]:
    """Names of layers whose compute dtype is not float32 (e.g. under ``mixed_float16``)."""
    return [
        layer.name
        for layer in all_layers(model)
        if str(getattr(layer, "compute_dtype", "float32") or "float32") not in ("float32",)
        and not isinstance(layer, keras.layers.InputLayer)
    ]


def input_spec(model, representative_data, batch_size: int) -> list[int]:
    """The fixed ``[batch_size, T, F]`` (or ``[batch_size, T]`` for token ids) to trace with."""
    if len(model.inputs) != 1:
        raise ValueError(
            f"`model` has {len(model.inputs)} inputs; export supports one (batch, time, "
            "features) input. Wrap the model so it takes one tensor."
        )
    shape = list(model.inputs[0].shape)[1:]
    if any(dim is None for dim in shape):
        if representative_data is None:
            raise ValueError(
                f"`model` input shape {tuple(model.inputs[0].shape)} has unknown dimensions; "
                "TFLite needs fixed shapes. Build the model with keras.Input(shape=(T, F)) or "
                "pass `representative_data` (its shape fixes T and F)."
            )
        if isinstance(representative_data, tuple) and len(representative_data) == 2:
            representative_data = representative_data[0]
        shape = list(np.asarray(representative_data).shape[1:])
    return [batch_size, *[int(dim) for dim in shape]]


def _float32_config(config: dict) -> dict:
    if "dtype" in config:
        config["dtype"] = "float32"
    for key in ("layer", "backward_layer", "cell"):
        sub = config.get(key)
        if isinstance(sub, dict) and isinstance(sub.get("config"), dict):
            _float32_config(sub["config"])
    return config


def rebuilt(model, input_shape: list[int], *, unroll: bool, float32: bool,
            traced: bool = True):
    """Same model and weights, each layer in its export form (:mod:`.layer_forms`: a bias-free
    LSTM with a zero bias, a ``reset_after=False`` GRU with ``implementation=1``, stateless;
    ``traced=False``: stateless only), loops unrolled (``unroll``) and/or every layer float32;
    other layers are reused."""

    def clone(layer):
        config = layer_forms.export_config(layer, unroll=unroll, traced=traced)
        if config is None and not float32:
            return layer
        config = config if config is not None else layer.get_config()
        if float32:
            _float32_config(config)
        return layer.__class__.from_config(config)

    dtype = model.inputs[0].dtype
    dtype = "float32" if dtype.is_floating else dtype.name
    new_input = keras.Input(shape=tuple(input_shape[1:]), dtype=dtype)
    copy = keras.models.clone_model(model, input_tensors=new_input, clone_function=clone)
    layer_forms.copy_weights(model, copy)
    return copy


def _nodes_in(model, layer) -> list:
    """The calls of ``layer`` that belong to ``model``: a layer reused in another model (a
    sub-model, a copy without the mask) has more calls, and those say nothing about this one.
    Keras keys a model's calls as ``"<layer>_ib-<index>"``; a Sequential has no such set."""
    keys = getattr(model, "_network_nodes", None)
    nodes = layer._inbound_nodes
    if not keys:
        return nodes
    return [node for index, node in enumerate(nodes) if f"{layer.name}_ib-{index}" in keys]


def linear_chain(model, what: str) -> list:
    """The model's layers in order if it is a plain stack (each layer feeds only the next)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for previous, layer in zip(layers, layers[1:], strict=False):
        inbound = [node.inbound_layers for node in _nodes_in(model, layer)]
        flat = [i for group in inbound for i in (group if isinstance(group, list) else [group])]
        if flat and flat[-1] is not previous:
            raise ValueError(
                "`model` must be a plain stack of layers (Sequential or a functional chain) for "
                f"{what}; layer {layer.name!r} does not take {previous.name!r} as its input."
            )
    return layers
