"""A Keras model's recurrent weight matrices as named bipartite graphs.

Every recurrent cell has two weight graphs: ``W_xh`` (``kernel``, inputs -> hidden units) and
``W_hh`` (``recurrent_kernel``, hidden -> hidden).  LSTM and GRU concatenate their gates along
the output axis, so with ``per_gate=True`` each gate's column block is a graph of its own.

When a layer is wrapped by a pruning wrapper (TF-MOT's ``prune_low_magnitude`` or ours), the
mask is read from the wrapper's mask variable; otherwise the mask is ``weights != 0``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tf_expander_pruning.analysis.spectral import SpectralReport, analyze
from tf_expander_pruning.core.keras_compat import check_model, keras

__all__ = [
    "ROLES",
    "GATES",
    "WeightGraph",
    "weight_graphs",
    "summary",
    "summary_rows",
    "gate_names",
    "gate_columns",
]

#: Weight roles and the cell attribute that holds each.
ROLES = {"W_xh": "kernel", "W_hh": "recurrent_kernel"}

#: Gate order of the concatenated kernels, per cell type (Keras's layout).
GATES = {
    "SimpleRNNCell": (None,),
    "LSTMCell": ("i", "f", "c", "o"),
    "GRUCell": ("z", "r", "h"),
}

_ANALYSABLE_CELLS = (keras.layers.SimpleRNNCell, keras.layers.LSTMCell, keras.layers.GRUCell)


def _cell_kind(cell) -> str | None:
    for base in _ANALYSABLE_CELLS:
        if isinstance(cell, base):
            return base.__name__
    return None


def cell_kind_name(cell) -> str | None:
    """Keras cell class name (``"LSTMCell"``) of a SimpleRNN/LSTM/GRU cell, else ``None``."""
    return _cell_kind(cell)


def gate_names(cell) -> tuple[str | None, ...]:
    """Gate letters of a SimpleRNN/LSTM/GRU cell in Keras's column order (``(None,)`` for RNN)."""
    kind = _cell_kind(cell)
    if kind is None:
        raise TypeError(
            f"{type(cell).__name__} is not a SimpleRNNCell, LSTMCell or GRUCell; "
            "its weights cannot be split into gates."
        )
    return GATES[kind]


def gate_columns(cell, gate: str | None) -> slice:
    """Column slice of ``gate`` inside the cell's concatenated kernel/recurrent_kernel."""
    names = gate_names(cell)
    if gate not in names:
        raise ValueError(f"Unknown gate {gate!r} for {type(cell).__name__}; expected {names}.")
    index = names.index(gate)
    return slice(index * cell.units, (index + 1) * cell.units)


def _sparsity(mask) -> float:
    """Fraction of the entries of ``mask`` (an array) that are zero: the pruned connections."""
    return 1.0 - float(np.count_nonzero(mask)) / np.size(mask)


@dataclass
class WeightGraph:
    """One recurrent weight matrix (or one gate of it) as a bipartite graph.

    Attributes:
        layer: layer path, e.g. ``"lstm"``, ``"bidirectional/backward"`` or ``"encoder/gru"``.
        role: ``"W_xh"`` (kernel) or ``"W_hh"`` (recurrent_kernel).
        gate: ``None`` for the whole matrix, else ``i/f/c/o`` (LSTM) or ``z/r/h`` (GRU).
        mask: boolean array ``(inputs, outputs)``; True where a connection exists.
        weights: float array of the same shape (the current values, pruned entries included).
        cell_type: ``"SimpleRNNCell"``, ``"LSTMCell"`` or ``"GRUCell"``.
        columns: the gate's column slice within the full matrix (``slice(None)`` for the whole).
        weight_variable, mask_variable: the underlying variables (``mask_variable`` is ``None``
            for an unwrapped layer).
        wrapper: the pruning wrapper holding the mask, or ``None``.
        cell: the Keras cell the weight belongs to.
    """

    layer: str
    role: str
    gate: str | None
    mask: np.ndarray
    weights: np.ndarray
    cell_type: str
    columns: slice = field(default_factory=lambda: slice(None))
    weight_variable: Any = field(default=None, repr=False)
    mask_variable: Any = field(default=None, repr=False)
    wrapper: Any = field(default=None, repr=False)
    cell: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """``layer/role`` or ``layer/role/gate``."""
        parts = [self.layer, self.role] + ([self.gate] if self.gate else [])
        return "/".join(parts)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.mask.shape)

    @property
    def sparsity(self) -> float:
        """Fraction of pruned (absent) connections."""
        return _sparsity(self.mask)

    @property
    def is_pruned(self) -> bool:
        """True when the mask comes from a pruning wrapper."""
        return self.mask_variable is not None

    def report(self, *, weighted: bool = False) -> SpectralReport:
        """Spectral report of this graph (``weighted`` uses ``|w|`` on the kept edges)."""
        if weighted:
            return analyze(np.abs(self.weights) * self.mask, weighted=True)
        return analyze(self.mask)


