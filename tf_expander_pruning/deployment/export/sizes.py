"""Honest sizes and the deployment table: measured from real flatbuffers and runtimes."""

from __future__ import annotations

import dataclasses
import gzip
from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_expander_pruning.core import keras_compat
from tf_expander_pruning.core.formatting import MISSING
from tf_expander_pruning.core.quantization import normalize_quantizations
from tf_expander_pruning.deployment.export.conversion import to_tflite
from tf_expander_pruning.deployment.export.converter import QUANTIZATIONS
from tf_expander_pruning.deployment.export.errors import UnsupportedError
from tf_expander_pruning.deployment.export.flatbuffer import quantization_of, tensor_info
from tf_expander_pruning.deployment.export.preparation import strip
from tf_expander_pruning.deployment.export.runtimes import measure_tflm_arena
from tf_expander_pruning.deployment.export.verification import RUNTIMES, verify

__all__ = ["parameter_counts", "SizeReport", "size_report", "DeploymentTable",
           "deployment_table", "gzip_size"]


def gzip_size(data: bytes) -> int:
    # mtime=0 keeps the number reproducible
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def parameter_counts(model) -> dict[str, int]:
    """``{"total": all weights, "nonzero": weights != 0}`` of the stripped model."""
    keras_compat.check_model(model)
    values = [np.asarray(w) for w in strip(model).get_weights()]
    return {
        "total": int(sum(v.size for v in values)),
        "nonzero": int(sum(np.count_nonzero(v) for v in values)),
    }


@dataclasses.dataclass
class SizeReport:
    """Parameter counts and, per quantisation, flatbuffer/gzip bytes and TFLM arena bytes.

    ``rows``: one dict per quantisation with ``quantization``, ``flatbuffer_bytes``,
    ``gzip_bytes``, ``tflm_arena_bytes`` (``None`` where the model does not run in TFLM) and
    ``note``.  Sizes are measured from the real flatbuffers, never estimated from sparsity.
    """

    total_parameters: int
    nonzero_parameters: int
    rows: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        lines = [
            f"parameters: {self.total_parameters} total, {self.nonzero_parameters} nonzero "
            f"({1 - self.nonzero_parameters / max(self.total_parameters, 1):.1%} zero)",
            f"{'quantization':<13}{'bytes':>10}{'gzip':>10}{'TFLM arena':>12}  note",
        ]
        for row in self.rows:
            size, packed, arena = (
                MISSING if row[key] is None else row[key]
                for key in ("flatbuffer_bytes", "gzip_bytes", "tflm_arena_bytes")
            )
            lines.append(
                f"{row['quantization']:<13}{size:>10}{packed:>10}{arena:>12}  {row['note']}"
            )
        return "\n".join(lines)


def _tflm_note(kind: str) -> str:
    """Why a stored form (see :func:`quantization_of`) has no TFLM figures, or what it is."""
    if kind == "dynamic":
        return "hybrid model: does not run in TFLM"
    if kind == "float16":
        return "float16: does not run in TFLM"
    if kind == "weights-int8":
        return "int8 weights + DEQUANTIZE, float compute"
    return ""


def size_report(
    model,
    *,
    representative_data=None,
    quantizations: Sequence[str] = ("float32", "dynamic", "int8"),
    batch_size: int = 1,
    measure_arena: bool = True,
) -> SizeReport:
    """Honest sizes of ``model`` for each quantisation (int8 needs ``representative_data``).

    Note that ``Optimize.EXPERIMENTAL_SPARSITY`` is not used: it does not shrink LSTM weights
    (measured), so zeros cost as much as any weight in the flatbuffer; gzip shows what sparsity
    could save with compression, and :func:`compact` what removing dead units saves.
    """
    keras_compat.check_model(model)
    quantizations = normalize_quantizations(quantizations, choices=QUANTIZATIONS)
    counts = parameter_counts(model)
    rows = []
    for quantization in quantizations:
        if quantization == "int8" and representative_data is None:
            rows.append({"quantization": quantization, "flatbuffer_bytes": None, "gzip_bytes": None,
                         "tflm_arena_bytes": None, "note": "skipped: needs representative_data"})
            continue
        data = to_tflite(model, quantization=quantization,
                         representative_data=representative_data, batch_size=batch_size)
        kind = quantization_of(data)
        arena, note = None, _tflm_note(kind)
        if quantization == "dynamic" and kind == "float32":
            note = "no weight tensor large enough to quantise: same as float32"
        if measure_arena and kind in ("float32", "int8", "weights-int8"):
            info = tensor_info(data, "input")
            sample = np.zeros(info["shape"], dtype=info["dtype"])
            arena = measure_tflm_arena(data, sample)
        rows.append({"quantization": quantization, "flatbuffer_bytes": len(data),
                     "gzip_bytes": gzip_size(data), "tflm_arena_bytes": arena, "note": note})
    return SizeReport(counts["total"], counts["nonzero"], rows)


