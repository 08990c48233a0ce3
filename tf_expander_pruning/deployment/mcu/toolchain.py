"""Find the Arm cross toolchain and QEMU; a missing one is an error that says how to install it."""

from __future__ import annotations

import shutil
import subprocess

__all__ = ["DEBIAN_PACKAGES", "ensure_toolchain", "tool", "qemu"]

#: The Debian packages the MCU runs need (all four ship in Debian/Ubuntu main).
DEBIAN_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi",
                   "libstdc++-arm-none-eabi-newlib", "qemu-system-arm")

# Program -> package that provides it.  newlib is checked through its rdimon specs file below.
_PROGRAMS = {"arm-none-eabi-gcc": "gcc-arm-none-eabi", "arm-none-eabi-g++": "gcc-arm-none-eabi",
             "arm-none-eabi-size": "binutils-arm-none-eabi", "qemu-system-arm": "qemu-system-arm"}


def _install_hint(missing: list[str]) -> str:
    return (f"Install them with `make install` (it installs the Arm toolchain and QEMU when "
            f"missing) or `sudo apt-get install -y {' '.join(DEBIAN_PACKAGES)}`. Missing: "
            f"{', '.join(missing)}.")


def _library_present(compiler: str, name: str) -> bool:
    path = shutil.which(compiler)
    if path is None:
        return False
    out = subprocess.run([path, f"-print-file-name={name}"], capture_output=True, text=True)
    return out.stdout.strip() not in ("", name)  # gcc echoes the bare name when it is not found


def ensure_toolchain() -> None:
    """Raise ``RuntimeError`` naming the Debian packages to install if a tool is missing."""
    missing = sorted({pkg for prog, pkg in _PROGRAMS.items() if shutil.which(prog) is None})
    if "gcc-arm-none-eabi" not in missing:
        if not _library_present("arm-none-eabi-gcc", "rdimon.specs"):
            missing.append("libnewlib-arm-none-eabi")
        if not _library_present("arm-none-eabi-g++", "libstdc++.a"):
            missing.append("libstdc++-arm-none-eabi-newlib")
    if missing:
        raise RuntimeError("The Cortex-M toolchain is incomplete. " + _install_hint(missing))


def tool(name: str) -> str:
    """Full path of ``arm-none-eabi-<name>`` (``gcc``, ``g++``, ``size``, ``nm``)."""
    path = shutil.which(f"arm-none-eabi-{name}")
    if path is None:
        raise RuntimeError(f"arm-none-eabi-{name} not found. "
                           + _install_hint([f"arm-none-eabi-{name}"]))
    return path


def qemu() -> str:
    """Full path of ``qemu-system-arm``."""
    path = shutil.which("qemu-system-arm")
    if path is None:
        raise RuntimeError("qemu-system-arm not found. " + _install_hint(["qemu-system-arm"]))
    return path
