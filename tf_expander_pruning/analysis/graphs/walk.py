"""Walking a Keras 2 or Keras 3 model to its recurrent cells, without importing either Keras.

Layers are recognised by class name along their MRO (``RNN``, ``Bidirectional``,
``StackedRNNCells``, ``InputLayer``) and cells through :mod:`tf_expander_pruning.core.cells`,
so a model built with ``tf_keras`` and one built with Keras 3 (``import keras``) are read alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tf_expander_pruning.core.cells import cell_kind
from tf_expander_pruning.core.layers import all_layers, class_names, is_keras_model

__all__ = ["LayerEntry", "check_analysable_model", "walk", "unwrap_pruning", "mask_lookup"]


def check_analysable_model(model: Any, argument: str = "model") -> Any:
    """Return ``model`` if it is a Keras 2 (tf_keras) or Keras 3 model, else raise TypeError."""
    if not is_keras_model(model):
        raise TypeError(
            f"`{argument}` must be a tf_keras Model or a Keras 3 model, got "
            f"{type(model).__name__}. Load a saved file first (keras.models.load_model), or "
            "use `tf-expander inspect PATH`."
        )
    return model


@dataclass
class LayerEntry:
    """A layer met while walking the model: analysable cells or a reason it is not."""

    path: str
    layer: Any
    cells: list  # [(path, cell)]
    reason: str | None = None


def unwrap_pruning(layer):
    """The layer inside a pruning wrapper (TF-MOT's and ours keep it in ``.layer``)."""
    while hasattr(layer, "pruning_vars") and hasattr(layer, "layer"):
        layer = layer.layer
    return layer


def mask_lookup(model) -> dict:
    """``id(weight variable) -> (mask variable, wrapper)``, from every pruning wrapper."""
    lookup = {}
    for layer in all_layers(model):
        for entry in getattr(layer, "pruning_vars", None) or ():
            lookup[id(entry[0])] = (entry[1], layer)
    return lookup


def _stacked_cells(path: str, stacked) -> tuple[list, str | None]:
    cells = []
    for index, sub in enumerate(stacked.cells):
        if cell_kind(sub) is None:
            return [], f"custom cell {type(sub).__name__} in StackedRNNCells"
        cells.append((f"{path}/cell_{index}", sub))
    return cells, None


def cells_of(path: str, layer) -> tuple[list, str | None]:
    """``[(path, cell)]`` of the analysable cells of an RNN/Bidirectional layer, or a reason."""
    names = class_names(layer)
    if "Bidirectional" in names:
        cells = []
        directions = (("forward", layer.forward_layer), ("backward", layer.backward_layer))
        for direction, sub in directions:
            sub_cells, reason = cells_of(f"{path}/{direction}", sub)
            if reason:
                return [], reason
            cells.extend(sub_cells)
        return cells, None
    if "RNN" not in names:
        return [], None
    cell = layer.cell
    if "StackedRNNCells" in class_names(cell):
        return _stacked_cells(path, cell)
    if cell_kind(cell) is None:
        layer_type, cell_type = type(layer).__name__, type(cell).__name__
        return [], f"{layer_type} with cell {cell_type} (not SimpleRNN/LSTM/GRU)"
    return [(path, cell)], None


def walk(model, prefix: str = "") -> Iterator[LayerEntry]:
    """Every layer of ``model`` (nested models descended into) with its analysable cells."""
    for raw in model.layers:
        layer = unwrap_pruning(raw)
        path = prefix + layer.name
        if is_keras_model(layer):
            yield from walk(layer, prefix=path + "/")
            continue
        if "InputLayer" in class_names(layer):
            continue
        cells, reason = cells_of(path, layer)
        if not cells and reason is None:
            reason = "not a recurrent layer"
        yield LayerEntry(path=path, layer=raw, cells=cells, reason=reason)
