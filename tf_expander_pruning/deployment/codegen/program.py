"""The program around the cells: reset, one frame, the stages of ``predict``, the Dense head.

Public C API (``NAME`` = model name; ``T`` = ``float``, or in integer-only C the int8 input and
Q16 ``int32_t`` output with the ``_q`` suffix on each function):

* ``int NAME_predict(const T *input, int n_steps, T *output)``: one whole sequence.
* ``void NAME_reset(void)``: zero every state (start of a stream).
* ``void NAME_step(const T *x_t, T *out)``: feed one frame, get the output after it
  (only for models without Bidirectional layers, which need the whole sequence).
"""

from __future__ import annotations

from tf_expander_pruning.deployment.codegen.emitter import Emitter
from tf_expander_pruning.deployment.codegen.plan import BufferPlan, Stage
from tf_expander_pruning.deployment.codegen.spec import DenseSpec, ModelSpec

__all__ = ["api_types", "reset_function", "frame_function", "head_function",
           "predict_function", "step_function", "mask_function"]

_MERGE = {"sum": "{o} += {b}", "ave": "{o} = ({o} + {b}) / 2", "mul": "{o} = {m}"}


def api_types(e: Emitter) -> tuple[str, str, str]:
    """(input C type, output C type, function suffix) of the public API."""
    return ("int8_t", "int32_t", "_q") if e.integer else ("float", "float", "")


def mask_function(e: Emitter, spec: ModelSpec) -> list[str]:
    """``NAME_masked(x)``: 1 when every feature of the frame equals the Masking value."""
    if spec.mask_value is None:
        return []
    xt = api_types(e)[0]
    if e.integer:
        value = str(int(round(spec.mask_value / e.input_scale)))
    else:
        value = e.lit(spec.mask_value)
    return [
        "/* Keras Masking: a frame whose features all equal mask_value is skipped (state kept). */",
        f"static int {e.name}_masked(const {xt} *x) {{",
        "    int j;",
        f"    for (j = 0; j < {spec.n_features}; ++j) if (x[j] != {value}) return 0;",
        "    return 1;",
        "}",
    ]


def reset_function(e: Emitter, plan: BufferPlan) -> list[str]:
    zero = e.lit(0.0)
    body = [f"    for (j = 0; j < {len_of(e, buf)}; ++j) {buf}[j] = {zero};"
            for buf in [*plan.states.values(), *plan.cell_states.values()]]
    return [f"void {e.name}_reset(void) {{", "    int j;", *body, "}"]


def len_of(e: Emitter, buffer: str) -> int:
    return e.ram[buffer][0]


def frame_function(e: Emitter, spec: ModelSpec, plan: BufferPlan) -> list[str]:
    """``NAME_frame(x)``: one frame through a unidirectional chain (a streamable model)."""
    xt = api_types(e)[0]
    lines = [f"static void {e.name}_frame(const {xt} *x) {{"]
    if spec.mask_value is not None:
        lines.append(f"    if ({e.name}_masked(x)) return;")
    source = "x"
    for rec in plan.stages[0].layers:
        cell = rec.cells[0]
        lines.append(f"    {e.name}_{cell.prefix}_step({source});")
        source = plan.state(cell)
    return lines + ["}"]


def _skip(e: Emitter, spec: ModelSpec, t: str) -> str:
    if spec.mask_value is None:
        return ""
    return f"if ({e.name}_masked(input + (long){t} * {spec.n_features})) continue; "


def _chain_stage(e: Emitter, spec: ModelSpec, plan: BufferPlan, stage: Stage) -> list[str]:
    lines = ["for (t = 0; t < n_steps; ++t) {"]
    if spec.mask_value is not None:
        lines.append("    " + _skip(e, spec, "t").strip())
    source = f"{stage.src} + (long)t * {stage.src_width}"
    for rec in stage.layers:
        cell = rec.cells[0]
        lines.append(f"    {e.name}_{cell.prefix}_step({source});")
        source = plan.state(cell)
    if stage.dst:
        w = stage.dst_width
        lines.append(f"    for (j = 0; j < {w}; ++j) {stage.dst}[(long)t * {w} + j] = {source}[j];")
    return lines + ["}"]


def _merge(e: Emitter, mode: str, out: str, other: str) -> str:
    return _MERGE[mode].format(o=out, b=other, m=e.mul(out, other))


