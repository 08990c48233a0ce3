"""Run C programs and TFLite Micro models on emulated Cortex-M cores (QEMU), measure them.

* :data:`TARGETS` -- ``"cortex-m4"`` (mps2-an386, hard float) and ``"cortex-m0"`` (micro:bit).
* :func:`ensure_toolchain` -- a clear error naming the Debian packages when a tool is missing.
* :func:`run_c_program` -- compile, link, run in QEMU; stdout, sizes, per-object link-map sizes.
* :func:`run_tflm` -- a ``.tflite`` model through TFLM's MicroInterpreter on the emulated M4.
* :func:`tflm_library` -- the cached TFLM build (once per machine, file-locked).

See docs/mcu.md.
"""

from tf_expander_pruning.deployment.mcu.linkmap import SectionSizes, parse_link_map
from tf_expander_pruning.deployment.mcu.program import (
    STACK_BYTES,
    McuError,
    McuRun,
    compile_source,
    resource_dir,
    run_c_program,
)
from tf_expander_pruning.deployment.mcu.targets import TARGETS, Target, get_target
from tf_expander_pruning.deployment.mcu.tflm_library import TflmLibrary, tflm_library
from tf_expander_pruning.deployment.mcu.tflm_runner import (
    DEFAULT_ARENA_BYTES,
    Streaming,
    TflmRun,
    run_tflm,
)
from tf_expander_pruning.deployment.mcu.toolchain import DEBIAN_PACKAGES, ensure_toolchain

__all__ = [
    "TARGETS", "Target", "get_target", "ensure_toolchain", "DEBIAN_PACKAGES",
    "run_c_program", "compile_source", "McuRun", "McuError", "SectionSizes", "parse_link_map",
    "resource_dir", "STACK_BYTES", "tflm_library", "TflmLibrary", "run_tflm", "TflmRun",
    "Streaming", "DEFAULT_ARENA_BYTES",
]
