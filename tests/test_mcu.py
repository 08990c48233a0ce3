"""Cortex-M runs in QEMU: known programs, instruction counts, sizes, and TFLM against x86 TFLM.

The toolchain and QEMU are part of ``make install``: when they are missing these tests fail
(with the install command), they do not skip.  The TFLM library is built once per machine and
cached (see docs/mcu.md); the first run of the TFLM tests pays for that build.
"""

import os
import subprocess

import pytest

from tf_expander_pruning.deployment.mcu import (
    TARGETS,
    McuError,
    SectionSizes,
    ensure_toolchain,
    parse_link_map,
    run_c_program,
)
from tf_expander_pruning.deployment.mcu.toolchain import tool

# A counted loop of exactly two instructions per iteration (subs + bne), in unified syntax so
# the same text assembles for Thumb-1 (M0) and Thumb-2 (M4).
LOOP_PROGRAM = r"""
#include "tep_mcu.h"
static void spin(uint32_t n) {
    __asm__ volatile(".syntax unified\n1: subs %0, %0, #1\n bne 1b" : "+l"(n) :: "cc");
}
int main(void) {
    static const uint32_t sizes[] = {SIZES};
    uint32_t total = 0;
    for (uint32_t i = 1; i <= 100; ++i) total += i;
    printf("sum %lu\n", (unsigned long)total);
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; ++k) {
        tep_cycles_start();
        spin(sizes[k]);
        printf("loop %lu %llu %llu\n", (unsigned long)sizes[k],
               (unsigned long long)tep_instructions_since(), (unsigned long long)tep_ticks_since());
    }
    return 0;
}
"""
SIZES = (1000, 50_000, 400_000)


def _loop_counts(target: str) -> dict[int, int]:
    source = LOOP_PROGRAM.replace("SIZES", ", ".join(map(str, SIZES)))
    run = run_c_program({"main.c": source}, target=target, main="main.c")
    assert run.stdout.splitlines()[0] == "sum 5050"
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("loop ")]
    return {int(n): int(instr) for _, n, instr, _ in rows}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_instruction_count_of_a_known_loop(target):
    counts = _loop_counts(target)
    per_tick = float(TARGETS[target].instructions_per_tick)
    # Independent expectation: two instructions per iteration.  The measured count also holds
    # the call and counter overhead (a few dozen instructions) and is rounded to whole ticks.
    for n in SIZES:
        assert 2 * n <= counts[n] + per_tick
        assert counts[n] <= 2 * n + 60 + per_tick
    slope = (counts[SIZES[-1]] - counts[SIZES[1]]) / (SIZES[-1] - SIZES[1])
    assert abs(slope - 2.0) < 2 * per_tick / (SIZES[-1] - SIZES[1])


def test_m4_float_and_cortex_m0_soft_float_agree():
    source = r"""
    #include "tep_mcu.h"
    int main(void) {
        volatile float a = 1.25f, b = 3.5f;
        float c = a * b + 0.125f;           /* exactly 4.5: representable at every step */
        printf("c*8=%d\n", (int)(c * 8.0f));
        return 0;
    }
    """
    for target in TARGETS:
        assert run_c_program({"main.c": source}, target=target, main="main.c").stdout == "c*8=36\n"


def test_object_sizes_from_the_link_map():
    data = r"""
    const unsigned char table[1000] = {1, 2, 3};
    int initialised[16] = {1, 2, 3, 4};
    unsigned char scratch[512];
    """
    main = r"""
    #include "tep_mcu.h"
    extern const unsigned char table[1000];
    extern int initialised[16];
    extern unsigned char scratch[512];
    int main(void) {
        scratch[7] = table[2] + (unsigned char)initialised[3];
        printf("%d\n", scratch[7]);
        return 0;
    }
    """
    run = run_c_program({"data.c": data, "main.c": main}, target="cortex-m4", main="main.c")
    assert run.stdout == "7\n"
    assert run.size_of("data.c") == SectionSizes(text=1000, data=64, bss=512)
    assert run.size_of("data.c").flash_bytes == 1064 and run.size_of("data.c").ram_bytes == 576
    assert run.symbols["table"] == 1000 and run.symbols["scratch"] == 512
    # The whole image: Berkeley sizes are consistent with the per-object link map.
    assert run.flash_bytes == run.text_bytes + run.data_bytes
    total = sum((s for s in run.objects.values()), SectionSizes())
    assert total.bss <= run.bss_bytes and run.bss_bytes - total.bss < 64  # alignment only
    with pytest.raises(KeyError, match="nothing.c"):
        run.size_of("nothing.c")