@dataclasses.dataclass
class DeploymentTable:
    """Rows of the size/accuracy table (one per model x quantisation) and its printable text."""

    rows: list[dict[str, Any]]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "text": self.text}

    def __str__(self) -> str:
        return self.text


def _fmt(value, pattern: str) -> str:
    return MISSING if value is None else format(value, pattern)


def deployment_table(
    model,
    x_test,
    y_test,
    *,
    representative_data,
    dense_model=None,
    quantizations: Sequence[str] = ("float32", "dynamic", "int8"),
    runtimes: Sequence[str] = RUNTIMES,
) -> DeploymentTable:
    """Convert, run and measure ``model`` (and ``dense_model`` if given) for the README/demo.

    For every model x quantisation: nonzero parameters, flatbuffer and gzip bytes, TFLM arena,
    and test accuracy in Keras, LiteRT and TFLM (``-`` where a runtime cannot run it, e.g.
    dynamic-range models in TFLM).  ``representative_data`` is the int8 calibration input
    (e.g. the training split).  Returns rows (dicts) and a Markdown table (``.text``).
    """
    keras_compat.check_model(model)
    quantizations = normalize_quantizations(quantizations, choices=QUANTIZATIONS)
    if dense_model is not None:
        keras_compat.check_model(dense_model, "dense_model")
    for runtime in runtimes:
        if runtime not in RUNTIMES:
            raise ValueError(f"`runtimes` entries must be in {RUNTIMES}, got {runtime!r}.")
    x_test = np.asarray(x_test, dtype=np.float32)
    y_test = np.asarray(y_test).reshape(-1)
    rows: list[dict[str, Any]] = []
    models = [("dense", dense_model), ("pruned", model)] if dense_model is not None else [
        ("model", model)]
    for label, current in models:
        current = strip(current)  # once here, not again in every to_tflite/verify call below
        counts = parameter_counts(current)
        for quantization in quantizations:
            data = to_tflite(current, quantization=quantization,
                             representative_data=representative_data)
            stored_as = quantization_of(data)
            row: dict[str, Any] = {
                "model": label,
                "quantization": quantization,
                "stored_as": stored_as,
                "nonzero_parameters": counts["nonzero"],
                "total_parameters": counts["total"],
                "flatbuffer_bytes": len(data),
                "gzip_bytes": gzip_size(data),
                "keras_accuracy": None,
                "litert_accuracy": None,
                "tflm_accuracy": None,
                "tflm_arena_bytes": None,
                "tflm_steps_vs_litert": None,
                "note": _tflm_note(stored_as),
            }
            for runtime in runtimes:
                try:
                    report = verify(data, current, x_test, runtime=runtime, labels=y_test)
                except UnsupportedError:
                    continue  # the note (from the stored form) says why
                row["keras_accuracy"] = report.keras_accuracy
                row[f"{runtime}_accuracy"] = report.runtime_accuracy
                if runtime == "tflm":
                    row["tflm_arena_bytes"] = report.arena_bytes
                    row["tflm_steps_vs_litert"] = report.max_steps_vs_litert
            rows.append(row)
    header = (
        "| model | quant | nonzero params | bytes | gzip bytes | TFLM arena | Keras acc | "
        "LiteRT acc | TFLM acc | note |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
    )
    lines = [header]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['quantization']} | {row['nonzero_parameters']} | "
            f"{row['flatbuffer_bytes']} | {row['gzip_bytes']} | "
            f"{_fmt(row['tflm_arena_bytes'], 'd')} | {_fmt(row['keras_accuracy'], '.2%')} | "
            f"{_fmt(row['litert_accuracy'], '.2%')} | "
            f"{_fmt(row['tflm_accuracy'], '.2%')} | {row['note']} |"
        )
    return DeploymentTable(rows=rows, text="\n".join(lines))
