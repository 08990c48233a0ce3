"""The one formatter for numbers, missing values, text/Markdown tables and CSV files.

Pure Python; no TensorFlow.  A missing value (``None``, or NaN) prints as :data:`MISSING`
everywhere: summaries, callback logs, deployment and experiment tables.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["MISSING", "format_value", "text_table", "markdown_table", "write_csv", "csv_columns"]

#: How every table prints a value that does not exist (an undefined bound, no labels, ...).
MISSING = "-"


def format_value(value: Any, pattern: str = ".3f", *, percent: bool = False) -> str:
    """``value`` formatted with ``pattern``; ``None``/NaN -> :data:`MISSING`.

    ``percent=True`` prints a fraction as a percentage with one decimal.  Tuples (shapes) print
    as ``8x32``; strings and integers as they are.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, tuple):
        return "x".join(str(item) for item in value)
    if percent:
        return f"{100 * float(value):.1f}"
    if isinstance(value, float) or (hasattr(value, "dtype") and "float" in str(value.dtype)):
        return format(float(value), pattern)
    return str(value)


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A fixed-width text table; cells already formatted or formatted with :func:`format_value`."""
    cells = [[c if isinstance(c, str) else format_value(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table; cells formatted with :func:`format_value` unless strings."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [c if isinstance(c, str) else format_value(c) for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def csv_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every key of ``rows`` in first-seen order."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None, *, append: bool = False) -> None:
    """Write dict ``rows`` as CSV (a header unless appending to a non-empty file).

    ``None`` is written as an empty cell so the file reads back with any CSV tool.
    """
    columns = list(columns) if columns is not None else csv_columns(rows)
    has_header = append and os.path.exists(path) and os.path.getsize(path) > 0
    with open(path, "a" if append else "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        if not has_header:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
