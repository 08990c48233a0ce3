"""The public entry point :func:`to_c` and its result, :class:`CModel`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tf_expander_pruning.core.formatting import MISSING
from tf_expander_pruning.core.quantization import C_QUANTIZATIONS, normalize_quantization
from tf_expander_pruning.core.validation import check_choice, check_flag, check_int, check_real
from tf_expander_pruning.deployment.codegen.assemble import generate
from tf_expander_pruning.deployment.codegen.packing import FORMATS, PackedMatrix
from tf_expander_pruning.deployment.codegen.spec import parse_model, strip_wrappers
from tf_expander_pruning.deployment.keras3_twin import as_keras2

__all__ = ["CModel", "to_c", "c_quantization"]


@dataclass
class CModel:
    """Generated C for one model.  ``header``/``source`` are the text of ``NAME.h``/``NAME.c``.

    Sizes: ``flash_bytes`` = every ``const`` array (weight values, indices, row pointers, int8
    row scales or integer multipliers and shifts, biases, activation tables);
    ``weight_bytes`` = values + indices + row pointers only; ``ram_bytes`` = every ``static``
    buffer (recurrent states, gate scratch, vector scratch, sequence buffers for Bidirectional,
    Dense ping-pong buffers).  The code itself (text) is not counted in either: it depends on
    the compiler (``codegen.verify(..., target="cortex-m4")`` measures it).

    ``streaming``: ``NAME_reset``/``NAME_step`` exist (no Bidirectional layer).
    ``integer_only``: the API is ``NAME_predict_q``/``NAME_step_q`` with int8 inputs
    (``x_q = round(x / input_scale)``) and Q16 int32 outputs; no floating point anywhere.
    """

    name: str
    quantization: str
    header: str
    source: str
    flash_bytes: int
    weight_bytes: int
    ram_bytes: int
    ram_buffers: dict[str, int]
    flash_arrays: dict[str, int]
    matrices: list[PackedMatrix]
    n_features: int
    n_outputs: int
    timesteps: int | None
    max_steps: int
    streaming: bool = False
    integer_only: bool = False
    input_scale: float | None = None
    masking: bool = False

    def write(self, directory: str | os.PathLike) -> list[Path]:
        """Write ``NAME.h`` and ``NAME.c`` into ``directory`` (created); return their paths.

        Files of the same names already in ``directory`` are overwritten; ``directory`` itself
        must not be an existing file (``ValueError`` naming the way out).
        """
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError("`directory` must be a folder path (str or pathlib.Path), got "
                            f"{type(directory).__name__} {directory!r}.")
        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise ValueError(
                f"`directory` {str(out)!r} is an existing file, not a folder: write() puts "
                f"{self.name}.h and {self.name}.c into a folder. Pass a folder (e.g. "
                f"{str(out.parent)!r}, or a new path) or remove the file "
                f"(tf-expander codegen: --out is that folder)."
            )
        out.mkdir(parents=True, exist_ok=True)
        h, c = out / f"{self.name}.h", out / f"{self.name}.c"
        h.write_text(self.header)
        c.write_text(self.source)
        return [h, c]

    def quantize_inputs(self, x: np.ndarray) -> np.ndarray:
        """int8 inputs for the integer-only API: ``clip(round(x / input_scale), -127, 127)``."""
        if not self.integer_only:
            raise ValueError(f"C model {self.name!r} takes float inputs (integer_only=False).")
        q = np.round(np.asarray(x, np.float64) / self.input_scale)
        return np.clip(q, -127, 127).astype(np.int8)

    def summary(self) -> str:
        """Human-readable table of matrices, formats and sizes."""
        kind = "integer only" if self.integer_only else self.quantization
        lines = [
            f"{self.name}: {kind}, flash {self.flash_bytes} B "
            f"(weights+indices {self.weight_bytes} B), static RAM {self.ram_bytes} B",
            f"  {'matrix':<18}{'layer':<16}{'shape':>10}{'sparsity':>10}{'format':>7}"
            f"{'bytes':>8}  (dense / csr / bcsr / bitmap)",
        ]
        for m in self.matrices:
            cands = " / ".join(str(m.candidate_bytes.get(f, MISSING))
                               for f in ("dense", "csr", "bcsr", "bitmap"))
            lines.append(
                f"  {m.name:<18}{m.layer[:15]:<16}{f'{m.rows}x{m.cols}':>10}"
                f"{m.sparsity:>10.1%}{m.format:>7}{m.weight_bytes:>8}  ({cands})"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def c_quantization(quantization, integer_only) -> tuple[str, bool]:
    """``(weight quantization, integer_only)`` from ``to_c``'s two arguments.

    ``quantization`` is one of :data:`~tf_expander_pruning.core.quantization.C_QUANTIZATIONS`
    (old spellings warn); ``"int8-integer"`` is ``"int8"`` with ``integer_only=True``.
    """
    check_flag(integer_only, "integer_only")
    quantization = normalize_quantization(quantization, "quantization", C_QUANTIZATIONS)
    if quantization == "int8-integer":
        return "int8", True
    return quantization, bool(integer_only)


def _check_arguments(quantization, name, sparse_format, max_steps, integer_only,
                     input_scale) -> None:
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise ValueError(f"`name` must be a C identifier, got {name!r}.")
    check_choice(sparse_format, "sparse_format", FORMATS)
    check_int(max_steps, "max_steps", minimum=1, allow_none=True)
    check_real(input_scale, "input_scale", minimum=0.0, open_interval=True, allow_none=True)
    if integer_only and quantization != "int8":
        raise ValueError("integer_only=True needs quantization='int8' (float32 weights need "
                         "floating point).")
    if integer_only and input_scale is None:
        raise ValueError("integer_only=True needs `input_scale`: the real value of one int8 "
                         "input step, e.g. max|x| / 127 over representative inputs "
                         "(codegen.verify computes it from its inputs).")


def to_c(
    model,
    *,
    quantization: str = "int8",
    name: str = "model",
    sparse_format: str = "auto",
    max_steps: int | None = None,
    integer_only: bool = False,
    input_scale: float | None = None,
) -> CModel:
    """Generate a dependency-free C99 header/source pair running ``model``.

    Args:
        model: a tf_keras model: a linear chain of an optional ``Masking`` layer,
            SimpleRNN/LSTM/GRU/Bidirectional layers (all but the last with
            ``return_sequences=True``) and Dense layers.  Pruning wrappers are stripped first.
            A Keras 3 model (any backend) is read through its tf_keras twin
            (:func:`~tf_expander_pruning.deployment.keras3_twin.keras2_twin`: same weights).
        quantization: ``"int8"`` (per-row weight scales, int32 accumulation), ``"float32"``, or
            ``"int8-integer"`` (the same as ``"int8"`` with ``integer_only=True``).  The old
            spellings ``None`` and ``"fp32"`` mean ``"float32"`` (with a DeprecationWarning).
        name: C identifier prefix; files are ``NAME.h``/``NAME.c``; entry points
            ``NAME_predict``, ``NAME_reset`` and (without Bidirectional) ``NAME_step``.
        sparse_format: ``"auto"`` (smallest per matrix) or force ``"dense"``, ``"csr"``,
            ``"bcsr"`` or ``"bitmap"``.
        max_steps: longest sequence, needed only for sequence buffers around Bidirectional
            layers; defaults to the model's fixed time dimension.
        integer_only: no floating-point operation in the C (for cores without an FPU):
            Q16 fixed-point activations, integer requantisation, int8 inputs and Q16 outputs
            (``NAME_predict_q``/``NAME_step_q``).  Needs ``quantization="int8"``; the
            report names it ``"int8-integer"``.
        input_scale: with ``integer_only``: the real value of one int8 input step.

    Returns:
        :class:`CModel` with ``header``, ``source``, ``write(directory)`` and the sizes.

    Raises:
        ValueError: an unsupported layer or configuration (the message names the layer).
        TypeError: not a Keras model, or an argument of the wrong type.
    """
    model = as_keras2(model)
    quantization, integer_only = c_quantization(quantization, integer_only)
    _check_arguments(quantization, name, sparse_format, max_steps, integer_only, input_scale)
    spec = parse_model(strip_wrappers(model), quantization, sparse_format)
    gen = generate(spec, name=name, quantization=quantization, integer_only=integer_only,
                   input_scale=input_scale, max_steps=max_steps or spec.timesteps)
    return CModel(
        name=name, quantization=quantization, header=gen.header, source=gen.source,
        flash_bytes=gen.flash_bytes, weight_bytes=sum(m.weight_bytes for m in spec.matrices),
        ram_bytes=gen.ram_bytes, ram_buffers=gen.ram_buffers, flash_arrays=gen.flash_arrays,
        matrices=spec.matrices, n_features=spec.n_features, n_outputs=spec.n_outputs,
        timesteps=spec.timesteps, max_steps=gen.max_steps, streaming=gen.streamable,
        integer_only=integer_only, input_scale=float(input_scale) if integer_only else None,
        masking=spec.mask_value is not None,
    )