def _bidirectional_stage(e: Emitter, spec: ModelSpec, plan: BufferPlan,
                         stage: Stage) -> list[str]:
    """Forward over the sequence, then backward; masked steps are skipped in both directions
    (the next layer skips them too, so their rows in a sequence buffer are never read)."""
    rec = stage.layers[0]
    fwd, bwd = rec.cells
    u = fwd.units
    hf, hb = plan.state(fwd), plan.state(bwd)
    src = f"{stage.src} + (long)t * {stage.src_width}"
    skip = _skip(e, spec, "t")
    forward = f"{skip}{e.name}_{fwd.prefix}_step({src});"
    backward = f"{skip}{e.name}_{bwd.prefix}_step({src});"
    if not stage.dst:
        out = plan.final
        lines = [f"for (t = 0; t < n_steps; ++t) {{ {forward} }}",
                 f"for (t = n_steps - 1; t >= 0; --t) {{ {backward} }}"]
        if rec.merge_mode == "concat":
            return lines + [f"for (j = 0; j < {u}; ++j) {{ {out}[j] = {hf}[j]; "
                            f"{out}[{u} + j] = {hb}[j]; }}"]
        return lines + [f"for (j = 0; j < {u}; ++j) {{ {out}[j] = {hf}[j]; "
                        f"{_merge(e, rec.merge_mode, f'{out}[j]', f'{hb}[j]')}; }}"]
    out, w = stage.dst, stage.dst_width
    row = f"{out}[(long)t * {w} + "
    lines = ["for (t = 0; t < n_steps; ++t) {", f"    {forward}",
             f"    for (j = 0; j < {u}; ++j) {row}j] = {hf}[j];", "}",
             "for (t = n_steps - 1; t >= 0; --t) {", f"    {backward}"]
    if rec.merge_mode == "concat":
        lines.append(f"    for (j = 0; j < {u}; ++j) {row}{u} + j] = {hb}[j];")
    else:
        lines.append(f"    for (j = 0; j < {u}; ++j) "
                     f"{_merge(e, rec.merge_mode, f'{row}j]', f'{hb}[j]')};")
    return lines + ["}"]


def _softmax(e: Emitter, out: str, n: int) -> list[str]:
    if e.integer:
        total = ["    int64_t sum = 0;", f"    int32_t mx = {out}[0];"]
        norm = (f"    for (j = 0; j < {n}; ++j) {out}[j] = "
                f"(int32_t)((((int64_t){out}[j] << 16) + sum / 2) / sum);")
    else:
        total = [f"    float mx = {out}[0], sum = 0.0f;"]
        norm = f"    for (j = 0; j < {n}; ++j) {out}[j] /= sum;"
    return ["{", *total,
            f"    for (j = 1; j < {n}; ++j) if ({out}[j] > mx) mx = {out}[j];",
            f"    for (j = 0; j < {n}; ++j) {{",
            f"        {out}[j] = {e.act('exp', f'{out}[j] - mx')};",
            f"        sum += {out}[j];",
            "    }", norm, "}"]


def _dense_layer(e: Emitter, d: DenseSpec, vec: str, width: int, out: str) -> list[str]:
    arrays = e.matrix(d.mat)
    lines = [f"/* Dense {d.name!r}: {width} -> {d.units}, {d.activation} */",
             *e.init(out, d.units, d.bias, f"{d.prefix}_b"),
             *e.product(arrays, vec, width, out)]
    if d.activation == "softmax":
        lines += _softmax(e, out, d.units)
    elif d.activation != "linear":
        lines.append(f"for (j = 0; j < {d.units}; ++j) {out}[j] = "
                     f"{e.act(d.activation, f'{out}[j]')};")
    return lines


def head_function(e: Emitter, spec: ModelSpec, plan: BufferPlan) -> list[str]:
    """``NAME_head(output)``: the Dense layers on the final state (or a copy of it)."""
    ot = api_types(e)[1]
    lines: list[str] = []
    vec, width = plan.final, spec.recurrent[-1].width
    for k, d in enumerate(spec.dense):
        out = "output" if k == len(spec.dense) - 1 else plan.dense_buffers[k % 2]
        lines += _dense_layer(e, d, vec, width, out)
        vec, width = out, d.units
    if not spec.dense:
        lines.append(f"for (j = 0; j < {width}; ++j) output[j] = {plan.final}[j];")
    return [f"static void {e.name}_head({ot} *output) {{", "    int j;",
            *("    " + s for s in e.scale_decl()), *("    " + s for s in lines), "}"]


def predict_function(e: Emitter, spec: ModelSpec, plan: BufferPlan) -> list[str]:
    xt, ot, sfx = api_types(e)
    limit = plan.max_steps
    check = f"n_steps < 1 || n_steps > {limit}" if limit else "n_steps < 1"
    lines = [f"int {e.name}_predict{sfx}(const {xt} *input, int n_steps, {ot} *output) {{",
             "    int t, j;", f"    if ({check}) return -1;", f"    {e.name}_reset();"]
    if plan.streamable:
        lines.append(f"    for (t = 0; t < n_steps; ++t) "
                     f"{e.name}_frame(input + (long)t * {spec.n_features});")
        lines.append("    (void)j;")
    for stage in plan.stages if not plan.streamable else []:
        make = _bidirectional_stage if stage.bidirectional else _chain_stage
        lines += ["    " + s for s in make(e, spec, plan, stage)]
    return lines + [f"    {e.name}_head(output);", "    return 0;", "}"]


def step_function(e: Emitter) -> list[str]:
    xt, ot, sfx = api_types(e)
    return [f"void {e.name}_step{sfx}(const {xt} *x_t, {ot} *out) {{",
            f"    {e.name}_frame(x_t);", f"    {e.name}_head(out);", "}"]
