"""Raw per-run result rows on disk: read a CSV back with its types, merge runs of several seeds.

Long experiments are run seed by seed (a shared CPU, partial results kept); each run's rows are
merged into the same CSV, replacing only the rows it re-ran.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tf_expander_pruning.core.formatting import write_csv

__all__ = ["parse_cell", "read_rows", "merge_rows", "write_rows"]


def parse_cell(text: str) -> Any:
    """A CSV cell as written by :func:`~tf_expander_pruning.core.formatting.write_csv`:
    ``""`` -> ``None``, ``True``/``False`` -> bool, integers and floats -> numbers, else text."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a result CSV with their types restored (see :func:`parse_cell`); ``[]`` if the
    file does not exist."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as handle:
        return [{k: parse_cell(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def merge_rows(
    old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]], keys: Sequence[str]
) -> list[dict[str, Any]]:
    """``old`` rows whose ``keys`` no row of ``new`` has, then ``new``; order kept, sorted by
    ``keys[0]`` (the seed) so a file grown seed by seed reads in seed order."""
    new = [dict(row) for row in new]
    taken = {tuple(row.get(k) for k in keys) for row in new}
    kept = [dict(row) for row in old if tuple(row.get(k) for k in keys) not in taken]
    merged = kept + new
    first = keys[0]
    return sorted(merged, key=lambda row: (row.get(first) is None, row.get(first) or 0))


@contextlib.contextmanager
def _locked(path: str | os.PathLike):
    """An exclusive lock on ``<path>.lock`` where ``fcntl`` exists (two seeds of one cell may run
    side by side and merge into the same file); no lock elsewhere."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    with open(f"{os.fspath(path)}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_rows(
    path: str | os.PathLike, new: Iterable[Mapping[str, Any]], keys: Sequence[str]
) -> list[dict[str, Any]]:
    """Merge ``new`` into the CSV at ``path`` (see :func:`merge_rows`), rewrite it, return all
    rows.  The read-merge-write holds a file lock, so concurrent runs do not drop rows."""
    with _locked(path):
        rows = merge_rows(read_rows(path), new, keys)
        tmp = f"{os.fspath(path)}.tmp"
        write_csv(tmp, rows)
        os.replace(tmp, path)  # readers never see a half-written file
    return rows
