"""``prune_rnn`` / ``strip_pruning`` / ``pruned_weights`` for Keras 3 models (any backend)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np

from tf_expander_pruning.core.cells import check_roles
from tf_expander_pruning.core.layers import all_layers
from tf_expander_pruning.pruning.keras3.wrapper import (
    PrunedMatrix3,
    PruneRecurrent,
    is_recurrent_layer,
)
from tf_expander_pruning.pruning.schedules import (
    PruningSchedule,
    deserialize_schedule,
    validate_schedule,
)

__all__ = ["prune_rnn", "strip_pruning", "pruned_weights", "model_sync"]


def model_sync(model):
    """What to call before reading or writing ``model``'s variables from a callback: on JAX,
    attach the running fit's state (a no-op when already attached); nothing elsewhere."""
    sync = getattr(model, "jax_state_sync", None)
    return sync if callable(sync) else (lambda: None)


def pruned_weights(model) -> list[PrunedMatrix3]:
    """Every matrix pruned by a Keras 3 :class:`PruneRecurrent` in ``model`` (nested included)."""
    sync = model_sync(model)
    found = []
    for layer in all_layers(model):
        if isinstance(layer, PruneRecurrent) and layer.built:
            found.extend(layer.matrices(sync))
    return found


def _copy_layer(layer):
    return layer.__class__.from_config(layer.get_config())


def _targets(model, layers) -> list:
    recurrent = [layer for layer in model.layers if is_recurrent_layer(layer)]
    if layers is None:
        targets = recurrent
    else:
        if isinstance(layers, (str, keras.layers.Layer)):
            layers = [layers]
        elif not isinstance(layers, Iterable):
            raise TypeError(
                f"`layers` must be a layer name, a layer, or a list of them; got {layers!r}.")
        by_name = {layer.name: layer for layer in model.layers}
        targets = []
        for item in layers:
            layer = by_name.get(item) if isinstance(item, str) else item
            if layer is None or not any(layer is other for other in model.layers):
                raise ValueError(
                    f"`layers` names {item!r}, which is not a layer of model {model.name!r}. "
                    f"Its recurrent layers are: {[layer.name for layer in recurrent]}.")
            if not is_recurrent_layer(layer):
                raise ValueError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) is not a SimpleRNN, LSTM, "
                    "GRU or Bidirectional around one; prune_rnn only prunes recurrent layers.")
            targets.append(layer)
    if not targets:
        raise ValueError(
            f"Model {model.name!r} has no recurrent layer to prune (SimpleRNN, LSTM, GRU, or "
            "Bidirectional around one, at the top level of the model).")
    return targets


def _check_prunable(model) -> None:
    functional = isinstance(model, keras.Sequential) or type(model).__name__ == "Functional"
    if not functional:
        raise ValueError(
            f"prune_rnn supports Sequential and functional models; {type(model).__name__} is a "
            "subclassed model. Wrap its recurrent layers yourself: "
            "tf_expander_pruning.pruning.keras3.wrapper.PruneRecurrent(layer, schedule).")
    already = [layer.name for layer in model.layers if isinstance(layer, PruneRecurrent)]
    if already:
        raise ValueError(
            f"Layers {already} are already wrapped for pruning; call prune_rnn on the dense "
            "model (strip_pruning(model) removes the wrappers).")


def prune_rnn(model, schedule: PruningSchedule, *, roles: Sequence[str] = ("W_xh", "W_hh"),
              layers: Iterable[str | Any] | str | None = None):
    """The Keras 3 ``prune_rnn`` (same arguments and semantics as the Keras 2 one)."""
    validate_schedule(schedule)
    roles = check_roles(roles)
    _check_prunable(model)
    target_ids = {id(layer) for layer in _targets(model, layers)}
    pairs = []

    def clone(layer):
        new = _copy_layer(layer)
        pairs.append((new, layer))
        if id(layer) in target_ids:
            return PruneRecurrent(new, pruning_schedule=deserialize_schedule(
                schedule.get_config()), roles=roles)
        return new

    pruned = keras.models.clone_model(model, clone_function=clone)
    for new, old in pairs:
        if old.built and new.built and old.weights:
            new.set_weights(old.get_weights())
    return pruned


def strip_pruning(model):
    """A plain Keras 3 model: every :class:`PruneRecurrent` replaced by a fresh copy of its layer
    holding the masked (sparse) weights; other layers are copied with their weights."""
    pairs = []

    def strip(layer):
        if isinstance(layer, PruneRecurrent):
            masked = layer.layer.get_weights()
            if layer.built:
                by_id = {id(w): i for i, w in enumerate(layer.layer.weights)}
                for record in layer.matrices():
                    at = by_id[id(record.weight)]
                    masked[at] = masked[at] * (np.asarray(record.mask.numpy()) != 0)
            new = _copy_layer(layer.layer)
            pairs.append((new, masked))
            return new
        new = _copy_layer(layer)
        pairs.append((new, layer.get_weights() if layer.built else []))
        return new

    model_sync(model)()
    stripped = keras.models.clone_model(model, clone_function=strip)
    for new, values in pairs:
        if new.built and values:
            new.set_weights(values)
    return stripped
