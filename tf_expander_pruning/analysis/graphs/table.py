"""The per-graph table of a model: :func:`summary_rows` (dicts) and :func:`summary` (text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tf_expander_pruning.analysis.graphs.walk import (
    check_analysable_model,
    mask_lookup,
    unwrap_pruning,
    walk,
)
from tf_expander_pruning.analysis.graphs.weights import WeightGraph, cell_graphs
from tf_expander_pruning.analysis.spectral import SpectralReport
from tf_expander_pruning.core.formatting import format_value, text_table
from tf_expander_pruning.core.validation import check_flags

__all__ = ["summary", "summary_rows", "ROW_KEYS", "WEIGHTED_STATUS"]

#: Keys of every :func:`summary_rows` row, in order (a layer that is not analysed has None
#: for the graph fields).
ROW_KEYS = (
    "layer", "role", "gate", "shape", "sparsity", "d_left", "d_right", "mu_hat", "bound",
    "delta_r", "analysed", "status", "pruned", "components", "lambda1", "spectral_gap",
    "weighted",
)

#: Status of every weighted row: a ``|w|`` spectrum gets its gap, never a Ramanujan verdict.
WEIGHTED_STATUS = "weighted: spectral gap only (no Ramanujan verdict)"

# (title, row key) of the printed columns: the Ramanujan table, and the weighted one.
_COLUMNS = (
    ("Layer", "layer"), ("Role", "role"), ("Shape", "shape"), ("Sparsity", "sparsity"),
    ("Comp.", "components"), ("d_left", "d_left"), ("d_right", "d_right"),
    ("mu_hat", "mu_hat"), ("Bound", "bound"), ("Delta_r", "delta_r"), ("Status", "status"),
)
_WEIGHTED_COLUMNS = (
    ("Layer", "layer"), ("Role", "role"), ("Shape", "shape"), ("Sparsity", "sparsity"),
    ("Comp.", "components"), ("d_left", "d_left"), ("d_right", "d_right"),
    ("sigma_1", "lambda1"), ("sigma_2", "mu_hat"), ("Gap", "spectral_gap"),
    ("Status", "status"),
)


def _status(report: SpectralReport) -> str:
    if report.weighted:
        return WEIGHTED_STATUS
    if report.is_ramanujan is None:
        return f"undefined: {report.undefined_reason}"
    if report.components is not None and report.components > 1:
        return f"not Ramanujan ({report.components} components)"
    return "Ramanujan" if report.is_ramanujan else "not Ramanujan"


def _graph_row(graph: WeightGraph, weighted: bool) -> dict[str, Any]:
    report = graph.report(weighted=weighted)
    return {
        "layer": graph.layer, "role": graph.role, "gate": graph.gate, "shape": graph.shape,
        "sparsity": graph.sparsity, "d_left": report.d_left, "d_right": report.d_right,
        "mu_hat": report.mu_hat, "bound": report.bound, "delta_r": report.delta_r,
        "analysed": True, "status": _status(report), "pruned": graph.is_pruned,
        "components": report.components, "lambda1": report.lambda1,
        "spectral_gap": report.spectral_gap, "weighted": weighted,
    }


def summary_rows(model, *, per_gate: bool = False, weighted: bool = False) -> list[dict]:
    """The rows :func:`summary` prints, as dicts (numbers unformatted, None when undefined).

    Every row has the keys :data:`ROW_KEYS`; ``pruned`` is None for a layer that is not
    analysed.  ``components`` counts connected components (isolated nodes dropped).  With
    ``weighted`` the spectrum is of ``|w|`` on the kept edges: ``lambda1``, ``mu_hat`` and
    ``spectral_gap`` are filled, ``bound`` and ``delta_r`` are None and the status says there is
    no Ramanujan verdict.
    """
    check_analysable_model(model)
    check_flags(per_gate=per_gate, weighted=weighted)
    lookup = mask_lookup(model)
    rows = []
    for entry in walk(model):
        if not entry.cells:
            rows.append({
                **dict.fromkeys(ROW_KEYS),
                "layer": entry.path, "role": type(unwrap_pruning(entry.layer)).__name__,
                "analysed": False, "status": f"not analysed ({entry.reason})",
                "weighted": weighted,
            })
            continue
        for path, cell in entry.cells:
            rows.extend(
                _graph_row(graph, weighted)
                for graph in cell_graphs(path, cell, lookup, per_gate)
            )
    return rows


def _footer(rows: list[dict], weighted: bool) -> str:
    analysed = [row for row in rows if row["analysed"]]
    disconnected = sum(1 for row in analysed if (row["components"] or 0) > 1)
    text = f"Weight graphs analysed: {len(analysed)}"
    if weighted:
        text += " (|w| spectra: spectral gap only, no Ramanujan verdict)"
    else:
        ramanujan = sum(1 for row in analysed if row["status"] == "Ramanujan")
        text += f"; Ramanujan: {ramanujan}"
    return text + f"; disconnected: {disconnected}"


def summary(
    model,
    *,
    per_gate: bool = False,
    weighted: bool = False,
    print_fn: Callable[[str], Any] | None = print,
) -> str:
    """Print (and return) a table of every layer's weight graphs, like ``model.summary()``.

    Columns: layer, role (with gate), shape, sparsity, connected components, d_left, d_right,
    mu_hat, bound, Delta_r, status (Ramanujan / not Ramanujan / undefined and why).  With
    ``weighted``: sigma_1, sigma_2 and the spectral gap of ``|w|`` instead of the bound and
    Delta_r, and no verdict.  Layers that are not recurrent are listed as not analysed.
    """
    if print_fn is not None and not callable(print_fn):
        raise TypeError(f"`print_fn` must be callable or None, got {print_fn!r}.")
    rows = summary_rows(model, per_gate=per_gate, weighted=weighted)
    columns = _WEIGHTED_COLUMNS if weighted else _COLUMNS
    cells = []
    for row in rows:
        line = []
        for _, key in columns:
            value = row[key]
            if key == "role" and row.get("gate"):
                value = f"{value}/{row['gate']}"
            line.append(format_value(value))
        cells.append(line)
    kind = "weighted (|w|) " if weighted else ""
    text = "\n".join([
        f'Model: "{model.name}" — recurrent weight graphs, {kind}spectral analysis',
        text_table([title for title, _ in columns], cells),
        _footer(rows, weighted),
    ])
    if print_fn is not None:
        print_fn(text)
    return text
