"""``verify(..., runtime="tflm-cortex-m4")``: TFLM with CMSIS-NN kernels on an emulated
Cortex-M4 (QEMU), through :func:`tf_expander_pruning.deployment.mcu.run_tflm`.

Sequence models get one sequence per ``Invoke()``; streaming models are stepped by the harness
on the core (``x_t`` fed, each ``new_state_i`` copied into ``state_i``, requantised), which is
what firmware does.  Figures come from the run: TFLM code bytes (link map), model bytes, the
arena TFLM used and instructions per inference (QEMU ``-icount``; all T steps when streaming).
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.deployment.export.errors import ExportError, UnsupportedError

__all__ = ["run_on_mcu"]


def _mcu():
    try:
        from tf_expander_pruning.deployment import mcu
    except ImportError as error:  # the package is built without the MCU layer
        raise UnsupportedError(
            "runtime='tflm-cortex-m4' needs tf_expander_pruning.deployment.mcu (QEMU and the "
            "vendored TFLM build); it is not importable here: " + str(error)
        ) from error
    return mcu


def run_on_mcu(data: bytes, batches: np.ndarray, runtime: str, *, stream: dict | None,
               masks: np.ndarray | None, mask_plan: dict | None) -> dict:
    """Dequantised outputs ``(samples, ...)`` and the MCU figures of one run of all batches.

    ``batches`` are ``(batches, 1, ...)`` already in the input dtype (batch size 1 only).
    """
    mcu = _mcu()
    if batches.shape[1] != 1:
        raise UnsupportedError(f"runtime={runtime!r} runs batch-size-1 flatbuffers (firmware "
                               "feeds one sequence at a time); convert with batch_size=1.")
    x = batches[:, 0]
    streaming = None
    if stream is not None:
        if stream["every_step"] or masks is not None:
            raise UnsupportedError(
                f"runtime={runtime!r} reads a streaming model's output after the last step "
                "only: it cannot check a return_sequences model or skip padded frames. Verify "
                "those with runtime='tflm'."
            )
        streaming = {"x_input": stream["x"],
                     "states": [(s["output"], s["input"]) for s in stream["states"]]}
        feed = x
    elif mask_plan is not None:
        feed = [None, None]
        feed[mask_plan["x"]], feed[mask_plan["mask"]] = x, masks[:, 0]
    else:
        feed = x
    try:
        run = mcu.run_tflm(data, feed, target=runtime.split("-", 1)[1], streaming=streaming)
    except (mcu.McuError, RuntimeError) as error:
        raise ExportError(f"Running the model with TFLM on the emulated {runtime} failed: "
                          f"{error}") from error
    return {"outputs": np.asarray(run.outputs, np.float64), "code_bytes": run.code_bytes,
            "arena_bytes": run.arena_bytes,
            "instructions_per_inference": run.instructions_per_inference}
