"""The emulated Cortex-M cores: compiler flags, QEMU machine, memory map, SysTick rate."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tf_expander_pruning.core.validation import check_choice

__all__ = ["Target", "TARGETS", "get_target"]


@dataclass(frozen=True)
class Target:
    """One core as QEMU emulates it.

    ``instructions_per_tick`` is how many retired instructions one SysTick tick is worth under
    ``-icount shift=0`` (QEMU retires one instruction per virtual nanosecond, SysTick runs from
    the core clock): 1e9 / core clock in Hz.  ``tests/test_mcu.py`` checks it against a loop of
    known length on every run.
    """

    name: str
    cpu: str
    machine: str
    cflags: tuple[str, ...]
    flash_origin: int
    flash_bytes: int
    ram_origin: int
    ram_bytes: int
    instructions_per_tick: Fraction
    fpu: bool
    description: str

    @property
    def clock_hz(self) -> int:
        """The emulated core (SysTick) clock."""
        return int(Fraction(10**9) / self.instructions_per_tick)


TARGETS: dict[str, Target] = {
    "cortex-m4": Target(
        name="cortex-m4", cpu="cortex-m4", machine="mps2-an386",
        cflags=("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
        # mps2-an385/386: 4 MB ZBT SSRAM1 at 0x0 (code), 4 MB SSRAM2/3 at 0x20000000 (data).
        flash_origin=0x00000000, flash_bytes=4 << 20,
        ram_origin=0x20000000, ram_bytes=4 << 20,
        instructions_per_tick=Fraction(40),  # SysTick at 25 MHz
        fpu=True,
        description="Arm MPS2 AN386 (Cortex-M4F, single-precision FPU, hard-float ABI)",
    ),
    "cortex-m0": Target(
        name="cortex-m0", cpu="cortex-m0", machine="microbit",
        cflags=("-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"),
        # nRF51822: 256 KB flash at 0x0, 16 KB RAM at 0x20000000.
        flash_origin=0x00000000, flash_bytes=256 << 10,
        ram_origin=0x20000000, ram_bytes=16 << 10,
        instructions_per_tick=Fraction(125, 2),  # nRF51 HCLK 16 MHz
        fpu=False,
        description="BBC micro:bit (nRF51822, Cortex-M0, no FPU, soft-float ABI)",
    ),
}


def get_target(target: str) -> Target:
    """The :class:`Target` called ``target`` (a ValueError lists the known names)."""
    if not isinstance(target, str):
        raise TypeError(f"`target` must be a string such as 'cortex-m4', got {target!r}.")
    return TARGETS[check_choice(target, "target", tuple(TARGETS))]
