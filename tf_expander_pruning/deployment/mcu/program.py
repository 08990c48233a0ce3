"""Compile C/C++ sources into a bare-metal image for an emulated Cortex-M and run it in QEMU."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

from tf_expander_pruning.core.validation import check_flag, check_real
from tf_expander_pruning.deployment.mcu.linkmap import SectionSizes, parse_link_map
from tf_expander_pruning.deployment.mcu.targets import Target, get_target
from tf_expander_pruning.deployment.mcu.toolchain import ensure_toolchain, qemu, tool

__all__ = ["McuRun", "McuError", "run_c_program", "compile_source", "compile_flags", "resource_dir",
           "STACK_BYTES"]

#: RAM kept free for the stack (the linker refuses an image whose static data leaves less).
STACK_BYTES = 4096
_C_SUFFIXES, _CXX_SUFFIXES = (".c",), (".cc", ".cpp", ".cxx")
_COMMON_FLAGS = ("-ffunction-sections", "-fdata-sections", "-funsigned-char", "-fno-common",
                 "-Wall")
_CXX_FLAGS = ("-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics",
              "-fno-unwind-tables", "-fno-asynchronous-unwind-tables")


class McuError(RuntimeError):
    """Compiling, linking or running the image failed; the message has the tool's output."""


@dataclass
class McuRun:
    """What one run of a bare-metal program produced.

    ``text_bytes``/``data_bytes``/``bss_bytes`` are ``arm-none-eabi-size`` (Berkeley) of the
    whole image; ``flash_bytes = text + data`` and ``ram_bytes = data + bss`` (static RAM, no
    stack or heap).  ``objects`` holds the same split per input object from the link map (keys
    as :func:`~tf_expander_pruning.deployment.mcu.linkmap.object_key`); :meth:`size_of` sums
    the objects of given sources, so a caller reports its model's bytes, not the harness's.
    ``symbols`` maps every sized symbol to its size.  ``elf_path`` is ``None`` unless a
    ``build_dir`` was given (the temporary build directory is removed).
    """

    stdout: str
    text_bytes: int
    data_bytes: int
    bss_bytes: int
    flash_bytes: int
    ram_bytes: int
    elf_path: str | None
    symbols: dict[str, int]
    objects: dict[str, SectionSizes] = field(default_factory=dict)
    target: str = "cortex-m4"

    def size_of(self, *names: str) -> SectionSizes:
        """Summed sizes of the objects built from ``names`` (``"model.c"``), or of whole archives
        (``"libtflm.a"``) / archive members (``"libtflm.a(x.o)"``)."""
        total = SectionSizes()
        for name in names:
            keys = _matching_keys(self.objects, name)
            if not keys and not name.endswith(".a"):
                raise KeyError(f"No object from {name!r} in the image; "
                               f"known: {sorted(self.objects)}")
            for key in keys:
                total = total + self.objects[key]
        return total


def _matching_keys(objects: dict[str, SectionSizes], name: str) -> list[str]:
    stem = Path(name).name
    if stem.endswith(".a"):
        return [key for key in objects if key == stem or key.startswith(stem + "(")]
    if Path(stem).suffix in _C_SUFFIXES + _CXX_SUFFIXES:
        stem = Path(stem).stem + ".o"
    return [key for key in objects if key == stem]


def resource_dir() -> Path:
    """Directory of the packaged C resources (``tep_mcu.h``, ``tep_mcu.c``, ``link.ld.in``)."""
    return Path(str(resources.files("tf_expander_pruning.deployment.mcu") / "resources"))


