"""Which weight matrices of a recurrent cell are pruned, and their gate layout (from
:mod:`tf_expander_pruning.core.cells`, the one table of cells)."""

from __future__ import annotations

from tf_expander_pruning.core.cells import CELL_KINDS, ROLES, check_roles

__all__ = ["ROLES", "GATES", "check_roles"]

#: Gate letters in Keras's column order of the concatenated kernels, by cell class name
#: (none for SimpleRNN, whose kernel is one block).  A view of ``core.cells``.
GATES = {kind.cell: kind.gate_letters for kind in CELL_KINDS.values()}
