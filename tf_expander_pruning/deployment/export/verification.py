"""``verify``: run a flatbuffer in LiteRT, TFLM or TFLM on an emulated Cortex-M4 and compare it
with the Keras model it came from.

Whole-sequence models get one sequence per call (runtime state reset in between); streaming
models (recognised by their ``x_t`` signature input) get one frame per call with the states fed
back; masked-sequence models (a ``mask`` input) get the mask Keras would compute.
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.core.validation import check_choice, check_flag
from tf_expander_pruning.deployment.export import masking
from tf_expander_pruning.deployment.export.conversion import prepared
from tf_expander_pruning.deployment.export.errors import ExportError, UnsupportedError
from tf_expander_pruning.deployment.export.flatbuffer import (
    check_bytes,
    list_ops,
    quantization_of,
    tensor_info,
    tflm_supported_ops,
)
from tf_expander_pruning.deployment.export.runtimes import measure_tflm_arena, run_runtime
from tf_expander_pruning.deployment.export.streaming import stream_plan
from tf_expander_pruning.deployment.keras3_twin import as_keras2
from tf_expander_pruning.deployment.report import VerifyReport, compare_outputs

__all__ = ["RUNTIMES", "MCU_RUNTIMES", "verify", "quantize_inputs", "dequantize_outputs"]

RUNTIMES = ("litert", "tflm")
MCU_RUNTIMES = ("tflm-cortex-m4",)


def quantize_inputs(info: dict, inputs: np.ndarray) -> np.ndarray:
    """``(batches, batch, ...)`` in the tensor's dtype (quantised for int8), padding the tail."""
    batch = info["shape"][0]
    pad = (-len(inputs)) % batch
    if pad:
        inputs = np.concatenate([inputs, np.repeat(inputs[-1:], pad, axis=0)])
    if info["dtype"] in (np.int8, np.int16):  # int16: a 16x8 streaming model
        limits = np.iinfo(info["dtype"])
        q = np.round(inputs / info["scale"]) + info["zero_point"]
        inputs = np.clip(q, limits.min, limits.max).astype(info["dtype"])
    else:
        inputs = inputs.astype(info["dtype"])
    return inputs.reshape(-1, batch, *inputs.shape[1:])


def dequantize_outputs(info: dict, outputs: np.ndarray, n: int) -> np.ndarray:
    """Raw ``(batches, batch, ...)`` outputs -> float64 ``(n, ...)``."""
    flat = outputs.reshape(-1, *outputs.shape[2:])[:n]
    if info["dtype"] not in (np.int8, np.int16):
        return flat.astype(np.float64)
    return (flat.astype(np.float64) - info["zero_point"]) * info["scale"]


def _check_runtime(runtime, kind: str, missing: list[str]) -> None:
    check_choice(runtime, "runtime", RUNTIMES + MCU_RUNTIMES)
    if runtime != "litert" and kind == "dynamic":
        raise UnsupportedError(
            "Dynamic-range (hybrid: int8 weights, float activations) models do not run in TFLM. "
            "Convert with quantization='int8' (and representative_data) or 'float32'."
        )
    if runtime != "litert" and missing:
        raise UnsupportedError(
            f"TFLM's op resolver lacks {', '.join(missing)}; this model cannot run on TFLM. "
            "For loops (WHILE) try unroll=True in to_tflite."
        )
    if runtime in MCU_RUNTIMES and kind != "int8":
        raise UnsupportedError(
            f"runtime={runtime!r} runs full-int8 flatbuffers (CMSIS-NN kernels); this one is "
            f"{kind}. Convert with quantization='int8'."
        )


def _inputs(data: bytes, x: np.ndarray, model, stream: dict | None,
            mask_plan: dict | None) -> dict:
    """Runtime-ready inputs: ``{"x": batches, "mask": batches or None}``.

    ``mask`` is Keras's mask of ``x``: an input of a masked-sequence model, and for a streaming
    model the frames to skip (padding is not fed, as firmware would not feed it).
    """
    info = stream["x_info"] if stream else tensor_info(data, "input",
                                                       mask_plan["x"] if mask_plan else 0)
    expected = info["shape"][1:]
    got = list(x.shape[2:]) if stream else list(x.shape[1:])
    if x.ndim != len(expected) + (2 if stream else 1) or got != expected:
        form = "(samples, time, " if stream else "(samples, "
        raise ValueError(
            f"`inputs` has shape {x.shape}; the flatbuffer expects {form}"
            f"{', '.join(str(d) for d in expected)})."
        )
    mask = None
    if mask_plan is not None:
        mask = quantize_inputs(mask_plan["mask_info"], masking.keras_mask(model, x))
    elif stream is not None and masking.mask_layers(model):
        mask = quantize_inputs({**info, "dtype": np.float32}, masking.keras_mask(model, x))
    return {"x": quantize_inputs(info, x), "mask": mask}


