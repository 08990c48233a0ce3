"""Build the vendored TFLM library once per machine and cache it outside the repository.

The sources live in ``third_party/tflm`` (see its README).  The cache key is a hash of every
source file, the Makefile (which holds the flags) and the cross compiler's version, so a changed
flag or compiler gives a new directory instead of a stale library.  A file lock keeps two
processes (two pytest workers, a test and a benchmark) from building at the same time: the second
waits and then finds the finished library.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from tf_expander_pruning.core.validation import check_choice
from tf_expander_pruning.deployment.mcu.toolchain import ensure_toolchain, tool

__all__ = ["KERNELS", "tflm_source_dir", "cache_dir", "tflm_library", "TflmLibrary"]

#: Kernel variants: the ``make`` goal and the archive it produces.
KERNELS = {"reference": ("all", "build/ref/libtflm.a"),
           "cmsis-nn": ("cmsis", "build/cmsis/libtflm.a")}

# Include directories of the TFLM tree, relative to its root (same as its Makefile's INC).
INCLUDE_DIRS = ("tflm", "deps/flatbuffers/include", "deps/gemmlowp", "deps/ruy",
                "deps/cmsis_nn", "deps/cmsis_nn/Include", "deps/cmsis/CMSIS/Core/Include")


def tflm_source_dir() -> Path:
    """The vendored TFLM tree: ``$TEP_TFLM_SRC`` or ``third_party/tflm`` next to the package."""
    env = os.environ.get("TEP_TFLM_SRC")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "third_party" / "tflm"
    if not (root / "Makefile").is_file():
        raise RuntimeError(
            f"TFLM sources not found at {root}: run from a checkout of the repository (the "
            "sources are in third_party/tflm, outside the Python package) or set TEP_TFLM_SRC "
            "to an unpacked copy."
        )
    return root


def cache_dir() -> Path:
    """``$TEP_CACHE_DIR``, else ``$XDG_CACHE_HOME/tf_expander_pruning``, else ``~/.cache/...``."""
    env = os.environ.get("TEP_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tf_expander_pruning"


def _compiler_version() -> bytes:
    return subprocess.run([tool("g++"), "--version"], capture_output=True).stdout


def _flags_key(root: Path) -> str:
    """Hash of what decides how objects are compiled: the Makefile (flags) and the compiler."""
    return hashlib.sha256((root / "Makefile").read_bytes() + _compiler_version()).hexdigest()[:16]


def _source_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "build" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
    digest.update(_compiler_version())
    return digest.hexdigest()[:16]


def _seed_from_previous(base: Path, root: Path) -> None:
    """Copy the objects of an earlier finished build with the same flags and compiler.

    ``make`` then recompiles only sources that are new or changed (newer than their object),
    so adding a kernel to third_party/tflm costs seconds, not a full 7-minute build.
    """
    key = _flags_key(root)
    for old in sorted(base.glob("tflm-*"), key=lambda p: p.stat().st_mtime, reverse=True):
        if old == root or not old.is_dir() or not any(old.glob(".built-*")):
            continue
        if (old / "Makefile").is_file() and _flags_key(old) == key and (old / "build").is_dir():
            shutil.copytree(old / "build", root / "build")  # copy2 keeps the objects' mtimes
            return


class TflmLibrary:
    """A built ``libtflm.a`` with the include directories needed to compile against it."""

    def __init__(self, root: Path, kernels: str):
        self.root = root
        self.kernels = kernels
        self.archive = root / KERNELS[kernels][1]
        self.include_dirs = tuple(str(root / d) for d in INCLUDE_DIRS)

    def __repr__(self) -> str:
        return f"TflmLibrary({self.kernels!r}, {str(self.archive)!r})"


def _progress(build_dir: Path, total: int, stop: threading.Event, label: str) -> None:
    start = time.monotonic()
    while not stop.wait(15):
        done = sum(1 for _ in build_dir.rglob("*.o")) if build_dir.exists() else 0
        print(f"[tep-mcu] building TFLM ({label}): {done} objects of about {total}, "
              f"{time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)


def _run_make(src: Path, kernels: str) -> None:
    goal = KERNELS[kernels][0]
    sources = [p for p in src.rglob("*") if p.suffix in (".cc", ".c") and "build" not in p.parts]
    stop = threading.Event()
    watcher = threading.Thread(target=_progress, args=(src / "build", len(sources), stop, kernels),
                               daemon=True)
    print(f"[tep-mcu] building the TFLM library ({kernels} kernels) once in {src} "
          "(about 7 minutes on 2 idle cores; later runs reuse it)", file=sys.stderr, flush=True)
    watcher.start()
    try:
        jobs = str(max(1, os.cpu_count() or 1))
        proc = subprocess.run(["nice", "-n", "10", "make", "-j", jobs, goal], cwd=src,
                              capture_output=True, text=True)
    finally:
        stop.set()
    if proc.returncode != 0:
        raise RuntimeError(f"Building TFLM ({kernels}) in {src} failed:\n{proc.stderr[-4000:]}")


def tflm_library(kernels: str = "cmsis-nn") -> TflmLibrary:
    """Return the cached TFLM library for ``kernels`` (``"cmsis-nn"`` or ``"reference"``).

    Builds it on first use (``make cmsis`` / ``make`` in a copy of ``third_party/tflm`` under
    :func:`cache_dir`), holding ``tflm-<hash>.lock`` so concurrent callers build it only once.
    """
    check_choice(kernels, "kernels", tuple(KERNELS))
    ensure_toolchain()
    source = tflm_source_dir()
    key = _source_hash(source)
    base = cache_dir()
    base.mkdir(parents=True, exist_ok=True)
    root = base / f"tflm-{key}"
    stamp = root / f".built-{kernels}"
    if stamp.is_file():
        return TflmLibrary(root, kernels)
    with open(base / f"tflm-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another process builds
        if not stamp.is_file():
            if not (root / "Makefile").is_file():
                shutil.rmtree(root, ignore_errors=True)
                shutil.copytree(source, root, ignore=shutil.ignore_patterns("build"))
                _seed_from_previous(base, root)
            _run_make(root, kernels)
            stamp.write_text(KERNELS[kernels][1] + "\n")
    return TflmLibrary(root, kernels)