@dataclass
class _Entry:
    """A layer met while walking the model: analysable cells or a reason it is not."""

    path: str
    layer: Any
    cells: list  # [(path, cell)]
    reason: str | None = None


def _mask_lookup(model) -> dict:
    """Weight variable reference -> (mask variable, wrapper), from every pruning wrapper."""
    lookup = {}
    for layer in _all_layers(model):
        for entry in getattr(layer, "pruning_vars", None) or ():
            weight, mask = entry[0], entry[1]
            lookup[weight.ref()] = (mask, layer)
    return lookup


def _all_layers(model) -> Iterator:
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _unwrap_pruning(layer):
    # PruneLowMagnitude (TF-MOT's and ours) keeps the wrapped layer in `.layer`.
    while hasattr(layer, "pruning_vars") and hasattr(layer, "layer"):
        layer = layer.layer
    return layer


def _cells_of(path: str, layer) -> tuple[list, str | None]:
    """[(path, cell)] of analysable cells in an RNN/Bidirectional layer, or a reason."""
    if isinstance(layer, keras.layers.Bidirectional):
        cells = []
        directions = (("forward", layer.forward_layer), ("backward", layer.backward_layer))
        for direction, sub in directions:
            sub_cells, reason = _cells_of(f"{path}/{direction}", sub)
            if reason:
                return [], reason
            cells.extend(sub_cells)
        return cells, None
    if isinstance(layer, keras.layers.RNN):
        cell = layer.cell
        if isinstance(cell, keras.layers.StackedRNNCells):
            cells = []
            for index, sub in enumerate(cell.cells):
                if _cell_kind(sub) is None:
                    return [], f"custom cell {type(sub).__name__} in StackedRNNCells"
                cells.append((f"{path}/cell_{index}", sub))
            return cells, None
        if _cell_kind(cell) is None:
            layer_type, cell_type = type(layer).__name__, type(cell).__name__
            return [], f"{layer_type} with cell {cell_type} (not SimpleRNN/LSTM/GRU)"
        return [(path, cell)], None
    return [], None


def _walk(model, prefix: str = "") -> Iterator[_Entry]:
    for raw in model.layers:
        layer = _unwrap_pruning(raw)
        path = prefix + layer.name
        if isinstance(layer, keras.Model):
            yield from _walk(layer, prefix=path + "/")
            continue
        if isinstance(layer, keras.layers.InputLayer):
            continue
        cells, reason = _cells_of(path, layer)
        if not cells and reason is None:
            reason = "not a recurrent layer"
        yield _Entry(path=path, layer=raw, cells=cells, reason=reason)


def _cell_graphs(path, cell, lookup, per_gate) -> list[WeightGraph]:
    graphs = []
    kind = _cell_kind(cell)
    for role, attribute in ROLES.items():
        variable = getattr(cell, attribute, None)
        if variable is None:  # a cell that has not been built
            raise ValueError(
                f"Layer {path!r} is not built, so it has no {attribute}. "
                "Call the model on data or build it with an input shape first."
            )
        weights = np.asarray(variable.numpy())
        bad = int(np.size(weights) - np.count_nonzero(np.isfinite(weights)))
        if bad:
            # A diverged run.  The 0/1 graph is still reported (an unwrapped layer's mask counts
            # NaN/inf as connections), but never silently: weighted analysis raises ValueError.
            warnings.warn(
                f"{path}/{role}: {bad} weight(s) are NaN or infinite (training diverged?); "
                "the unweighted graph counts them as connections and weighted=True will fail.",
                RuntimeWarning, stacklevel=3,
            )
        mask_variable, wrapper = lookup.get(variable.ref(), (None, None))
        mask = (
            np.asarray(mask_variable.numpy()) != 0 if mask_variable is not None else weights != 0
        )
        gates = GATES[kind] if per_gate else (None,)
        for gate in gates:
            columns = gate_columns(cell, gate) if gate else slice(None)
            graphs.append(
                WeightGraph(
                    layer=path, role=role, gate=gate, mask=mask[:, columns],
                    weights=weights[:, columns], cell_type=kind, columns=columns,
                    weight_variable=variable, mask_variable=mask_variable, wrapper=wrapper,
                    cell=cell,
                )
            )
    return graphs


def _check_flags(**flags) -> None:
    # A string such as per_gate="no" is truthy: without this it silently meant True.
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"`{name}` must be True or False, got {value!r}.")


