"""The one module that reaches into TF-MOT's internals; everything else imports from here.

TF-MOT's public API (``tfmot.sparsity.keras``) exports neither the wrapper class we subclass
(``PruneLowMagnitude``), nor ``PrunableLayer``'s module path we mix in, nor the ``Pruning``
object whose mask computation we run per weight.  Their internal paths and the one private
method we call (``Pruning._maybe_update_block_mask``, TF-MOT 0.8) are named here only, so a
TF-MOT upgrade that moves them breaks one file.
"""

from __future__ import annotations

from tf_expander_pruning.core.keras_compat import tf

# isort: split
# TF-MOT must be imported after keras_compat has selected Keras 2.
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl
from tensorflow_model_optimization.python.core.sparsity.keras.prunable_layer import PrunableLayer
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)

__all__ = ["PruneLowMagnitude", "PrunableLayer", "Pruning", "block_mask_update"]

#: TF-MOT's per-wrapper pruning logic (mask computation, ``weight_mask_op``, summaries).
Pruning = pruning_impl.Pruning


def block_mask_update(pruning: Pruning, weight: tf.Variable) -> tuple[tf.Tensor, tf.Tensor]:
    """``(new_threshold, new_mask)`` of ``weight`` under ``pruning``'s schedule sparsity.

    TF-MOT computes it in ``Pruning._maybe_update_block_mask`` (block pooling, threshold by
    magnitude); re-implementing it would drift from TF-MOT's masks, so we call it here.
    """
    return pruning._maybe_update_block_mask(weight)  # noqa: SLF001 - the one documented use
