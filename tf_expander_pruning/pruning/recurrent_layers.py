"""The recurrent layers :func:`~tf_expander_pruning.pruning.prune_rnn` can wrap (tf_keras)."""

from __future__ import annotations

from collections.abc import Callable

from tf_expander_pruning.core.cells import ROLES, cell_kind
from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.pruning.tfmot_adapter import PrunableLayer

__all__ = ["PrunableBidirectional", "is_recurrent_layer", "rnn_prunable_weights"]


def _supported_rnn(layer) -> bool:
    return (
        isinstance(layer, keras.layers.RNN)
        and not isinstance(layer.cell, keras.layers.StackedRNNCells)
        and cell_kind(layer.cell) is not None
    )


def is_recurrent_layer(layer: keras.layers.Layer) -> bool:
    """True for SimpleRNN / LSTM / GRU (or ``RNN`` over one such cell) and ``Bidirectional``
    around them: the layers :func:`prune_rnn` wraps."""
    if isinstance(layer, keras.layers.Bidirectional):
        return _supported_rnn(layer.forward_layer) and _supported_rnn(layer.backward_layer)
    return _supported_rnn(layer)


class PrunableBidirectional(keras.layers.Bidirectional, PrunableLayer):
    """``Bidirectional`` that TF-MOT can prune: forward and backward kernels are prunable.

    TF-MOT's prune registry has no entry for ``Bidirectional`` (TF-MOT issues 39, 374); its
    ``PrunableLayer`` interface is the supported way in.  Order of
    :meth:`get_prunable_weights`: forward kernel, forward recurrent_kernel, backward kernel,
    backward recurrent_kernel.
    """

    def get_prunable_weights(self) -> list:
        weights = []
        for sub in (self.forward_layer, self.backward_layer):
            weights.extend(getattr(sub.cell, attr) for attr in ROLES.values())
        return weights


def rnn_prunable_weights(layer) -> Callable[[], list]:
    """A ``get_prunable_weights`` for an RNN layer: its cell's kernel and recurrent_kernel.

    Our own accessor (instead of TF-MOT's registry, which only accepts the exact LSTM/GRU/
    SimpleRNN/RNN classes) so subclasses of those layers can be pruned too.
    """

    def get_prunable_weights():
        return [getattr(layer.cell, attr) for attr in ROLES.values()]

    return get_prunable_weights
