"""One report shape for every deployment check: TFLite runtimes and generated C, host or MCU.

:func:`tf_expander_pruning.export.verify` and :func:`tf_expander_pruning.codegen.verify` both
return a :class:`VerifyReport` with the same field names; a field that does not apply to a target
is ``None`` (printed as ``-``).  NumPy only; no TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tf_expander_pruning.core.formatting import format_value

__all__ = ["VerifyReport", "compare_outputs"]


@dataclasses.dataclass
class VerifyReport:
    """What running a deployed model showed, against the Keras model on the same inputs.

    Attributes:
        target: where it ran: ``"litert"``, ``"tflm"``, ``"tflm-cortex-m4"`` (TFLite), or
            ``"host"``, ``"cortex-m4"``, ``"cortex-m0"`` (generated C).
        quantization: in the vocabulary of :mod:`tf_expander_pruning.core.quantization`:
            how the flatbuffer stores it, ``"float32"``, ``"dynamic"``, ``"float16"``,
            ``"weights-int8"``, ``"int8"`` (TFLite), or ``"float32"``, ``"int8"``,
            ``"int8-integer"`` (C).
        samples: number of input sequences compared.
        max_abs_diff: largest ``|deployed - keras|`` over all outputs (dequantised).
        argmax_agreement: fraction of samples whose predicted class matches Keras.
        keras_accuracy / runtime_accuracy: accuracies against ``labels`` (``None`` without).
        model_bytes: flatbuffer size (TFLite) or weight + index bytes (C).
        flash_bytes / ram_bytes: code + constant data / static RAM of the deployed program.
        code_bytes: runtime code alone (TFLM library text from the link map; C: model code).
        arena_bytes: smallest TFLM tensor arena that ran the model (TFLM only).
        instructions_per_inference: instructions retired per inference on the emulated core.
        ops / ops_missing_in_tflm: flatbuffer operators (TFLite only).
        max_steps_vs_litert: TFLM vs LiteRT, in output quantisation steps (int8) or absolute.
        streaming: the deployed model takes one time step per call.
    """

    target: str
    quantization: str
    samples: int
    max_abs_diff: float
    argmax_agreement: float
    keras_accuracy: float | None = None
    runtime_accuracy: float | None = None
    model_bytes: int | None = None
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    code_bytes: int | None = None
    arena_bytes: int | None = None
    instructions_per_inference: int | None = None
    ops: list[str] = dataclasses.field(default_factory=list)
    ops_missing_in_tflm: list[str] = dataclasses.field(default_factory=list)
    max_steps_vs_litert: float | None = None
    streaming: bool = False

    # Names used before the two reports were one shape; read-only aliases.
    @property
    def runtime(self) -> str:
        return self.target

    @property
    def n_sequences(self) -> int:
        return self.samples

    @property
    def flatbuffer_bytes(self) -> int | None:
        return self.model_bytes

    @property
    def weight_bytes(self) -> int | None:
        return self.model_bytes

    @property
    def c_accuracy(self) -> float | None:
        return self.runtime_accuracy

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of the fields."""
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        parts = [
            f"{self.target} {self.quantization}{' streaming' if self.streaming else ''} "
            f"on {self.samples} samples: max|diff|={self.max_abs_diff:.3g}",
            f"argmax agreement={self.argmax_agreement:.1%}",
        ]
        if self.runtime_accuracy is not None:
            parts.append(f"accuracy={self.runtime_accuracy:.1%} (Keras {self.keras_accuracy:.1%})")
        for label, value in (("model", self.model_bytes), ("flash", self.flash_bytes),
                             ("RAM", self.ram_bytes), ("code", self.code_bytes),
                             ("arena", self.arena_bytes)):
            if value is not None:
                parts.append(f"{label}={format_value(value)} B")
        if self.instructions_per_inference is not None:
            parts.append(f"instructions/inference={self.instructions_per_inference:,}")
        if self.max_steps_vs_litert is not None:
            parts.append(f"vs LiteRT={self.max_steps_vs_litert:g}")
        return ", ".join(parts)


def compare_outputs(reference, outputs, labels=None):
    """``(max |outputs - reference|, argmax agreement, reference accuracy, outputs accuracy)``.

    ``reference`` and ``outputs`` are ``(samples, classes)`` arrays; the accuracies are ``None``
    without ``labels`` (``(samples,)`` integer classes).
    """
    reference = np.asarray(reference, dtype=np.float64)
    outputs = np.asarray(outputs, dtype=np.float64)
    if reference.shape != outputs.shape:
        raise ValueError(
            f"Deployed outputs have shape {outputs.shape}, Keras outputs {reference.shape}."
        )
    expected, predicted = np.argmax(reference, axis=-1), np.argmax(outputs, axis=-1)
    max_abs_diff = float(np.max(np.abs(outputs - reference))) if outputs.size else 0.0
    agreement = float(np.mean(predicted == expected))
    if labels is None:
        return max_abs_diff, agreement, None, None
    labels = np.asarray(labels).reshape(expected.shape)
    return (max_abs_diff, agreement, float(np.mean(expected == labels)),
            float(np.mean(predicted == labels)))
