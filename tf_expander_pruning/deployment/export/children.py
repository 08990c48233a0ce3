"""Child processes for the converter and the runtimes: a crash there is an exception here.

Full-int8 calibration of a ``WHILE`` loop segfaults inside the TFLite converter, and TFLM
segfaults on an arena that is too small; both would take the user's Python process with them.
The children are real script files next to this module, run with ``runpy`` from ``python -c``
(so the script's folder is not put first on ``sys.path`` and the child imports neither this
package nor tf_keras: the runtime child starts in well under a second).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tf_expander_pruning.deployment.export.errors import ChildProcessCrash, ExportError

__all__ = ["CHILD_TIMEOUT_S", "child_env", "child_failure", "native_messages", "script_source",
           "run_child", "tail"]

# Generous wall-clock limit for a child (int8 conversion imports TensorFlow: ~5-20 s when busy).
CHILD_TIMEOUT_S = 900


def child_env() -> dict[str, str]:
    """The parent's environment with TensorFlow kept quiet and on Keras 2."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TF_USE_LEGACY_KERAS", "1")
    return env


def script_source(name: str) -> str:
    """``python -c`` source that runs the script ``name`` of this folder as ``__main__``."""
    path = str(Path(__file__).with_name(name))
    return f"import runpy; runpy.run_path({path!r}, run_name='__main__')"


def tail(text: str, lines: int = 12) -> str:
    """The last ``lines`` non-blank lines of ``text``."""
    kept = [line for line in (text or "").splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run_child(
    source: str,
    argv: Sequence[str] = (),
    *,
    what: str,
    hint: str,
    timeout: float = CHILD_TIMEOUT_S,
) -> subprocess.CompletedProcess:
    """Run ``python -c source argv...`` and turn a crash or failure into a Python exception.

    Raises:
        ChildProcessCrash: the child died from a signal; the message names ``what`` and ``hint``.
        ExportError: the child exited with an error or timed out.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", source, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_env(),
        )
    except subprocess.TimeoutExpired as error:
        raise ExportError(f"{what} did not finish within {timeout:.0f} s. {hint}") from error
    if done.returncode != 0:
        raise child_failure(done.returncode, done.stderr, what=what, hint=hint)
    return done


def child_failure(returncode: int, stderr: str, *, what: str, hint: str) -> ExportError:
    """The exception for a child that ended with ``returncode`` != 0: a
    :class:`ChildProcessCrash` if a signal killed it, else an :class:`ExportError`."""
    last = tail(stderr)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return ChildProcessCrash(
            f"{what} crashed its child process with {name} (your Python process is fine). "
            f"{hint}\n--- last child output ---\n{last}",
            signal_name=name,
            stderr_tail=last,
        )
    own = native_messages(stderr)
    said = f"--- what it printed before the traceback ---\n{own}\n" if own else ""
    return ExportError(f"{what} failed. {hint}\n{said}--- last child output ---\n{last}")


def native_messages(stderr: str, lines: int = 4) -> str:
    """The last ``lines`` lines printed before Python's traceback: what native code (TFLM,
    LiteRT, the converter) said, e.g. ``Dynamic tensors are not supported``."""
    before, found, _ = (stderr or "").partition("Traceback (most recent call last):")
    return tail(before, lines) if found else ""