def _run(cmd: list[str], what: str, timeout: float, cwd: Path) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        raise McuError(f"{what} timed out after {timeout:g} s: {' '.join(cmd)}\n"
                       f"{(exc.stdout or b'')[-2000:]!r}") from None
    if proc.returncode != 0:
        raise McuError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                       f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _linker_script(target: Target, directory: Path) -> Path:
    template = Template((resource_dir() / "link.ld.in").read_text())
    text = template.substitute(FLASH_ORIGIN=hex(target.flash_origin),
                               FLASH_BYTES=hex(target.flash_bytes),
                               RAM_ORIGIN=hex(target.ram_origin), RAM_BYTES=hex(target.ram_bytes),
                               STACK_BYTES=hex(STACK_BYTES))
    path = directory / f"link_{target.name}.ld"
    path.write_text(text)
    return path


def _defines(target: Target) -> list[str]:
    per_tick = target.instructions_per_tick
    return [f"-DTEP_INSTR_PER_TICK_NUM={per_tick.numerator}ull",
            f"-DTEP_INSTR_PER_TICK_DEN={per_tick.denominator}ull"]


def compile_flags(target: str, *, cxx: bool = False) -> list[str]:
    """The flags every source gets for ``target`` before the caller's own (no include paths)."""
    spec = get_target(target)
    language = list(_CXX_FLAGS) if cxx else ["-std=gnu11"]
    return [*spec.cflags, *language, *_COMMON_FLAGS, "-O2", *_defines(spec)]


def compile_source(source: str | os.PathLike, output: str | os.PathLike, *, target: str,
                   include_dirs=(), cflags=(), timeout: float = 600) -> Path:
    """Compile one C (``.c``) or C++ (``.cc``/``.cpp``) file for ``target`` into ``output``.

    Same flags as :func:`run_c_program` (``tep_mcu.h`` is on the include path), so an object
    compiled once can be cached and passed to it through ``libraries``.
    """
    spec, source = get_target(target), Path(source)
    is_cxx = source.suffix in _CXX_SUFFIXES
    if not is_cxx and source.suffix not in _C_SUFFIXES:
        raise ValueError(f"`source` {source} must end in .c, .cc, .cpp or .cxx.")
    includes = [f"-I{source.parent}", f"-I{resource_dir()}"] + [f"-I{d}" for d in include_dirs]
    cmd = [tool("g++" if is_cxx else "gcc"), *compile_flags(spec.name, cxx=is_cxx), *includes,
           *cflags, "-c", str(source), "-o", str(output)]
    _run(cmd, f"Compiling {source.name} for {spec.name}", timeout, source.parent)
    return Path(output)


def _compile_all(sources: dict[str, str], target: Target, directory: Path, include_dirs,
                 cflags, timeout: float) -> tuple[list[Path], bool]:
    """Write every source, compile the C/C++ ones; returns the objects and whether C++ is used."""
    for name, text in sources.items():
        if Path(name).name != name or name.startswith("tep_mcu"):
            raise ValueError(f"`sources` key {name!r} must be a plain file name not starting "
                             "with 'tep_mcu' (the harness's own files).")
        (directory / name).write_text(text)
    shutil.copy(resource_dir() / "tep_mcu.c", directory / "tep_mcu.c")
    objects, cxx = [], False
    for name in [*sources, "tep_mcu.c"]:
        suffix = Path(name).suffix
        if suffix not in _C_SUFFIXES + _CXX_SUFFIXES:
            continue  # headers and data files are only written
        cxx |= suffix in _CXX_SUFFIXES
        objects.append(compile_source(directory / name, directory / (Path(name).stem + ".o"),
                                      target=target.name, include_dirs=include_dirs,
                                      cflags=cflags, timeout=timeout))
    return objects, cxx


def _link(objects: list[Path], cxx: bool, target: Target, directory: Path, libraries,
          timeout: float) -> tuple[Path, Path]:
    elf, link_map = directory / "app.elf", directory / "app.map"
    script = _linker_script(target, directory)
    cmd = [tool("g++" if cxx else "gcc"), *target.cflags, "--specs=rdimon.specs", "-nostartfiles",
           f"-T{script}", "-Wl,--gc-sections", f"-Wl,-Map={link_map}", "-o", str(elf),
           *map(str, objects), *map(str, libraries), "-lm"]
    _run(cmd, f"Linking for {target.name}", timeout, directory)
    return elf, link_map