def test_elf_kept_in_build_dir(tmp_path):
    source = '#include "tep_mcu.h"\nint main(void) { puts("hi"); return 0; }\n'
    run = run_c_program({"main.c": source}, target="cortex-m0", main="main.c",
                        build_dir=tmp_path)
    assert run.stdout == "hi\n" and run.elf_path == str(tmp_path / "app.elf")
    berkeley = subprocess.run([tool("size"), run.elf_path], capture_output=True, text=True)
    assert [int(v) for v in berkeley.stdout.splitlines()[1].split()[:3]] == [
        run.text_bytes, run.data_bytes, run.bss_bytes]


@pytest.mark.parametrize("body, message", [
    ("return 3;", "returned non-zero"),
    ('__asm__ volatile("udf #0"); return 0;', "faulted"),
])
def test_failures_raise(body, message):
    source = '#include "tep_mcu.h"\nint main(void) { ' + body + " }\n"
    with pytest.raises(McuError, match=message):
        run_c_program({"main.c": source}, target="cortex-m4", main="main.c")


def test_argument_errors():
    with pytest.raises(ValueError, match="target"):
        run_c_program({"main.c": ""}, target="cortex-m7", main="main.c")
    with pytest.raises(ValueError, match="main"):
        run_c_program({"main.c": ""}, target="cortex-m4", main="other.c")
    with pytest.raises(TypeError, match="sources"):
        run_c_program([], target="cortex-m4", main="main.c")


def test_missing_toolchain_is_an_error_naming_the_packages(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="gcc-arm-none-eabi.*qemu-system-arm") as info:
        ensure_toolchain()
    assert "make install" in str(info.value) and "apt-get install" in str(info.value)


def test_link_map_parser():
    text = """Discarded input sections
 .text.unused   0x00000000       0x40 /tmp/a/model.o
Linker script and memory map
.text           0x00000000      0x200
 .text.predict  0x00000000      0x120 /tmp/a/model.o
 .rodata.a_very_long_section_name_that_wraps
                0x00000120       0x80 /tmp/a/model.o
 .text.Invoke   0x000001a0       0x60 /c/build/libtflm.a(micro_interpreter.o)
                0x000001a0                Invoke
.data           0x20000000        0x8 load address 0x00000200
 .data.x        0x20000000        0x8 /tmp/a/model.o
.bss            0x20000008       0x10
 .bss.y         0x20000008       0x10 /tmp/a/main.o
.debug_info     0x00000000     0x1000
 .debug_info    0x00000000     0x1000 /tmp/a/model.o
"""
    sizes = parse_link_map(text)
    assert sizes == {"model.o": SectionSizes(0x1a0, 8, 0),
                     "libtflm.a(micro_interpreter.o)": SectionSizes(0x60, 0, 0),
                     "main.o": SectionSizes(0, 0, 0x10)}
    with pytest.raises(ValueError, match="link map"):
        parse_link_map("not a map")


def test_tflm_library_is_cached_outside_the_repository():
    from tf_expander_pruning.deployment.mcu import tflm_library

    library = tflm_library("cmsis-nn")
    assert library.archive.is_file()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert not str(library.archive).startswith(repo)
    assert tflm_library("cmsis-nn").archive == library.archive  # second call: cache hit
