"""Ship pruned recurrent models: TFLite conversion, LiteRT/TFLM checks, C arrays, honest sizes.

Why the unusual machinery (see docs/deploy.md):

* ``TFLiteConverter.from_keras_model`` fails on recurrent models; a *fixed-shape* concrete
  function converts (:mod:`.conversion`).
* Full-int8 calibration of a ``WHILE`` loop segfaults inside the converter and takes the whole
  Python process with it, so int8 conversion runs in a child process that lives on between
  conversions (:mod:`.converter_service`, :mod:`.int8_child`), and GRU/SimpleRNN are rebuilt
  with ``unroll=True`` first (:mod:`.preparation`).
* LiteRT and TFLM also run in child processes (:mod:`.runtime_child`): TFLM segfaults when the
  arena is too small, and :mod:`.runtimes` measures the smallest arena by trying smaller ones.
* ``streaming=True`` writes a one-time-step model (:mod:`.streaming`) built from constant
  per-gate weight slices (:mod:`.cell_steps`), which TFLM runs in float and int8; masked models
  are exported the same way, with the mask as an input (:mod:`.masking`).

Public API: :func:`to_tflite`, :func:`verify`, :func:`to_c_array`, :func:`size_report`,
:func:`compact`, :func:`deployment_table`, plus the helpers :func:`list_ops`,
:func:`tflm_supported_ops`, :func:`quantization_of`, :func:`measure_tflm_arena`,
:func:`parameter_counts` and :func:`strip`.
"""

from __future__ import annotations

from tf_expander_pruning.deployment.export.c_array import CArray, to_c_array
from tf_expander_pruning.deployment.export.compaction import compact
from tf_expander_pruning.deployment.export.conversion import to_tflite
from tf_expander_pruning.deployment.export.converter import QUANTIZATIONS
from tf_expander_pruning.deployment.export.errors import (
    ChildProcessCrash,
    ExportError,
    UnsupportedError,
)
from tf_expander_pruning.deployment.export.flatbuffer import (
    list_ops,
    quantization_of,
    tflm_supported_ops,
)
from tf_expander_pruning.deployment.export.preparation import strip
from tf_expander_pruning.deployment.export.runtimes import measure_tflm_arena
from tf_expander_pruning.deployment.export.sizes import (
    DeploymentTable,
    SizeReport,
    deployment_table,
    parameter_counts,
    size_report,
)
from tf_expander_pruning.deployment.export.verification import MCU_RUNTIMES, RUNTIMES, verify
from tf_expander_pruning.deployment.report import VerifyReport

__all__ = [
    "QUANTIZATIONS",
    "RUNTIMES",
    "MCU_RUNTIMES",
    "ExportError",
    "ChildProcessCrash",
    "UnsupportedError",
    "VerifyReport",
    "CArray",
    "SizeReport",
    "DeploymentTable",
    "to_tflite",
    "verify",
    "to_c_array",
    "size_report",
    "compact",
    "deployment_table",
    "list_ops",
    "measure_tflm_arena",
    "parameter_counts",
    "tflm_supported_ops",
    "quantization_of",
    "strip",
]
