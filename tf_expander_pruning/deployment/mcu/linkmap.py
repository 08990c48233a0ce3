"""Section sizes per input object, read from a GNU ld link map (``-Wl,-Map=...``).

The link map lists every input section the linker kept (after ``--gc-sections``) with its size
and the object (or ``archive(member)``) it came from, so it tells how much of an image belongs
to the model, to TFLM or to the harness, which ``arm-none-eabi-size`` on the whole ELF cannot.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SectionSizes", "parse_link_map", "object_key"]

_INPUT = re.compile(r"^ (\S+)?\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_NAME_ONLY = re.compile(r"^ (\S+)$")
_OUTPUT = re.compile(r"^(\.\S+)")
# Output sections whose contents live in flash only; .data is flash + RAM, .bss RAM only.
_DATA, _BSS = (".data",), (".bss",)


@dataclass(frozen=True)
class SectionSizes:
    """Bytes of code+constants (``text``), initialised RAM (``data``) and zeroed RAM (``bss``)."""

    text: int = 0
    data: int = 0
    bss: int = 0

    @property
    def flash_bytes(self) -> int:
        """Flash: code, constants and the initial values of ``.data``."""
        return self.text + self.data

    @property
    def ram_bytes(self) -> int:
        """Static RAM: ``.data`` plus ``.bss`` (stack and heap not included)."""
        return self.data + self.bss

    def __add__(self, other: SectionSizes) -> SectionSizes:
        return SectionSizes(self.text + other.text, self.data + other.data,
                            self.bss + other.bss)


def object_key(path: str) -> str:
    """``/tmp/x/model.o`` -> ``model.o``; ``/c/libtflm.a(x.o)`` -> ``libtflm.a(x.o)``."""
    match = re.match(r"^(.*?)(\(([^()]*)\))?$", path.strip())
    archive = Path(match.group(1)).name
    return f"{archive}({match.group(3)})" if match.group(2) else archive


def _kind(output_section: str) -> str:
    if output_section.startswith(_DATA):
        return "data"
    if output_section.startswith(_BSS):
        return "bss"
    return "text"


def parse_link_map(text: str) -> dict[str, SectionSizes]:
    """Sizes of the kept input sections, summed per input object (see :func:`object_key`)."""
    start = text.find("Linker script and memory map")
    if start < 0:
        raise ValueError("Not a GNU ld link map: no 'Linker script and memory map' line.")
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"text": 0, "data": 0, "bss": 0})
    output, pending = "", None
    for line in text[start:].splitlines():
        out = _OUTPUT.match(line)
        if out:
            output, pending = out.group(1), None
            continue
        match = _INPUT.match(line)
        if match and (match.group(1) or pending) and int(match.group(3), 16) > 0:
            if output and not output.startswith((".debug", ".comment", ".ARM.attributes")):
                totals[object_key(match.group(4))][_kind(output)] += int(match.group(3), 16)
            pending = None
            continue
        name = _NAME_ONLY.match(line)
        pending = name.group(1) if name and not line.startswith(" *") else None
    return {key: SectionSizes(**value) for key, value in totals.items()}
