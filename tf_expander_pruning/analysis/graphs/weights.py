"""A recurrent cell's weight matrices (and gates) as :class:`WeightGraph` objects."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tf_expander_pruning.analysis.graphs.walk import check_analysable_model, mask_lookup, walk
from tf_expander_pruning.analysis.spectral import SpectralReport, analyze
from tf_expander_pruning.core.cells import CELL_KINDS, ROLES, cell_kind, gate_slice
from tf_expander_pruning.core.layers import mask_sparsity
from tf_expander_pruning.core.validation import check_flag

__all__ = [
    "ROLES",
    "GATES",
    "WeightGraph",
    "weight_graphs",
    "cell_graphs",
    "gate_names",
    "gate_columns",
    "cell_kind_name",
]

#: Gate order of the concatenated kernels, per cell class name (a view of ``core.cells``).
GATES = {kind.cell: kind.gates for kind in CELL_KINDS.values()}


def cell_kind_name(cell) -> str | None:
    """Keras cell class name (``"LSTMCell"``) of a SimpleRNN/LSTM/GRU cell, else ``None``."""
    kind = cell_kind(cell)
    return kind.cell if kind is not None else None


def gate_names(cell) -> tuple[str | None, ...]:
    """Gate letters of a SimpleRNN/LSTM/GRU cell in Keras's column order (``(None,)`` for RNN)."""
    kind = cell_kind(cell)
    if kind is None:
        raise TypeError(
            f"{type(cell).__name__} is not a SimpleRNNCell, LSTMCell or GRUCell; "
            "its weights cannot be split into gates."
        )
    return kind.gates


def gate_columns(cell, gate: str | None) -> slice:
    """Column slice of ``gate`` inside the cell's concatenated kernel/recurrent_kernel."""
    gate_names(cell)  # the TypeError for a cell that is not SimpleRNN/LSTM/GRU
    return gate_slice(cell_kind(cell), gate, cell.units)


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
        return mask_sparsity(self.mask)

    @property
    def is_pruned(self) -> bool:
        """True when the mask comes from a pruning wrapper."""
        return self.mask_variable is not None

    def report(self, *, weighted: bool = False) -> SpectralReport:
        """Spectral report of this graph: of the 0/1 mask, or (``weighted``) of ``|w|`` on the
        kept edges, which gives the spectral gap and no Ramanujan verdict."""
        if check_flag(weighted, "weighted"):
            return analyze(np.abs(self.weights) * self.mask, weighted=True)
        return analyze(self.mask)


def _read_weights(path: str, role: str, variable) -> np.ndarray:
    weights = np.asarray(variable.numpy())
    bad = int(np.size(weights) - np.count_nonzero(np.isfinite(weights)))
    if bad:
        # A diverged run.  The 0/1 graph is still reported (an unwrapped layer's mask counts
        # NaN/inf as connections), but never silently: weighted analysis raises ValueError.
        warnings.warn(
            f"{path}/{role}: {bad} weight(s) are NaN or infinite (training diverged?); "
            "the unweighted graph counts them as connections and weighted=True will fail.",
            RuntimeWarning, stacklevel=4,
        )
    return weights


def cell_graphs(path: str, cell, lookup: dict, per_gate: bool) -> list[WeightGraph]:
    """The :class:`WeightGraph` objects of one cell (W_xh then W_hh; gates with ``per_gate``)."""
    graphs = []
    kind = cell_kind(cell)
    for role, attribute in ROLES.items():
        variable = getattr(cell, attribute, None)
        if variable is None:  # a cell that has not been built
            raise ValueError(
                f"Layer {path!r} is not built, so it has no {attribute}. "
                "Call the model on data or build it with an input shape first."
            )
        weights = _read_weights(path, role, variable)
        mask_variable, wrapper = lookup.get(id(variable), (None, None))
        mask = (
            np.asarray(mask_variable.numpy()) != 0 if mask_variable is not None else weights != 0
        )
        for gate in kind.gates if per_gate else (None,):
            columns = gate_slice(kind, gate, cell.units) if gate else slice(None)
            graphs.append(WeightGraph(
                layer=path, role=role, gate=gate, mask=mask[:, columns],
                weights=weights[:, columns], cell_type=kind.cell, columns=columns,
                weight_variable=variable, mask_variable=mask_variable, wrapper=wrapper,
                cell=cell,
            ))
    return graphs


def weight_graphs(model, *, per_gate: bool = False) -> list[WeightGraph]:
    """Every recurrent weight graph of a Keras model, in layer order (W_xh before W_hh).

    Covers SimpleRNN, LSTM, GRU, ``RNN`` over those cells or ``StackedRNNCells`` of them,
    ``Bidirectional`` (``layer/forward`` and ``layer/backward``), nested models and layers wrapped
    for pruning.  Other layers are skipped (see :func:`summary` for why each was skipped).
    Reads tf_keras (Keras 2) and Keras 3 models alike (analysis only: pruning needs tf_keras).

    Raises:
        TypeError: ``model`` is not a Keras model, or ``per_gate`` is not a bool.
        ValueError: a recurrent layer is not built yet.
    """
    check_analysable_model(model)
    check_flag(per_gate, "per_gate")
    lookup = mask_lookup(model)
    graphs = []
    for entry in walk(model):
        for path, cell in entry.cells:
            graphs.extend(cell_graphs(path, cell, lookup, per_gate))
    return graphs
