"""The one table of recurrent cell kinds: names, gate order and weight roles.

Every module that needs a cell's gate layout reads it here (analysis, pruning, the constraint,
deployment, research).  Pure Python: no TensorFlow import.

Keras concatenates the gate matrices of a cell along the output axis, so ``kernel`` is
``(n_in, gates * units)`` and ``recurrent_kernel`` ``(units, gates * units)``; gate ``g`` is the
column block ``[g * units, (g + 1) * units)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CellKind", "CELL_KINDS", "ROLES", "cell_kind", "kind_by_key", "gate_slice", "check_roles",
]

#: Weight roles and the cell attribute that holds each.
ROLES = {"W_xh": "kernel", "W_hh": "recurrent_kernel"}


@dataclass(frozen=True)
class CellKind:
    """One recurrent cell type.

    Attributes:
        key: lower-case short name used by the CLI and experiments (``"lstm"``).
        layer: Keras layer class name (``"LSTM"``).
        cell: Keras cell class name (``"LSTMCell"``).
        gates: gate letters in Keras's column order; ``(None,)`` for SimpleRNN (one block).
    """

    key: str
    layer: str
    cell: str
    gates: tuple[str | None, ...]

    @property
    def n_gates(self) -> int:
        return len(self.gates)

    @property
    def gate_letters(self) -> tuple[str, ...]:
        """The named gates only (empty for SimpleRNN)."""
        return tuple(gate for gate in self.gates if gate)


#: Keras layer class name -> its cell kind, in the order they are documented.
CELL_KINDS = {
    "SimpleRNN": CellKind("simplernn", "SimpleRNN", "SimpleRNNCell", (None,)),
    "LSTM": CellKind("lstm", "LSTM", "LSTMCell", ("i", "f", "c", "o")),
    "GRU": CellKind("gru", "GRU", "GRUCell", ("z", "r", "h")),
}


def kind_by_key(key: str) -> CellKind:
    """The cell kind for ``"simplernn"``, ``"lstm"`` or ``"gru"`` (case-insensitive)."""
    lowered = str(key).lower()
    for kind in CELL_KINDS.values():
        if kind.key == lowered:
            return kind
    names = ", ".join(repr(kind.key) for kind in CELL_KINDS.values())
    raise ValueError(f"Unknown cell {key!r}; expected one of {names}.")


def cell_kind(obj) -> CellKind | None:
    """The kind of a Keras SimpleRNN/LSTM/GRU layer or cell (Keras 2 or 3), else ``None``.

    Matched by class name along the MRO, so subclasses and both Keras versions are recognised
    without importing either.
    """
    for base in type(obj).__mro__:
        for kind in CELL_KINDS.values():
            if base.__name__ in (kind.layer, kind.cell):
                return kind
    return None


def gate_slice(kind: CellKind, gate: str | None, units: int) -> slice:
    """Column slice of ``gate`` inside a concatenated kernel of a cell with ``units`` units."""
    if gate not in kind.gates:
        raise ValueError(f"Unknown gate {gate!r} for {kind.layer}; expected {kind.gates}.")
    index = kind.gates.index(gate)
    return slice(index * units, (index + 1) * units)


def check_roles(roles: str | Iterable[str], argument: str = "roles") -> tuple[str, ...]:
    """``roles`` as a tuple in the cell's own order (kernel first), or a clear error.

    Raises:
        TypeError: not a role name or a sequence of them.
        ValueError: an unknown role, or none.
    """
    if isinstance(roles, str):
        roles = (roles,)
    try:
        roles = tuple(roles)
    except TypeError:
        raise TypeError(f"`{argument}` must be a sequence of role names, got {roles!r}.") from None
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(
            f"Unknown weight role(s) {unknown} in `{argument}`. Use 'W_xh' (the kernel, "
            "input -> hidden) and/or 'W_hh' (the recurrent_kernel, hidden -> hidden)."
        )
    if not roles:
        raise ValueError(f"`{argument}` is empty: name at least one of 'W_xh', 'W_hh'.")
    return tuple(role for role in ROLES if role in roles)
