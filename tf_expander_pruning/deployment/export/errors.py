"""The exceptions of :mod:`tf_expander_pruning.export` (one idea: what went wrong, and where)."""

from __future__ import annotations

__all__ = ["ExportError", "ChildProcessCrash", "UnsupportedError"]


class ExportError(RuntimeError):
    """A conversion or runtime step failed; the message says which step and what to do."""


class ChildProcessCrash(ExportError):
    """A child process running a converter or runtime step died from a signal (e.g. SIGSEGV).

    The parent (your Python process) is unaffected.  ``signal_name`` and ``stderr_tail`` say how.
    """

    def __init__(self, message: str, *, signal_name: str, stderr_tail: str) -> None:
        super().__init__(message)
        self.signal_name = signal_name
        self.stderr_tail = stderr_tail


class UnsupportedError(ExportError, ValueError):
    """A known-unsupported combination (e.g. a dynamic-range model on TFLM)."""
