"""Sparse C99 inference code for pruned recurrent Keras models (microcontroller deployment).

TFLite and TFLM store pruned recurrent weights densely, so on a device the pruning saves nothing.
:func:`to_c` turns the *stripped* model into a dependency-free C99 source/header pair whose weight
matrices are stored in whichever of dense, CSR or blocked CSR (1x4 blocks) is smallest, matrix by
matrix, and :func:`verify` runs that C (host compiler, or a Cortex-M core in QEMU) and compares
it with Keras.

Numerics (see docs/codegen.md):

* ``quantization="float32"``: float weights, float arithmetic.  Agrees with Keras to ~1e-6.
* ``quantization="int8"``: int8 weights with one scale per output row; each vector is quantised
  to int8 (max-abs / 127) at every product, int32 accumulation, float rescale; gates, cell state
  and activations in float (MCUs with an FPU).
* ``quantization="int8-integer"`` (or ``"int8", integer_only=True``): no floating-point
  operation at all (Cortex-M0): Q16 fixed-point values, int16 vectors with a power-of-two shift
  at every product, int32 multipliers and shifts for the rescale, table-based tanh/sigmoid/exp.

The package: :mod:`.packing` (storage formats), :mod:`.spec` (model walk), :mod:`.plan` (the
buffer plan), :mod:`.cell_code` (one emitter per cell kind), :mod:`.program` (predict, reset,
step, Dense head), :mod:`.kernels`, :mod:`.activations`, :mod:`.assemble`, :mod:`.cmodel`
(:func:`to_c`), :mod:`.host` (:func:`compile_c` and call), :mod:`.verify`.
"""

from __future__ import annotations

from tf_expander_pruning.deployment.codegen.activations import (
    ACTIVATION_C,
    EXP_MAX_REL_ERROR,
    INTEGER_ACTIVATION_C,
    QEXP_MAX_ABS_ERROR,
    QSIGMOID_MAX_ABS_ERROR,
    QTANH_MAX_ABS_ERROR,
    SIGMOID_MAX_ABS_ERROR,
    TANH_MAX_ABS_ERROR,
    integer_activation_c,
)
from tf_expander_pruning.deployment.codegen.cmodel import CModel, to_c
from tf_expander_pruning.deployment.codegen.host import CompiledModel, compile_c, compile_model
from tf_expander_pruning.deployment.codegen.packing import PackedMatrix, pack_matrix
from tf_expander_pruning.deployment.codegen.spec import SUPPORTED_LAYERS
from tf_expander_pruning.deployment.codegen.verify import TARGETS, run_c_model, verify
from tf_expander_pruning.deployment.report import VerifyReport

__all__ = [
    "to_c",
    "verify",
    "compile_c",
    "compile_model",  # deprecated name of compile_c
    "run_c_model",
    "pack_matrix",
    "CModel",
    "CompiledModel",
    "PackedMatrix",
    "VerifyReport",
    "TARGETS",
    "ACTIVATION_C",
    "INTEGER_ACTIVATION_C",
    "integer_activation_c",
    "TANH_MAX_ABS_ERROR",
    "SIGMOID_MAX_ABS_ERROR",
    "EXP_MAX_REL_ERROR",
    "QTANH_MAX_ABS_ERROR",
    "QSIGMOID_MAX_ABS_ERROR",
    "QEXP_MAX_ABS_ERROR",
    "SUPPORTED_LAYERS",
]

# The keyword-spotting audio front end as C (docs/codegen.md, "Audio front end").
from tf_expander_pruning.deployment.codegen.frontend import CFrontend, frontend_to_c  # noqa: E402

__all__ += ["frontend_to_c", "CFrontend"]
