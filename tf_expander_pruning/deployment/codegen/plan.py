"""The one buffer plan of a generated model: every static buffer, its size, and the stages.

Decided once, before any C is written: the gate scratch shared by all cells, the quantised-vector
scratch, each cell's state, the ping-pong sequence buffers between stages, and the Dense
ping-pong buffers.  A *stage* is either a chain of unidirectional layers, run frame by frame
(no sequence buffer inside), or one Bidirectional layer, which needs its whole input sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tf_expander_pruning.deployment.codegen.emitter import Emitter
from tf_expander_pruning.deployment.codegen.spec import CellSpec, ModelSpec, RecurrentSpec

__all__ = ["Stage", "BufferPlan", "plan_buffers"]


@dataclass
class Stage:
    """Layers run together over the sequence; ``src``/``dst`` are sequence buffers (or input).

    ``dst`` is ``None`` for the last stage (its final state feeds the Dense head).
    """

    layers: list[RecurrentSpec]
    src: str
    src_width: int
    dst: str | None = None
    dst_width: int = 0

    @property
    def bidirectional(self) -> bool:
        return self.layers[0].merge_mode is not None


@dataclass
class BufferPlan:
    za: str
    zb: str | None
    rh: str | None
    stages: list[Stage]
    final: str  # the vector the Dense head reads
    dense_buffers: list[str] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)  # cell prefix -> h buffer
    cell_states: dict[str, str] = field(default_factory=dict)  # LSTM prefix -> c buffer
    max_steps: int = 0  # > 0 when sequence buffers bound the length

    def state(self, cell: CellSpec) -> str:
        return self.states[cell.prefix]

    def cell_state(self, cell: CellSpec) -> str:
        return self.cell_states[cell.prefix]

    @property
    def streamable(self) -> bool:
        """One chain of unidirectional layers: the model can be run one frame per call."""
        return len(self.stages) == 1 and not self.stages[0].bidirectional


def _stages(spec: ModelSpec, name: str) -> list[Stage]:
    stages: list[Stage] = []
    for rec in spec.recurrent:
        if rec.merge_mode is None and stages and not stages[-1].bidirectional:
            stages[-1].layers.append(rec)
        else:
            stages.append(Stage([rec], "", 0))
    src, width = "input", spec.n_features
    for k, stage in enumerate(stages):
        stage.src, stage.src_width = src, width
        if k < len(stages) - 1:
            stage.dst, stage.dst_width = f"{name}_seq{k % 2}", stage.layers[-1].width
            src, width = stage.dst, stage.dst_width
    return stages


def plan_buffers(e: Emitter, spec: ModelSpec, max_steps: int | None) -> BufferPlan:
    """Register every static buffer of the model on ``e`` and return the plan."""
    cells = spec.all_cells
    max_gate = max(c.units * c.n_gates for c in cells)
    max_vec = max([spec.n_features] + [c.units for c in cells]
                  + [r.width for r in spec.recurrent] + [d.units for d in spec.dense])
    za = e.buffer("za", e.vtype, max_gate)
    zb = e.buffer("zb", e.vtype, max_gate) if any(c.kind == "gru" for c in cells) else None
    rh = (e.buffer("rh", e.vtype, max_vec)
          if any(c.kind == "gru" and not c.reset_after for c in cells) else None)
    if e.qtype:
        e.buffer("q", e.qtype, max_vec)
    stages = _stages(spec, e.name)
    plan = BufferPlan(za=za, zb=zb, rh=rh, stages=stages, final="")
    for cell in cells:
        plan.states[cell.prefix] = e.buffer(f"{cell.prefix}_h", e.vtype, cell.units)
        if cell.kind == "lstm":
            plan.cell_states[cell.prefix] = e.buffer(f"{cell.prefix}_c", e.vtype, cell.units)
    seq_widths = [0, 0]
    for k, stage in enumerate(stages[:-1]):
        seq_widths[k % 2] = max(seq_widths[k % 2], stage.dst_width)
    last = stages[-1]
    if any(seq_widths) or (last.bidirectional and last.layers[0].return_sequences):
        if not max_steps:
            raise ValueError(
                "This model has a Bidirectional layer that needs whole-sequence buffers, but the "
                "number of time steps is unknown: pass max_steps= to to_c.")
        plan.max_steps = int(max_steps)
    for k, width in enumerate(seq_widths):
        if width:
            e.buffer(f"seq{k}", e.vtype, plan.max_steps * width)
    if last.bidirectional:
        plan.final = e.buffer("final", e.vtype, last.layers[0].width)
    else:
        plan.final = plan.states[last.layers[-1].cells[0].prefix]
    hidden = [d.units for d in spec.dense[:-1]]
    plan.dense_buffers = [e.buffer(f"d{k}", e.vtype, max(hidden))
                          for k in range(min(2, len(hidden)))]
    return plan
