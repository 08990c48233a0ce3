"""A Keras 3 model's tf_keras (Keras 2) twin: the same architecture holding the same weights.

TFLite conversion and the C generator were built and tested on tf_keras models.  A Keras 3 model
(any backend: TensorFlow, JAX, torch) reaches them through its twin, so there is one export path
and one code generator for both Kerases:

* the graph is rebuilt from the model's own description (``Sequential`` layer list, or the
  functional ``get_config()`` nodes; nested models, shared layers and ``Bidirectional`` /
  ``TimeDistributed`` wrappers included), each built-in Keras 3 layer becoming the tf_keras
  layer of the same class from its translated config;
* the weights are read as arrays (``layer.get_weights()``), so nothing here depends on the Keras
  3 backend;
* the twin is checked against the Keras 3 model on a random batch (max error
  :data:`TWIN_TOLERANCE` for float32 models): a layer that computes differently is named.

A model that still has this package's Keras 3 pruning wrappers is stripped first
(:func:`tf_expander_pruning.pruning.strip_pruning`), like the Keras 2 path does.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from tf_expander_pruning.core import keras_compat
from tf_expander_pruning.core.keras_compat import keras as tf_keras
from tf_expander_pruning.core.layers import all_layers, class_names, keras_generation

__all__ = ["TWIN_TOLERANCE", "keras2_twin", "as_keras2", "strip_keras3", "is_keras3_model"]

#: Largest |twin - Keras 3| output difference accepted for a float32 model (reduced-precision
#: models, whose Keras 3 compute is float16, get ``1e-2`` relative to the output scale).
TWIN_TOLERANCE = 1e-5

_HOW = ("Export and code generation take Keras 3 models through a tf_keras twin built from "
        "built-in Keras layers; rebuild the model from built-in layers, or build it with "
        "`import tf_keras as keras` (Keras 2).")
_WRAPPERS = ("Bidirectional", "TimeDistributed")
_DROPPED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")  # weights are copied
_PRUNING_MODULES = ("tf_expander_pruning.pruning", "tf_expander_pruning.constraint")


def is_keras3_model(model: Any) -> bool:
    """True for a Keras 3 model (Sequential, functional or subclassed), on any backend."""
    return keras_generation(model) == 3 and "Model" in class_names(model)


def _is_pruning_layer(layer) -> bool:
    return any(base.__module__.startswith(_PRUNING_MODULES) or base.__name__ == "PruneLowMagnitude"
               for base in type(layer).__mro__)


def strip_keras3(model):
    """``model`` without this package's Keras 3 pruning wrappers (masks are in the weights)."""
    if not any(_is_pruning_layer(layer) for layer in all_layers(model)):
        return model
    from tf_expander_pruning.pruning import strip_pruning

    return strip_pruning(model)


def as_keras2(model: Any, argument: str = "model"):
    """``model`` if it is a tf_keras model, the :func:`keras2_twin` of a Keras 3 model, else the
    TypeError of :func:`~tf_expander_pruning.core.keras_compat.check_model`."""
    if is_keras3_model(model):
        return keras2_twin(model)
    return keras_compat.check_model(model, argument)


def _untranslatable(layer, why: str) -> ValueError:
    return ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) of the Keras 3 model has no "
                      f"tf_keras twin: {why}. {_HOW}")


def _accepted_keys(cls) -> set[str]:
    keys = {"name", "trainable", "dtype", "zero_output_for_mask"}
    for base in cls.__mro__:
        if "__init__" in vars(base):
            parameters = inspect.signature(base.__init__).parameters.values()
            keys |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                              p.KEYWORD_ONLY)}
    return keys


def _dtype_name(dtype) -> str:
    """A Keras 3 dtype or dtype-policy config as a tf_keras dtype (float compute as float32)."""
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name", "float32")
    name = str(dtype or "float32")
    return "float32" if "float" in name else name


def _translated_config(layer, cls, name: str | None = None) -> dict:
    """``layer``'s Keras 3 config in the form ``cls.from_config`` (tf_keras) takes."""
    accepted = _accepted_keys(cls)
    config = {}
    for key, value in layer.get_config().items():
        if key.endswith(_DROPPED_SUFFIXES) or key == "activity_regularizer":
            continue
        if key in accepted:
            config[key] = value
        elif value not in (None, False, 0):
            raise _untranslatable(layer, f"its option {key}={value!r} has no tf_keras equivalent")
    config["dtype"] = _dtype_name(config.get("dtype"))
    if name is not None:
        config["name"] = name
    return config


def _unprefixed(name: str, prefix: str) -> str:
    """Keras adds ``forward_``/``backward_`` to a Bidirectional's halves; so does tf_keras."""
    return name[len(prefix):] if name.startswith(prefix) else name