def _sizes(elf: Path, timeout: float, directory: Path) -> tuple[int, int, int, dict[str, int]]:
    lines = _run([tool("size"), str(elf)], "arm-none-eabi-size", timeout, directory).stdout
    text, data, bss = (int(v) for v in lines.splitlines()[1].split()[:3])
    nm = _run([tool("nm"), "-S", "--size-sort", str(elf)], "arm-none-eabi-nm", timeout, directory)
    symbols = {}
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            symbols[parts[3]] = int(parts[1], 16)
    return text, data, bss, symbols


def _run_qemu(elf: Path, target: Target, timeout: float, directory: Path) -> str:
    cmd = [qemu(), "-M", target.machine, "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
           "-kernel", str(elf)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=directory)
    except subprocess.TimeoutExpired:
        raise McuError(f"The program did not finish within {timeout:g} s on {target.name} "
                       f"({' '.join(cmd)}); raise `timeout` or look for an endless loop.") from None
    if "TEP_FAULT" in proc.stdout + proc.stderr:  # SYS_WRITE0 goes to the console (stderr)
        raise McuError(f"The program faulted on {target.name} (a HardFault: bad memory access, "
                       f"undefined instruction or stack overflow):\n{proc.stdout[-3000:]}"
                       f"{proc.stderr[-500:]}")
    if proc.returncode != 0:
        raise McuError(f"The program failed on {target.name}: main() returned non-zero or QEMU "
                       f"failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                       f"{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def run_c_program(sources: dict[str, str], *, target: str, main: str = "main.c",
                  include_dirs=(), libraries=(), cflags=(), timeout: float = 120,
                  build_dir: str | os.PathLike | None = None, cxx: bool = False) -> McuRun:
    """Compile ``sources`` (file name -> text) for ``target``, link a bare-metal image, run it.

    The program includes ``tep_mcu.h`` (SysTick instruction counter, semihosting printf) and its
    ``main()`` return value is the run's status: a non-zero value, a fault or a timeout raises
    :class:`McuError`.  ``main`` names the source that defines ``main()`` (it must be a key of
    ``sources``).  Compiled with the target's flags, ``-O2 -ffunction-sections -fdata-sections``
    then ``cflags`` (so ``cflags=("-Os",)`` wins), linked with ``--specs=rdimon.specs
    -nostartfiles --gc-sections`` against ``libraries`` (paths of ``.a`` archives or of objects
    from :func:`compile_source`; pass ``cxx=True`` if one of them is C++), and run as
    ``qemu-system-arm -M <machine> -semihosting -icount shift=0``.
    """
    if not isinstance(sources, dict) or not sources:
        raise TypeError("`sources` must be a non-empty dict of file name -> source text.")
    if main not in sources:
        raise ValueError(f"`main`={main!r} must be one of the `sources` keys {sorted(sources)}.")
    check_real(timeout, "timeout", minimum=0, open_interval=True)
    check_flag(cxx, "cxx")
    spec = get_target(target)
    ensure_toolchain()
    tmp = None
    if build_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="tep_mcu_")
        directory = Path(tmp.name)
    else:
        directory = Path(build_dir)
        directory.mkdir(parents=True, exist_ok=True)
    try:
        objects, has_cxx = _compile_all(sources, spec, directory, include_dirs, cflags, timeout)
        elf, link_map = _link(objects, cxx or has_cxx, spec, directory, libraries, timeout)
        text, data, bss, symbols = _sizes(elf, timeout, directory)
        per_object = parse_link_map(link_map.read_text())
        stdout = _run_qemu(elf, spec, timeout, directory)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return McuRun(stdout=stdout, text_bytes=text, data_bytes=data, bss_bytes=bss,
                  flash_bytes=text + data, ram_bytes=data + bss,
                  elf_path=None if tmp is not None else str(elf), symbols=symbols,
                  objects=per_object, target=spec.name)
