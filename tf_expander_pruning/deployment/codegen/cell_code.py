"""One C step function per recurrent cell kind: ``static void NAME_<cell>_step(const T *x)``.

Each emitter follows the Keras cell equations (gate order from
:mod:`tf_expander_pruning.core.cells`: LSTM ``i f c o``, GRU ``z r h``) and writes only
expressions obtained from the :class:`~.emitter.Emitter`, so the same function serves float,
int8 and integer-only C.  The scratch buffers come from the :class:`~.plan.BufferPlan`.
"""

from __future__ import annotations

from tf_expander_pruning.core.cells import gate_slice, kind_by_key
from tf_expander_pruning.deployment.codegen.emitter import Emitter
from tf_expander_pruning.deployment.codegen.plan import BufferPlan
from tf_expander_pruning.deployment.codegen.spec import CellSpec

__all__ = ["cell_step_function", "input_ctype"]


def input_ctype(e: Emitter, cell: CellSpec) -> str:
    """C type of the vector a cell step reads: the caller's int8 input in integer mode."""
    return "int8_t" if (e.integer and cell.reads_input) else e.vtype


def _at(cell: CellSpec, gate: str, index: str = "j") -> str:
    """``offset + j`` of ``gate``'s block in the concatenated gate vector (Keras order)."""
    start = gate_slice(kind_by_key(cell.kind), gate, cell.units).start
    return f"{start} + {index}" if start else index


def _simple_rnn(e: Emitter, cell: CellSpec, plan: BufferPlan, arrays: dict) -> list[str]:
    u, za, h = cell.units, plan.za, plan.state(cell)
    return [*e.product(arrays["U"], h, u, za),
            f"for (j = 0; j < {u}; ++j) {h}[j] = {e.act(cell.activation, f'{za}[j]')};"]


def _lstm(e: Emitter, cell: CellSpec, plan: BufferPlan, arrays: dict) -> list[str]:
    u, za, h, c = cell.units, plan.za, plan.state(cell), plan.cell_state(cell)
    ra, act = cell.recurrent_activation, cell.activation
    gi, gf, gc, go = (_at(cell, gate) for gate in "ifco")
    return [
        *e.product(arrays["U"], h, u, za),
        f"for (j = 0; j < {u}; ++j) {{",
        f"    {e.vtype} i_g = {e.act(ra, f'{za}[{gi}]')};",
        f"    {e.vtype} f_g = {e.act(ra, f'{za}[{gf}]')};",
        f"    {e.vtype} c_g = {e.act(act, f'{za}[{gc}]')};",
        f"    {e.vtype} o_g = {e.act(ra, f'{za}[{go}]')};",
        f"    {c}[j] = {e.mul('f_g', f'{c}[j]')} + {e.mul('i_g', 'c_g')};",
        f"    {h}[j] = {e.mul('o_g', e.act(act, f'{c}[j]'))};",
        "}",
    ]


def _gru_reset_after(e: Emitter, cell: CellSpec, plan: BufferPlan, arrays: dict) -> list[str]:
    """Keras default: ``hh = act(x W_h + b_h + r * (h U_h + b_rh))``."""
    u, za, zb, h = cell.units, plan.za, plan.zb, plan.state(cell)
    z, r, hg = _at(cell, "z"), _at(cell, "r"), _at(cell, "h")
    ra, act = cell.recurrent_activation, cell.activation
    one = e.lit(1.0)
    return [
        *e.init(zb, cell.n_gates * u, cell.bias_rec, f"{cell.prefix}_br"),
        *e.product(arrays["U"], h, u, zb),
        f"for (j = 0; j < {u}; ++j) {{",
        f"    {e.vtype} z_g = {e.act(ra, f'{za}[{z}] + {zb}[{z}]')};",
        f"    {e.vtype} r_g = {e.act(ra, f'{za}[{r}] + {zb}[{r}]')};",
        f"    {e.vtype} hh = {e.act(act, f'{za}[{hg}] + ' + e.mul('r_g', f'{zb}[{hg}]'))};",
        f"    {h}[j] = {e.mul('z_g', f'{h}[j]')} + {e.mul(f'({one} - z_g)', 'hh')};",
        "}",
    ]


def _gru_reset_before(e: Emitter, cell: CellSpec, plan: BufferPlan, arrays: dict) -> list[str]:
    """``reset_after=False``: ``hh = act(x W_h + (r * h) U_h + b_h)``."""
    u, za, zb, rh, h = cell.units, plan.za, plan.zb, plan.rh, plan.state(cell)
    z, r, hg = _at(cell, "z"), _at(cell, "r"), _at(cell, "h")
    h_start = gate_slice(kind_by_key(cell.kind), "h", u).start
    ra, act = cell.recurrent_activation, cell.activation
    one = e.lit(1.0)
    return [
        *e.product(arrays["Uzr"], h, u, za),
        f"for (j = 0; j < {u}; ++j) {{",
        f"    {zb}[j] = {e.act(ra, f'{za}[{z}]')};",
        f"    {rh}[j] = {e.mul(e.act(ra, f'{za}[{r}]'), f'{h}[j]')};",
        "}",
        *e.product(arrays["Uh"], rh, u, f"{za} + {h_start}"),
        f"for (j = 0; j < {u}; ++j) {{",
        f"    {e.vtype} hh = {e.act(act, f'{za}[{hg}]')};",
        f"    {h}[j] = {e.mul(f'{zb}[j]', f'{h}[j]')} + {e.mul(f'({one} - {zb}[j])', 'hh')};",
        "}",
    ]


def _emitter_for(cell: CellSpec):
    if cell.kind == "lstm":
        return _lstm
    if cell.kind == "gru":
        return _gru_reset_after if cell.reset_after else _gru_reset_before
    return _simple_rnn


def cell_step_function(e: Emitter, cell: CellSpec, plan: BufferPlan) -> str:
    """The C step function of one cell: gates from ``x`` and the state, then the new state."""
    arrays = {role: e.matrix(m, cell.reads_input and role == "W")
              for role, m in cell.mats.items()}
    lines = [
        *e.init(plan.za, cell.n_gates * cell.units, cell.bias, f"{cell.prefix}_b"),
        *e.product(arrays["W"], "x", cell.n_in, plan.za, raw_input=e.integer and cell.reads_input),
        *_emitter_for(cell)(e, cell, plan, arrays),
    ]
    header = [
        f"/* {cell.kind} {cell.layer!r}: {cell.units} units, {cell.n_in} inputs */",
        f"static void {e.name}_{cell.prefix}_step(const {input_ctype(e, cell)} *x) {{",
        "    int j;",
        *("    " + s for s in e.scale_decl()),
    ]
    return "\n".join(header + ["    " + s for s in lines] + ["}"])