def _twin_layer(layer, pairs: list, name: str | None = None):
    """The tf_keras layer of one Keras 3 layer; ``(layer, twin)`` pairs get the weights later."""
    if is_keras3_model(layer):
        return _twin_model(layer, pairs)
    kind = type(layer).__name__
    if not type(layer).__module__.startswith("keras."):
        raise _untranslatable(layer, f"{type(layer).__module__}.{kind} is not a built-in layer")
    cls = getattr(tf_keras.layers, kind, None)
    if cls is None:
        raise _untranslatable(layer, f"tf_keras has no layer {kind}")
    if kind == "Bidirectional":
        forward = _twin_layer(layer.forward_layer, [], _unprefixed(layer.forward_layer.name,
                                                                   "forward_"))
        backward = _twin_layer(layer.backward_layer, [], _unprefixed(layer.backward_layer.name,
                                                                     "backward_"))
        twin = cls(forward, backward_layer=backward, merge_mode=layer.merge_mode, name=layer.name)
    elif kind in _WRAPPERS:
        twin = cls(_twin_layer(layer.layer, []), name=layer.name)
    else:
        config = _translated_config(layer, cls, name)
        try:
            twin = cls.from_config(config)
        except (TypeError, ValueError) as error:
            raise _untranslatable(layer, f"its config does not rebuild in tf_keras ({error})") \
                from error
    pairs.append((layer, twin))
    return twin


def _input(layer_config: dict):
    config = layer_config["config"]
    return tf_keras.Input(batch_shape=tuple(config["batch_shape"]), name=config.get("name"),
                          dtype=_dtype_name(config.get("dtype")))


def _resolved(value, tensors: dict):
    """A node argument with every serialised Keras tensor replaced by its twin tensor."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return tensors[tuple(value["config"]["keras_history"])]
    if isinstance(value, (list, tuple)):
        return type(value)(_resolved(item, tensors) for item in value)
    if isinstance(value, dict):
        return {key: _resolved(item, tensors) for key, item in value.items()}
    return value


def _ready(value, tensors: dict) -> bool:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return tuple(value["config"]["keras_history"]) in tensors
    if isinstance(value, (list, tuple)):
        return all(_ready(item, tensors) for item in value)
    if isinstance(value, dict):
        return all(_ready(item, tensors) for item in value.values())
    return True


def _call_node(twin, node: dict, key: str, index: int, tensors: dict) -> None:
    kwargs = {k: v for k, v in node.get("kwargs", {}).items()
              if k != "training" and not (k == "mask" and v is None)}
    outputs = twin(*_resolved(list(node.get("args", [])), tensors), **_resolved(kwargs, tensors))
    flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    for position, tensor in enumerate(flat):
        tensors[(key, index, position)] = tensor


def _endpoints(entries) -> list[tuple]:
    """``input_layers``/``output_layers`` of a functional config as ``(name, node, tensor)``."""
    if entries and isinstance(entries[0], str):
        entries = [entries]
    return [tuple(entry) for entry in entries]


def _functional_twin(model, pairs: list):
    """The twin of a functional model, rebuilt node by node from ``model.get_config()``."""
    config = model.get_config()
    tensors, pending = {}, []
    for layer_config in config["layers"]:
        key = layer_config["name"]
        if layer_config["class_name"] == "InputLayer":
            tensors[(key, 0, 0)] = _input(layer_config)
            continue
        twin = _twin_layer(model.get_layer(key), pairs)
        pending += [(twin, node, key, index)
                    for index, node in enumerate(layer_config.get("inbound_nodes", []))]
    while pending:  # shared layers: a later call may wait for a layer listed after it
        ready = [item for item in pending if _ready(item[1], tensors)]
        if not ready:
            raise ValueError(f"The graph of Keras 3 model {model.name!r} could not be rebuilt "
                             f"(layer {pending[0][2]!r} waits for an input never computed).")
        for item in ready:
            _call_node(*item, tensors)
            pending.remove(item)
    inputs = [tensors[key] for key in _endpoints(config["input_layers"])]
    outputs = [tensors[key] for key in _endpoints(config["output_layers"])]
    return tf_keras.Model(inputs if len(inputs) > 1 else inputs[0],
                          outputs if len(outputs) > 1 else outputs[0], name=model.name)


def _sequential_twin(model, pairs: list):
    try:
        spec = model.inputs[0]
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError(f"Keras 3 Sequential model {model.name!r} has no input yet: start it "
                         "with keras.Input(shape=(T, F)) (or call it once) before exporting.") \
            from None
    layers = [_twin_layer(layer, pairs) for layer in model.layers]
    start = tf_keras.Input(batch_shape=tuple(spec.shape), dtype=_dtype_name(spec.dtype))
    return tf_keras.Sequential([start, *layers], name=model.name)


def _twin_model(model, pairs: list):
    kinds = class_names(model)
    if "Sequential" in kinds:
        return _sequential_twin(model, pairs)
    if "Functional" in kinds:
        return _functional_twin(model, pairs)
    raise ValueError(f"Keras 3 model {model.name!r} is a subclassed model "
                     f"({type(model).__name__}): its graph cannot be read. {_HOW}")


def _copy_weights(pairs: list) -> None:
    for layer, twin in pairs:
        values = [np.asarray(v, np.float32) if np.asarray(v).dtype.kind == "f" else np.asarray(v)
                  for v in layer.get_weights()]
        if len(values) != len(twin.weights):
            raise _untranslatable(layer, f"it holds {len(values)} weight arrays, its tf_keras "
                                         f"twin {len(twin.weights)}")
        try:
            twin.set_weights(values)
        except ValueError as error:
            raise _untranslatable(layer, f"its weights do not fit the tf_keras layer ({error})") \
                from error


def _probe(twin) -> np.ndarray:
    """A small random batch for the twin's (single) input: unknown dimensions become 2 or 5."""
    shape = list(twin.inputs[0].shape)
    shape = [shape[0] or 2, *[dim or 5 for dim in shape[1:]]]
    rng = np.random.default_rng(0)
    if twin.inputs[0].dtype.is_floating:
        return rng.normal(size=shape).astype(np.float32)
    return rng.integers(0, 2, size=shape).astype(twin.inputs[0].dtype.as_numpy_dtype)


