"""Magnitude pruning of recurrent layers with one freezable schedule per weight matrix.

This module is the public path the rest of the package and older code import from
(``tf_expander_pruning.pruning.wrapper.prune_rnn``, ...).  The pieces live in small modules:
``roles`` (which matrices, gate layout), ``recurrent_layers`` (what can be wrapped),
``tfmot_adapter`` (the only use of TF-MOT internals), ``per_weight`` (one schedule per
matrix), ``step_gate`` (one step per optimizer step), ``recurrent`` (:class:`PruneRecurrent`)
and ``model_ops`` (:func:`prune_rnn`, :func:`strip_pruning`, :func:`pruned_weights`).

TF-MOT's ``prune_low_magnitude`` drives every prunable weight of a layer from one schedule and
names every mask of a wrapper ``mask`` (which breaks ``.h5``/``.keras`` saving of pruned RNNs,
TF-MOT issue 1077).  :class:`PruneRecurrent` fixes both; because it subclasses
``PruneLowMagnitude``, TF-MOT's ``UpdatePruningStep``, ``PruningSummaries`` and
``strip_pruning`` treat it like their own wrapper; ``wrapper.pruning_vars`` is the usual list of
``(weight, mask, threshold)`` in ``get_prunable_weights()`` order (restricted to the chosen
roles) and ``wrapper.layer`` is the wrapped layer.
"""

from __future__ import annotations

from tf_expander_pruning.pruning.model_ops import prune_rnn, pruned_weights, strip_pruning
from tf_expander_pruning.pruning.recurrent import PrunedWeight, PruneRecurrent
from tf_expander_pruning.pruning.recurrent_layers import PrunableBidirectional, is_recurrent_layer
from tf_expander_pruning.pruning.roles import GATES, ROLES, check_roles

# Transitional alias: the constraint layer imported the old private name; new code uses
# `check_roles` (public, in pruning.roles).  Remove once no module uses it.
_check_roles = check_roles

__all__ = [
    "ROLES",
    "GATES",
    "PrunedWeight",
    "PruneRecurrent",
    "PrunableBidirectional",
    "prune_rnn",
    "strip_pruning",
    "pruned_weights",
    "is_recurrent_layer",
    "check_roles",
]
