"""Where the callback's records go: the text log, a CSV file streamed while training, TensorBoard.

Each sink takes the same history records (dicts with :data:`HISTORY_FIELDS`) and never stops
training: a failing CSV write warns once and keeps the rows for the next attempt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

from tf_expander_pruning.core.formatting import format_value, write_csv
from tf_expander_pruning.core.keras_compat import tf

__all__ = ["HISTORY_FIELDS", "LogSink", "CsvSink", "TensorBoardSink", "check_line"]

logger = logging.getLogger("tf_expander_pruning.constraint")

#: Columns of :attr:`RamanujanConstraint.history` records and of ``to_csv`` (append only).
HISTORY_FIELDS = (
    "step", "epoch", "layer", "role", "gate", "sparsity", "d_left", "d_right", "lambda1",
    "mu_hat", "bound", "delta_r", "delta_s", "passed", "frozen", "stopped_by", "monitor_value",
    "components", "reference", "step_size", "action", "noise",
)

Record = dict[str, Any]


def check_line(row: Record) -> str:
    """One history record as a line of text (``verbose=2``)."""
    gate = f"/{row['gate']}" if row["gate"] else ""
    if row.get("stopped_by") == "guard":
        return (
            f"{row['layer']}: {row['role']} step {row['step']} sparsity {row['sparsity']:.2f} "
            f"guard {format_value(row['monitor_value'])} passed={row['passed']} "
            f"{row.get('action') or ''}"
        )
    return (
        f"{row['layer']}: {row['role']}{gate} step {row['step']} sparsity "
        f"{row['sparsity']:.2f} Delta_r={format_value(row['delta_r'], '.2f')} "
        f"passed={row['passed']}"
    )


class LogSink:
    """Freeze and status lines: kept in ``messages``, logged, printed when ``verbose >= 1``."""

    def __init__(self, messages: list[str], verbose: int) -> None:
        self.messages = messages
        self.verbose = verbose

    def say(self, line: str) -> None:
        self.messages.append(line)
        logger.info(line)
        if self.verbose >= 1:
            print(line)

    def checks(self, records: Sequence[Record]) -> None:
        if self.verbose >= 2:
            for row in records:
                print(check_line(row))


class CsvSink:
    """Appends records to ``path`` during training; a failed write is cut back and retried."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.unwritten: list[Record] = []
        self.warned = False

    def write(self, records: Sequence[Record], final: bool = False) -> None:
        """Append ``records`` (and earlier unwritten ones); never raise."""
        if self.path is None:
            return
        self.unwritten.extend(records)
        if not self.unwritten:
            return
        size = os.path.getsize(self.path) if os.path.exists(self.path) else 0
        try:
            write_csv(self.path, self.unwritten, HISTORY_FIELDS, append=True)
        except OSError as error:
            # Cut the file back so a retry neither duplicates nor leaves half a row.
            with contextlib.suppress(OSError):
                if os.path.exists(self.path):
                    os.truncate(self.path, size)
            if final or not self.warned:
                self.warned = True
                message = (
                    f"RamanujanConstraint could not write the history to {self.path!r} "
                    f"({error}); training goes on, {len(self.unwritten)} record(s) are kept "
                    "in memory (`history`) and "
                    + ("can be saved later with to_csv(path)." if final else
                       "will be written with the next successful append.")
                )
                logger.warning(message)
                warnings.warn(message, RuntimeWarning, stacklevel=3)
            return
        self.unwritten = []


class TensorBoardSink:
    """Scalars ``<layer>/<role>[/<gate>]/{delta_r,delta_s,sparsity,passed}`` per check,
    ``<layer>/<role>/try_{sparsity,step_size,passed}`` per guard-judged try, and
    ``guard/<monitor>`` per guard check."""

    def __init__(self, log_dir: str | None) -> None:
        self.log_dir = log_dir
        self.writer = None

    def open(self, chief: bool) -> None:
        # Only the chief writes (as Keras's TensorBoard): workers would repeat the scalars.
        if self.log_dir is not None and chief:
            self.writer = tf.summary.create_file_writer(self.log_dir)

    def write(self, records: Sequence[Record]) -> None:
        if self.writer is None or not records:
            return
        with self.writer.as_default():
            for row in records:
                gate = f"/{row['gate']}" if row["gate"] else ""
                prefix = f"{row['layer']}/{row['role']}{gate}"
                if row.get("stopped_by") == "guard":  # one try of the knee search
                    for key in ("sparsity", "step_size"):
                        if row.get(key) is not None:
                            tf.summary.scalar(f"{prefix}/try_{key}", row[key], step=row["step"])
                    tf.summary.scalar(f"{prefix}/try_passed", float(row["passed"]),
                                      step=row["step"])
                    continue
                for key in ("delta_r", "delta_s", "sparsity"):
                    if row[key] is not None:
                        tf.summary.scalar(f"{prefix}/{key}", row[key], step=row["step"])
                if row["passed"] is not None:
                    tf.summary.scalar(f"{prefix}/passed", float(row["passed"]), step=row["step"])

    def guard_value(self, monitor: str, value: float, step: int) -> None:
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.scalar(f"guard/{monitor}", value, step=step)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
