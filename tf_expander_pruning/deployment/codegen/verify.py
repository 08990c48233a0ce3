"""``codegen.verify``: run the generated C on inputs and compare it with Keras.

``target="host"`` compiles with the system compiler; ``"cortex-m4"`` and ``"cortex-m0"`` build a
bare-metal image and run it in QEMU through :mod:`tf_expander_pruning.deployment.mcu`.
"""

from __future__ import annotations

import numpy as np

from tf_expander_pruning.core.validation import check_choice
from tf_expander_pruning.deployment.codegen.assemble import input_scale_from
from tf_expander_pruning.deployment.codegen.cmodel import CModel, c_quantization, to_c
from tf_expander_pruning.deployment.codegen.host import compile_c
from tf_expander_pruning.deployment.codegen.spec import strip_wrappers
from tf_expander_pruning.deployment.keras3_twin import as_keras2, is_keras3_model, strip_keras3
from tf_expander_pruning.deployment.report import VerifyReport, compare_outputs

__all__ = ["verify", "TARGETS", "run_c_model"]

TARGETS = ("host", "cortex-m4", "cortex-m0")


def run_c_model(c_model: CModel, inputs: np.ndarray, target: str = "host") -> tuple[
        np.ndarray, dict]:
    """Outputs of the C model on ``inputs`` (float, dequantised) and what the run measured.

    The dict holds ``flash_bytes``, ``ram_bytes``, ``code_bytes`` and
    ``instructions_per_inference`` for an MCU target (empty for the host).
    """
    check_choice(target, "target", TARGETS)
    if target == "host":
        compiled = compile_c(c_model)
        try:
            return compiled.predict(inputs).astype(np.float64), {}
        finally:
            compiled.close()
    from tf_expander_pruning.deployment.codegen.on_mcu import run_on_mcu

    return run_on_mcu(c_model, inputs, target)


def verify(
    model,
    inputs: np.ndarray,
    *,
    quantization: str = "int8",
    labels: np.ndarray | None = None,
    name: str = "model",
    sparse_format: str = "auto",
    c_model: CModel | None = None,
    target: str = "host",
    integer_only: bool = False,
) -> VerifyReport:
    """Generate (or take) the C for ``model``, run it on ``inputs`` and compare with Keras.

    ``target``: ``"host"`` (system compiler, default), ``"cortex-m4"`` or ``"cortex-m0"``
    (bare-metal image in QEMU: adds ``flash_bytes``/``ram_bytes`` of the linked model code and
    data, ``code_bytes`` and ``instructions_per_inference``).  ``quantization`` as in
    :func:`~.cmodel.to_c`; ``integer_only`` (or ``quantization="int8-integer"``): generate
    integer-only C with ``input_scale = max|inputs| / 127``.

    Returns a :class:`~tf_expander_pruning.deployment.report.VerifyReport`: ``max_abs_diff``
    (C vs Keras outputs), ``argmax_agreement``, ``model_bytes`` (weights + indices),
    ``flash_bytes``, ``ram_bytes`` and, with ``labels``, ``keras_accuracy`` and
    ``runtime_accuracy``.  A Keras 3 ``model`` (any backend) is compared with its own
    predictions; the C comes from its tf_keras twin (same weights).
    """
    reference = strip_keras3(model) if is_keras3_model(model) else None
    model = as_keras2(model)
    check_choice(target, "target", TARGETS)
    quantization, integer_only = c_quantization(quantization, integer_only)
    stripped = strip_wrappers(model)
    reference = stripped if reference is None else reference  # a Keras 3 model answers itself
    x = np.asarray(inputs, dtype=np.float32)
    if c_model is None:
        scale = input_scale_from(x) if integer_only else None
        c_model = to_c(stripped, quantization=quantization, name=name,
                       sparse_format=sparse_format, integer_only=integer_only, input_scale=scale)
    expected = np.asarray(reference.predict(x, verbose=0), dtype=np.float64)
    got, measured = run_c_model(c_model, x, target)
    max_abs_diff, agreement, keras_accuracy, c_accuracy = compare_outputs(expected, got, labels)
    return VerifyReport(
        target=target,
        quantization="int8-integer" if c_model.integer_only else c_model.quantization,
        samples=len(x),
        max_abs_diff=max_abs_diff,
        argmax_agreement=agreement,
        keras_accuracy=keras_accuracy,
        runtime_accuracy=c_accuracy,
        model_bytes=c_model.weight_bytes,
        flash_bytes=measured.get("flash_bytes", c_model.flash_bytes),
        ram_bytes=measured.get("ram_bytes", c_model.ram_bytes),
        code_bytes=measured.get("code_bytes"),
        instructions_per_inference=measured.get("instructions_per_inference"),
        streaming=False,
    )
