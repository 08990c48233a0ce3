"""From a Keras model to what the C generator needs: cells, Dense layers, the input mask.

The model must be a single-input linear chain (Sequential or equivalent functional model):
optional ``Masking``, recurrent layers (SimpleRNN, LSTM, GRU, Bidirectional), Dense layers.
Each weight matrix is packed here (:func:`~.packing.pack_matrix`); gate order and the number of
gates come from :mod:`tf_expander_pruning.core.cells`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tf_expander_pruning.core import cells as cell_table
from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.core.layers import all_layers
from tf_expander_pruning.deployment.codegen.packing import PackedMatrix, pack_matrix

__all__ = ["SUPPORTED_LAYERS", "CellSpec", "RecurrentSpec", "DenseSpec", "ModelSpec",
           "parse_model", "strip_wrappers"]

SUPPORTED_LAYERS = (
    "InputLayer, Masking (first, skips padded steps), SimpleRNN, LSTM, GRU (reset_after True or "
    "False), Bidirectional(SimpleRNN|LSTM|GRU, merge_mode concat|sum|ave|mul), "
    "Dense (linear|relu|tanh|sigmoid|softmax), Dropout"
)
RECURRENT_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid")
DENSE_ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softmax")


@dataclass
class CellSpec:
    """One direction of one recurrent layer.

    ``kind`` is the :data:`~tf_expander_pruning.core.cells.CELL_KINDS` key (``"simplernn"``,
    ``"lstm"``, ``"gru"``); ``mats`` maps a role (``W``, ``U``; ``Uzr`` and ``Uh`` for a GRU with
    ``reset_after=False``) to its packed matrix; ``bias`` is the input-side bias of all gates and
    ``bias_rec`` the recurrent bias of a GRU with ``reset_after=True``.
    """

    kind: str
    n_gates: int
    prefix: str
    layer: str
    units: int
    n_in: int
    activation: str
    recurrent_activation: str
    reset_after: bool
    mats: dict[str, PackedMatrix]
    bias: np.ndarray | None
    bias_rec: np.ndarray | None
    reads_input: bool = False  # fed by the model input (integer-only C: int8 input scale)


@dataclass
class RecurrentSpec:
    """A recurrent layer: one cell, or forward and backward cells of a Bidirectional."""

    name: str
    cells: list[CellSpec]
    return_sequences: bool
    merge_mode: str | None  # None for unidirectional

    @property
    def width(self) -> int:
        units = self.cells[0].units
        return 2 * units if self.merge_mode == "concat" else units


@dataclass
class DenseSpec:
    name: str
    prefix: str
    units: int
    activation: str
    mat: PackedMatrix
    bias: np.ndarray | None


@dataclass
class ModelSpec:
    timesteps: int | None
    n_features: int
    recurrent: list[RecurrentSpec]
    dense: list[DenseSpec] = field(default_factory=list)
    mask_value: float | None = None  # a Masking layer's value: steps equal to it are skipped

    @property
    def all_cells(self) -> list[CellSpec]:
        return [cell for rec in self.recurrent for cell in rec.cells]

    @property
    def matrices(self) -> list[PackedMatrix]:
        mats = [m for cell in self.all_cells for m in cell.mats.values()]
        return mats + [d.mat for d in self.dense]

    @property
    def n_outputs(self) -> int:
        return self.dense[-1].units if self.dense else self.recurrent[-1].width


def strip_wrappers(model):
    """Remove pruning wrappers (ours and TF-MOT's); a model without them is returned as is."""
    wrapped = any(
        any(cls.__name__ == "PruneLowMagnitude" for cls in type(layer).__mro__)
        for layer in all_layers(model)
    )
    if not wrapped:
        return model
    from tf_expander_pruning.pruning import strip_pruning

    return strip_pruning(model)


def _act_name(fn) -> str:
    name = getattr(fn, "__name__", None) or str(fn)
    return "linear" if name in ("linear", "identity") else name


def unsupported(layer, why: str = "") -> ValueError:
    """The error for a layer codegen cannot translate; names the layer and what is supported."""
    if "PruneLowMagnitude" in type(layer).__name__ and not why:
        why = ("a pruning wrapper that could not be stripped; if it was loaded from a SavedModel, "
               "load it inside `tfmot.sparsity.keras.prune_scope()` or strip before saving")
    if isinstance(layer, keras.layers.Embedding) and not why:
        why = ("token inputs; with mask_zero=True the padded steps would also need skipping. "
               "Feed embedded vectors and put a Masking layer first: codegen skips the steps it "
               "masks")
    extra = f" ({why})" if why else ""
    return ValueError(
        f"Layer {layer.name!r} of type {type(layer).__name__} is not supported by codegen{extra}. "
        f"Supported: {SUPPORTED_LAYERS}."
    )


def _chain(model) -> list:
    """The layers of a single-input linear chain, without InputLayer; ValueError otherwise."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(model, keras.Sequential):
        previous = model.inputs
        if len(previous) != 1 or len(model.outputs) != 1:
            raise ValueError("to_c supports single-input, single-output models only.")
        for layer in layers:
            inbound = layer.input
            if isinstance(inbound, list | tuple) or inbound is not previous[0]:
                raise ValueError(
                    f"Layer {layer.name!r} is not fed by the previous layer: to_c supports a "
                    "linear chain of layers (Sequential or an equivalent functional model)."
                )
            previous = [layer.output]
    return layers


def _cell(layer, prefix: str, n_in: int, quantization: str, sparse_format: str) -> CellSpec:
    kind = cell_table.cell_kind(layer)
    if kind is None or not isinstance(layer, keras.layers.RNN):
        raise unsupported(layer)
    if getattr(layer, "stateful", False):
        raise unsupported(layer, "stateful=True")
    act = _act_name(layer.activation)
    rec_act = _act_name(getattr(layer, "recurrent_activation", None) or layer.activation)
    for name in (act, rec_act):
        if name not in RECURRENT_ACTIVATIONS:
            raise unsupported(layer, f"activation {name!r}; supported {RECURRENT_ACTIVATIONS}")
    units = int(layer.units)
    weights = layer.get_weights()
    kernel, rec = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else None
    is_gru = kind.key == "gru"
    reset_after = bool(getattr(layer, "reset_after", False)) if is_gru else False

    def pack(matrix, role):
        return pack_matrix(matrix.T, quantization, sparse_format, name=f"{prefix}_{role}",
                           layer=layer.name, role=role)

    mats = {"W": pack(kernel, "W")}
    bias_in, bias_rec = bias, None
    if is_gru and not reset_after:
        # (r * h) U_h needs its own product once the reset gate is known.
        h_gate = cell_table.gate_slice(kind, "h", units)
        mats["Uzr"] = pack(rec[:, : h_gate.start], "Uzr")
        mats["Uh"] = pack(rec[:, h_gate], "Uh")
    else:
        mats["U"] = pack(rec, "U")
    if is_gru and reset_after and bias is not None:
        bias_in, bias_rec = bias[0], bias[1]

    def to32(b):
        return None if b is None else np.asarray(b, np.float32).reshape(-1)

    return CellSpec(kind=kind.key, n_gates=kind.n_gates, prefix=prefix, layer=layer.name,
                    units=units, n_in=n_in, activation=act, recurrent_activation=rec_act,
                    reset_after=reset_after, mats=mats, bias=to32(bias_in),
                    bias_rec=to32(bias_rec))


def _recurrent(layer, prefix: str, width: int, quantization: str,
               sparse_format: str) -> RecurrentSpec:
    if isinstance(layer, keras.layers.Bidirectional):
        if layer.merge_mode not in ("concat", "sum", "ave", "mul"):
            raise unsupported(layer, f"merge_mode={layer.merge_mode!r}")
        cells = [_cell(layer.forward_layer, prefix + "f", width, quantization, sparse_format),
                 _cell(layer.backward_layer, prefix + "b", width, quantization, sparse_format)]
        return RecurrentSpec(layer.name, cells, bool(layer.return_sequences), layer.merge_mode)
    if layer.go_backwards:
        raise unsupported(layer, "go_backwards=True outside Bidirectional")
    cell = _cell(layer, prefix, width, quantization, sparse_format)
    return RecurrentSpec(layer.name, [cell], bool(layer.return_sequences), None)


def _dense(layer, prefix: str, quantization: str, sparse_format: str) -> DenseSpec:
    act = _act_name(layer.activation)
    if act not in DENSE_ACTIVATIONS:
        raise unsupported(layer, f"activation {act!r}; supported {DENSE_ACTIVATIONS}")
    weights = layer.get_weights()
    mat = pack_matrix(weights[0].T, quantization, sparse_format, name=f"{prefix}_W",
                      layer=layer.name, role="W")
    bias = np.asarray(weights[1], np.float32) if len(weights) > 1 else None
    return DenseSpec(layer.name, prefix, int(layer.units), act, mat, bias)


def _check_order(spec: ModelSpec) -> None:
    if not spec.recurrent:
        raise ValueError(f"The model has no recurrent layer. Supported: {SUPPORTED_LAYERS}.")
    for rec in spec.recurrent[:-1]:
        if not rec.return_sequences:
            raise ValueError(f"Recurrent layer {rec.name!r} feeds another recurrent layer but has "
                             "return_sequences=False.")
    if spec.recurrent[-1].return_sequences:
        raise ValueError(
            f"The last recurrent layer {spec.recurrent[-1].name!r} has return_sequences=True; "
            "to_c generates models that output one vector per sequence (set "
            "return_sequences=False)."
        )


def parse_model(model, quantization: str, sparse_format: str) -> ModelSpec:
    """Walk a stripped model into a :class:`ModelSpec`; ValueError names what is unsupported."""
    layers = _chain(model)
    for layer in layers:  # token inputs fail the shape check below: name the real cause first
        if isinstance(layer, keras.layers.Embedding):
            raise unsupported(layer)
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 3 or shape[2] is None:
        raise ValueError("to_c needs a model input of shape (batch, time, features) with known "
                         f"features; got {shape}.")
    spec = ModelSpec(timesteps=shape[1], n_features=int(shape[2]), recurrent=[])
    width = spec.n_features
    for layer in layers:
        prefix = f"L{len(spec.recurrent) + len(spec.dense)}"
        if isinstance(layer, keras.layers.Dropout):
            continue  # identity at inference
        if isinstance(layer, keras.layers.Masking):
            if spec.recurrent or spec.mask_value is not None:
                raise unsupported(layer, "Masking must come first, before any recurrent layer")
            spec.mask_value = float(layer.mask_value)
        elif isinstance(layer, keras.layers.Bidirectional | keras.layers.RNN):
            if spec.dense:
                raise unsupported(layer, "recurrent layers after a Dense layer")
            rec = _recurrent(layer, prefix, width, quantization, sparse_format)
            spec.recurrent.append(rec)
            width = rec.width
        elif type(layer) is keras.layers.Dense:
            if not spec.recurrent:
                raise unsupported(layer, "a Dense layer before any recurrent layer")
            spec.dense.append(_dense(layer, prefix, quantization, sparse_format))
            width = spec.dense[-1].units
        else:
            raise unsupported(layer)
    _check_order(spec)
    for cell in spec.recurrent[0].cells:
        cell.reads_input = True
    return spec
