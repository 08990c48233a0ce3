"""One long-lived child process for full-int8 conversion, restarted after a crash.

Full-int8 calibration can segfault the converter, so it runs in a child (:mod:`.children`).
A fresh child per conversion spends 3-5 s importing TensorFlow before a conversion of well under
a second; this child imports it once and then converts request after request (one JSON line on
its stdin each: the SavedModel, the calibration file, the output path).  A crash still only
kills the child: the caller gets :class:`~.errors.ChildProcessCrash` and the next conversion
starts a new child.  The child ends when this process closes its stdin (at exit) or dies.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading

from tf_expander_pruning.deployment.export.children import (
    CHILD_TIMEOUT_S,
    child_env,
    child_failure,
    script_source,
    tail,
)
from tf_expander_pruning.deployment.export.errors import ExportError

__all__ = ["ConverterService", "convert_int8_in_child", "shared_service", "REPLY_PREFIX"]

#: The child answers each request with one stdout line starting with this (the converter may
#: print other lines).
REPLY_PREFIX = "@@tfexp-int8@@ "


class ConverterService:
    """A child running ``int8_child.py --serve``; :meth:`convert` sends it one request."""

    def __init__(self, source: str | None = None) -> None:
        #: ``python -c`` source of the child (tests give a stand-in that imports nothing).
        self.source = source or script_source("int8_child.py")
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._stderr = None

    @property
    def pid(self) -> int | None:
        """The running child's process id (``None`` before the first conversion)."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def convert(self, saved_model: str, representative_path: str, out_path: str, *,
                what: str, hint: str, timeout: float = CHILD_TIMEOUT_S,
                activations: str = "int8") -> None:
        """Convert in the child; writes ``out_path``.  Raises like :func:`.children.run_child`.

        ``activations="int16"``: 16x8 mode (see ``int8_child.convert_int8``)."""
        request = (json.dumps([saved_model, representative_path, out_path, activations])
                   + "\n").encode()
        with self._lock:
            child = self._running()
            try:
                child.stdin.write(request)
            except (BrokenPipeError, OSError):
                pass  # it died: the read below sees the end of its output and says how
            reply = self._read_reply(child, timeout, what, hint)
        if not reply.get("ok"):
            raise ExportError(f"{what} failed. {hint}\n--- last child output ---\n"
                              f"{tail(reply.get('error', ''))}")

    def close(self) -> None:
        """End the child (it finishes its current request first)."""
        with self._lock:
            self._stop(kill=False)

    def _running(self) -> subprocess.Popen:
        if self._child is None or self._child.poll() is not None:
            self._stop(kill=True)
            self._stderr = tempfile.TemporaryFile(mode="w+", prefix="tfexp_int8_err_")
            self._child = subprocess.Popen(
                [sys.executable, "-c", self.source, "--serve", REPLY_PREFIX],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                bufsize=0, env=child_env(),
            )
        return self._child

    def _read_reply(self, child: subprocess.Popen, timeout: float, what: str,
                    hint: str) -> dict:
        # Raw reads: a buffered readline could leave the reply in a buffer that select()
        # does not see, and wait for ever.
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            while True:
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    text = line.decode(errors="replace")
                    if text.startswith(REPLY_PREFIX):
                        return json.loads(text[len(REPLY_PREFIX):])
                if not selector.select(timeout):
                    self._stop(kill=True)
                    raise ExportError(f"{what} did not finish within {timeout:.0f} s. {hint}")
                chunk = os.read(child.stdout.fileno(), 1 << 16)
                if not chunk:  # end of output: the child is gone
                    raise self._death(child, what, hint)
                pending += chunk

    def _death(self, child: subprocess.Popen, what: str, hint: str) -> ExportError:
        code = child.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read()
        self._stop(kill=True)
        return child_failure(code, stderr, what=what, hint=hint)

    def _stop(self, *, kill: bool) -> None:
        child, self._child = self._child, None
        if child is not None:
            if kill:
                child.kill()
            else:
                try:
                    child.stdin.close()
                except OSError:
                    child.kill()
            child.wait()
            child.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


_SERVICE = ConverterService()
atexit.register(_SERVICE.close)


def shared_service() -> ConverterService:
    """The process-wide service that :func:`convert_int8_in_child` uses."""
    return _SERVICE


def convert_int8_in_child(saved_model: str, representative_path: str, out_path: str, *,
                          hint: str, activations: str = "int8") -> None:
    """Full-int8 (or 16x8: ``activations="int16"``) conversion of ``saved_model`` in the shared
    converter child."""
    _SERVICE.convert(saved_model, representative_path, out_path,
                     what=f"{'16x8' if activations == 'int16' else 'int8'} TFLite conversion "
                     "(calibration)", hint=hint, activations=activations)