def _outputs(values) -> list[np.ndarray]:
    import keras

    values = values if isinstance(values, (list, tuple)) else [values]
    return [np.asarray(keras.ops.convert_to_numpy(value), np.float64) for value in values]


def _first_disagreeing(model, twin, x, tolerance: float) -> str | None:
    """The first layer (in order) whose output differs between ``model`` and ``twin``."""
    import keras

    for layer in model.layers:
        try:
            ours = keras.Model(model.inputs, layer.output)
            theirs = tf_keras.Model(twin.inputs, twin.get_layer(layer.name).output)
            got, want = _outputs(theirs(x, training=False)), _outputs(ours(x, training=False))
        except Exception:  # noqa: BLE001 - a layer without one output: keep looking
            continue
        if any(g.shape != w.shape or np.max(np.abs(g - w), initial=0.0) > tolerance
               for g, w in zip(got, want, strict=True)):
            return layer.name
    return None


def _check(model, twin) -> None:
    """ValueError unless ``twin`` computes what ``model`` computes (on a random batch)."""
    if len(twin.inputs) != 1:
        return  # export and codegen take one input; they refuse the twin with their own error
    x = _probe(twin)
    want = _outputs(model(x, training=False))
    got = _outputs(twin(x, training=False))
    scale = max([float(np.max(np.abs(w), initial=0.0)) for w in want] + [1.0])
    float32 = not any("16" in str(getattr(layer, "compute_dtype", "")) for layer in
                      all_layers(model))
    tolerance = TWIN_TOLERANCE if float32 else 1e-2 * scale
    error = max(float(np.max(np.abs(g - w), initial=0.0)) if g.shape == w.shape else np.inf
                for g, w in zip(got, want, strict=True))
    if error > tolerance:
        layer = _first_disagreeing(model, twin, x, tolerance)
        where = f" from layer {layer!r} on" if layer else ""
        raise ValueError(f"The tf_keras twin of Keras 3 model {model.name!r} computes different "
                         f"outputs{where} (max error {error:.3g} > {tolerance:.3g}). {_HOW}")


def keras2_twin(model, *, check: bool = True):
    """The tf_keras (Keras 2) model with ``model``'s architecture and the very same weights.

    Args:
        model: a Keras 3 model (``Sequential`` or functional, any backend) made of built-in
            layers; this package's Keras 3 pruning wrappers are stripped first.
        check: compare the twin with ``model`` on a random batch (skipped for a model with a
            ``stateful=True`` layer, whose state the check would change).

    Returns:
        A tf_keras model; layer names are kept, float layers compute in float32.

    Raises:
        TypeError: ``model`` is not a Keras 3 model.
        ValueError: a layer with no tf_keras equivalent (custom layer, unknown option), a
            subclassed model, or a twin that disagrees with ``model`` (the layer is named).
    """
    if not is_keras3_model(model):
        raise TypeError(f"`model` must be a Keras 3 model, got {type(model).__name__}.")
    model = strip_keras3(model)
    pairs: list = []
    twin = _twin_model(model, pairs)
    _copy_weights(pairs)
    # Imported here: the export package imports this module (as_keras2) at its own import.
    from tf_expander_pruning.deployment.export.layer_forms import stateful_layer_names

    if check and not stateful_layer_names(twin):
        _check(model, twin)
    return twin