def weight_graphs(model, *, per_gate: bool = False) -> list[WeightGraph]:
    """Every recurrent weight graph of a tf_keras model, in layer order (W_xh before W_hh).

    Covers SimpleRNN, LSTM, GRU, ``RNN`` over those cells or ``StackedRNNCells`` of them,
    ``Bidirectional`` (``layer/forward`` and ``layer/backward``), nested models and layers wrapped
    for pruning.  Other layers are skipped (see :func:`summary` for why each was skipped).

    Raises:
        TypeError: ``model`` is not a tf_keras model (e.g. a Keras 3 model).
        ValueError: a recurrent layer is not built yet.
    """
    check_model(model)
    _check_flags(per_gate=per_gate)
    lookup = _mask_lookup(model)
    graphs = []
    for entry in _walk(model):
        for path, cell in entry.cells:
            graphs.extend(_cell_graphs(path, cell, lookup, per_gate))
    return graphs


_COLUMNS = (
    ("Layer", "layer"), ("Role", "role"), ("Shape", "shape"), ("Sparsity", "sparsity"),
    ("d_left", "d_left"), ("d_right", "d_right"), ("mu_hat", "mu_hat"), ("Bound", "bound"),
    ("Delta_r", "delta_r"), ("Status", "status"),
)


def _status(report: SpectralReport) -> str:
    if report.is_ramanujan is None:
        return f"undefined: {report.undefined_reason}"
    return "Ramanujan" if report.is_ramanujan else "not Ramanujan"


#: Keys of every :func:`summary_rows` row, in order (a layer that is not analysed has None
#: for the graph fields).
_ROW_KEYS = (
    "layer", "role", "gate", "shape", "sparsity", "d_left", "d_right", "mu_hat", "bound",
    "delta_r", "analysed", "status", "pruned",
)


def summary_rows(model, *, per_gate: bool = False, weighted: bool = False) -> list[dict]:
    """The rows :func:`summary` prints, as dicts (numbers unformatted, None when undefined).

    Every row has the same keys; ``pruned`` is None for a layer that is not analysed.
    """
    check_model(model)
    _check_flags(per_gate=per_gate, weighted=weighted)
    lookup = _mask_lookup(model)
    rows = []
    for entry in _walk(model):
        if not entry.cells:
            rows.append({
                **dict.fromkeys(_ROW_KEYS),
                "layer": entry.path, "role": type(_unwrap_pruning(entry.layer)).__name__,
                "analysed": False, "status": f"not analysed ({entry.reason})",
            })
            continue
        for path, cell in entry.cells:
            for graph in _cell_graphs(path, cell, lookup, per_gate):
                report = graph.report(weighted=weighted)
                rows.append({
                    "layer": graph.layer, "role": graph.role, "gate": graph.gate,
                    "shape": graph.shape, "sparsity": graph.sparsity,
                    "d_left": report.d_left, "d_right": report.d_right,
                    "mu_hat": report.mu_hat, "bound": report.bound, "delta_r": report.delta_r,
                    "analysed": True, "status": _status(report), "pruned": graph.is_pruned,
                })
    return rows


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def summary(
    model,
    *,
    per_gate: bool = False,
    weighted: bool = False,
    print_fn: Callable[[str], Any] | None = print,
) -> str:
    """Print (and return) a table of every layer's weight graphs, like ``model.summary()``.

    Columns: layer, role (with gate), shape, sparsity, d_left, d_right, mu_hat, bound, Delta_r,
    status (Ramanujan / not Ramanujan / undefined and why).  Layers that are not recurrent are
    listed as not analysed.
    """
    if print_fn is not None and not callable(print_fn):
        raise TypeError(f"`print_fn` must be callable or None, got {print_fn!r}.")
    rows = summary_rows(model, per_gate=per_gate, weighted=weighted)
    table = [[title for title, _ in _COLUMNS]]
    for row in rows:
        cells = []
        for _, key in _COLUMNS:
            value = row[key]
            if key == "role" and row.get("gate"):
                value = f"{value}/{row['gate']}"
            cells.append(_format(value))
        table.append(cells)
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    rule = "=" * min(sum(widths) + 2 * (len(widths) - 1), 110)

    def render(line):
        padded = (text.ljust(width) for text, width in zip(line, widths, strict=True))
        return "  ".join(padded).rstrip()

    lines = [f'Model: "{model.name}" — recurrent weight graphs', rule, render(table[0]), rule]
    lines.extend(render(line) for line in table[1:])
    lines.append(rule)
    analysed = [row for row in rows if row["analysed"]]
    ramanujan = sum(1 for row in analysed if row["status"] == "Ramanujan")
    lines.append(f"Weight graphs analysed: {len(analysed)}; Ramanujan: {ramanujan}")
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text