def _run(data, prepared_inputs, runtime, stream, mask_plan, measure_arena) -> dict:
    """Raw outputs in ``runtime`` plus TFLM's arena and steps vs LiteRT where they apply."""
    batches, masks = prepared_inputs["x"], prepared_inputs["mask"]
    result = {"arena": None, "steps": None, "mcu": None}
    if runtime in MCU_RUNTIMES:
        from tf_expander_pruning.deployment.export.mcu_runtime import run_on_mcu

        result["mcu"] = run_on_mcu(data, batches, runtime, stream=stream, masks=masks,
                                   mask_plan=mask_plan)
        return result
    if runtime == "litert":
        result["raw"] = run_runtime(data, batches, "litert", None, stream, masks, mask_plan)
        return result
    # Run first with a generous arena so a real failure (e.g. an unsupported tensor type) is
    # reported as itself, not as "no arena was big enough".
    result["raw"] = run_runtime(data, batches, "tflm", max(1 << 22, 16 * len(data)), stream,
                                masks, mask_plan)
    if measure_arena:
        result["arena"] = measure_tflm_arena(
            data, batches[0], stream=stream,
            mask=None if masks is None else masks[0], mask_plan=mask_plan)
    other = run_runtime(data, batches, "litert", None, stream, masks, mask_plan)
    # Quantisation steps between runtimes: raw int8 outputs differ by whole steps; for float
    # outputs this is the absolute difference.
    result["steps"] = float(np.max(np.abs(result["raw"].astype(np.float64)
                                          - other.astype(np.float64))))
    return result


def verify(
    tflite_bytes: bytes,
    model,
    inputs,
    *,
    runtime: str = "litert",
    labels=None,
    measure_arena: bool = True,
) -> VerifyReport:
    """Run ``tflite_bytes`` in ``runtime`` and compare with ``model`` (Keras) on ``inputs``.

    Args:
        tflite_bytes: from :func:`to_tflite` (whole-sequence, masked or ``streaming=True``).
        model: the Keras model it came from (pruning wrappers and mixed precision are fine:
            the reference is the same float32 model that was converted; a Keras 3 model's
            reference is its tf_keras twin, checked against it to 1e-5).
        inputs: array ``(samples, T, F)`` (token ids ``(samples, T)`` after an Embedding);
            int8 models get them quantised here; a streaming model gets them one step a call.
        runtime: ``"litert"`` (``ai_edge_litert``), ``"tflm"`` (the TFLM Python runtime) or
            ``"tflm-cortex-m4"`` (TFLM with CMSIS-NN on an emulated Cortex-M4, int8 only).
        labels: optional integer labels, to report Keras and runtime accuracy.
        measure_arena: for TFLM, binary-search the smallest arena (a few seconds).

    Raises:
        UnsupportedError: a dynamic-range (hybrid) or float16 model on TFLM, or ops TFLM lacks.
        ChildProcessCrash / ExportError: the runtime crashed or failed.
    """
    model = as_keras2(model)
    data = check_bytes(tflite_bytes)
    check_flag(measure_arena, "measure_arena")
    kind, ops = quantization_of(data), list_ops(data)
    missing = [op for op in ops if op not in tflm_supported_ops()]
    _check_runtime(runtime, kind, missing)
    stream, mask_plan = stream_plan(data), masking.mask_plan(data)
    x = np.asarray(inputs)
    x = x if x.dtype.kind in "iu" else x.astype(np.float32)
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != len(x):
            raise ValueError(f"`labels` has {len(labels)} entries for {len(x)} `inputs`.")
    reference_model, _ = prepared(model, x, 1, unroll=False)
    prepared_inputs = _inputs(data, x, reference_model, stream, mask_plan)
    reference = np.asarray(reference_model.predict(x, verbose=0, batch_size=256), np.float64)
    if stream is not None:
        stream = {**stream, "every_step": reference.ndim == 3}
    try:
        result = _run(data, prepared_inputs, runtime, stream, mask_plan, measure_arena)
    except ExportError as error:
        if kind == "float16" and runtime != "litert":
            raise UnsupportedError(
                "float16 models do not run in TFLM (its DEQUANTIZE kernel has no float16 "
                "input). Use quantization='int8' or 'float32' for microcontrollers.\n" + str(error)
            ) from error
        raise
    y_info = stream["y_info"] if stream else tensor_info(data, "output", 0)
    if result["mcu"]:  # run_tflm returns dequantised outputs
        out = result["mcu"]["outputs"][:len(x)].reshape(reference.shape)
    else:
        out = dequantize_outputs(y_info, result["raw"], len(x)).reshape(reference.shape)
    width = reference.shape[-1]
    if labels is not None:
        labels = labels.reshape(-1)
    max_abs_diff, agreement, keras_acc, runtime_acc = compare_outputs(
        reference.reshape(-1, width), out.reshape(-1, width), labels)
    mcu = result["mcu"] or {}
    return VerifyReport(
        target=runtime, quantization=kind, samples=len(x), max_abs_diff=max_abs_diff,
        argmax_agreement=agreement, keras_accuracy=keras_acc, runtime_accuracy=runtime_acc,
        model_bytes=len(data), code_bytes=mcu.get("code_bytes"),
        arena_bytes=mcu.get("arena_bytes", result["arena"]),
        instructions_per_inference=mcu.get("instructions_per_inference"), ops=ops,
        ops_missing_in_tflm=missing, max_steps_vs_litert=result["steps"],
        streaming=stream is not None,
    )
