"""Whole-model operations: wrap the recurrent layers for pruning, list them, strip the wrappers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tf_expander_pruning.core.cells import check_roles
from tf_expander_pruning.core.keras_compat import check_model, keras
from tf_expander_pruning.core.layers import all_layers, keras_generation
from tf_expander_pruning.pruning.recurrent import PrunedWeight, PruneRecurrent
from tf_expander_pruning.pruning.recurrent_layers import PrunableBidirectional, is_recurrent_layer
from tf_expander_pruning.pruning.schedules import (
    PruningSchedule,
    deserialize_schedule,
    validate_schedule,
)
from tf_expander_pruning.pruning.tfmot_adapter import PruneLowMagnitude

__all__ = ["prune_rnn", "strip_pruning", "pruned_weights"]


def pruned_weights(model: keras.Model) -> list[PrunedWeight]:
    """Every matrix pruned by a :class:`PruneRecurrent` wrapper in ``model`` (nested included);
    for a Keras 3 model its Keras 3 records (same fields and methods)."""
    if keras_generation(model) == 3:
        from tf_expander_pruning.pruning.keras3 import model_ops as keras3_ops

        return keras3_ops.pruned_weights(model)
    found = []
    for layer in all_layers(check_model(model)):
        if isinstance(layer, PruneRecurrent):
            found.extend(layer.pruned_weights)
    return found


def _copy_layer(layer):
    """A fresh layer with the same config (weights are copied after the clone is built)."""
    try:
        return layer.__class__.from_config(layer.get_config())
    except Exception:  # a custom layer without a usable config: share it, as TF-MOT does
        return layer


def _check_prunable_model(model: keras.Model) -> None:
    if not (isinstance(model, keras.Sequential) or getattr(model, "_is_graph_network", False)):
        raise ValueError(
            f"prune_rnn supports Sequential and functional models; {type(model).__name__} is a "
            "subclassed model. Wrap its recurrent layers yourself: PruneRecurrent(layer, schedule)."
        )
    already = [layer.name for layer in model.layers if isinstance(layer, PruneLowMagnitude)]
    if already:
        raise ValueError(
            f"Layers {already} are already wrapped for pruning; call prune_rnn on the dense "
            "model (strip_pruning(model) removes the wrappers)."
        )


def _targets(model: keras.Model, layers) -> list:
    """The recurrent layers of ``model`` that ``layers`` names (all of them for ``None``)."""
    recurrent = [layer for layer in model.layers if is_recurrent_layer(layer)]
    if layers is None:
        targets = recurrent
    else:
        if isinstance(layers, (str, keras.layers.Layer)):
            layers = [layers]
        elif not isinstance(layers, Iterable):  # else a bare "'int' object is not iterable"
            raise TypeError(
                f"`layers` must be a layer name, a layer, or a list of them; got {layers!r}."
            )
        by_name = {layer.name: layer for layer in model.layers}
        targets = []
        for item in layers:
            layer = by_name.get(item) if isinstance(item, str) else item
            if layer is None or not any(layer is other for other in model.layers):
                raise ValueError(
                    f"`layers` names {item!r}, which is not a layer of model {model.name!r}. "
                    f"Its recurrent layers are: {[layer.name for layer in recurrent]}."
                )
            if not is_recurrent_layer(layer):
                raise ValueError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) is not a SimpleRNN, LSTM, "
                    "GRU or Bidirectional around one; prune_rnn only prunes recurrent layers."
                )
            targets.append(layer)
    if not targets:
        raise ValueError(
            f"Model {model.name!r} has no recurrent layer to prune (SimpleRNN, LSTM, GRU, or "
            "Bidirectional around one, at the top level of the model). Add one, or use "
            "tfmot.sparsity.keras.prune_low_magnitude for other layer types."
        )
    return targets


def prune_rnn(
    model: keras.Model,
    schedule: PruningSchedule,
    *,
    roles: Sequence[str] = ("W_xh", "W_hh"),
    layers: Iterable[str | Any] | str | None = None,
) -> keras.Model:
    """Wrap the recurrent layers of ``model`` for magnitude pruning; leave all others dense.

    Every wrapped layer gets its own copy of ``schedule`` and every pruned matrix inside it its
    own :class:`Freezable`, so a :class:`~tf_expander_pruning.constraint.RamanujanConstraint` can
    freeze each ``W_xh``/``W_hh`` on its own.  The result is a new model (same structure,
    Sequential stays Sequential); the input model is not modified and shares no weights with it.
    A layer used more than once (shared weights) stays shared and its schedule advances once
    per optimizer step, whatever the number of calls.

    Args:
        model: a built or unbuilt tf_keras Sequential or functional model.
        schedule: a TF-MOT ``PruningSchedule`` (e.g. ``GeometricSchedule(rate=0.2,
            frequency=20)`` or ``tfmot.sparsity.keras.PolynomialDecay(...)``); mask updates happen
            every ``schedule.frequency`` optimizer steps.
        roles: prune ``"W_xh"`` (kernel), ``"W_hh"`` (recurrent_kernel) or both.
        layers: names (or layer objects of ``model``) of the recurrent layers to prune; default
            every SimpleRNN/LSTM/GRU/Bidirectional layer.

    Returns:
        The pruned model; train it with ``tf_expander_pruning.UpdatePruningStep()`` (for Keras 2
        ``tfmot.sparsity.keras.UpdatePruningStep()`` is the same).

    A Keras 3 model (``keras.Sequential`` or functional; TensorFlow, JAX or PyTorch backend) is
    pruned by the Keras 3 adapter (:mod:`tf_expander_pruning.pruning.keras3`) with the same
    arguments and semantics.

    Raises:
        TypeError: ``model`` is not a Keras model, or ``schedule`` is not a PruningSchedule.
        ValueError: no recurrent layer to prune, an unknown or non-recurrent entry in
            ``layers``, an unknown role, a schedule whose end is before its begin, a layer that
            is already wrapped for pruning.
    """
    if keras_generation(model) == 3:
        from tf_expander_pruning.pruning.keras3 import model_ops as keras3_ops

        return keras3_ops.prune_rnn(model, schedule, roles=roles, layers=layers)
    check_model(model)
    validate_schedule(schedule)
    roles = check_roles(roles)
    _check_prunable_model(model)
    target_ids = {id(layer) for layer in _targets(model, layers)}
    pairs = []  # (new layer, old layer): weights are copied once the clone is built

    def clone(layer):
        if id(layer) in target_ids:
            if isinstance(layer, keras.layers.Bidirectional):
                inner = PrunableBidirectional.from_config(layer.get_config())
            else:
                inner = _copy_layer(layer)
            wrapper = PruneRecurrent(
                inner, pruning_schedule=deserialize_schedule(schedule.get_config()), roles=roles
            )
            pairs.append((wrapper.layer, layer))
            return wrapper
        new = _copy_layer(layer)
        if new is not layer:
            pairs.append((new, layer))
        return new

    pruned = keras.models.clone_model(model, input_tensors=None, clone_function=clone)
    for new, old in pairs:
        if old.built and new.built and old.weights:
            new.set_weights(old.get_weights())
    return pruned


def strip_pruning(model: keras.Model) -> keras.Model:
    """Remove every pruning wrapper (ours and TF-MOT's), keeping the sparse weights.

    Masks are applied to the weights first; a :class:`PrunableBidirectional` becomes a plain
    ``Bidirectional`` so the exported model needs nothing from this package.
    ``tfmot.sparsity.keras.strip_pruning`` also works on our wrappers (it leaves the
    ``PrunableBidirectional`` class in place).

    A Keras 3 model comes back as a plain Keras 3 model (fresh layers, masked weights).

    Raises:
        TypeError: not a Keras model.
    """
    if keras_generation(model) == 3:
        from tf_expander_pruning.pruning.keras3 import model_ops as keras3_ops

        return keras3_ops.strip_pruning(model)
    check_model(model)
    pairs = []

    def strip(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, input_tensors=None, clone_function=strip)
        if not isinstance(layer, PruneLowMagnitude):
            return layer
        if layer.built:
            layer.pruning_obj.weight_mask_op()
        inner = layer.layer
        if isinstance(inner, PrunableBidirectional):
            plain = keras.layers.Bidirectional.from_config(inner.get_config())
            pairs.append((plain, inner))
            inner = plain
        # As TF-MOT: keep the Sequential input shape that lived on the wrapper.
        if not hasattr(inner, "_batch_input_shape") and hasattr(layer, "_batch_input_shape"):
            inner._batch_input_shape = layer._batch_input_shape
        return inner

    stripped = keras.models.clone_model(model, input_tensors=None, clone_function=strip)
    for new, old in pairs:
        if old.built and new.built:
            new.set_weights(old.get_weights())
    return stripped


# Bare-name registration so load_model/from_config find them without custom_objects.
keras.utils.get_custom_objects().update(
    {"PruneRecurrent": PruneRecurrent, "PrunableBidirectional": PrunableBidirectional}
)
