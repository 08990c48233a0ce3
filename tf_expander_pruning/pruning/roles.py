"""Which weight matrices of a recurrent cell are pruned, and their gate layout (from
:mod:`tf_expander_pruning.core.cells`, the one table of cells)."""

from __future__ import annotations

from collections.abc import Iterable

from tf_expander_pruning.core.cells import CELL_KINDS, ROLES

__all__ = ["ROLES", "GATES", "check_roles"]

#: Gate letters in Keras's column order of the concatenated kernels, by cell class name
#: (none for SimpleRNN, whose kernel is one block).  A view of ``core.cells``.
GATES = {kind.cell: kind.gate_letters for kind in CELL_KINDS.values()}


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
