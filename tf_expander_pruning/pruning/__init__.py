"""Pruning layer: freezable schedules and the TF-MOT wrapper for recurrent layers.

Imports only the analysis layer and ``core``.  Every public name of the layer is imported here
from the module that defines it: ``schedules`` (:class:`GeometricSchedule`, :class:`Freezable`),
``recurrent_layers`` (what can be wrapped), ``tfmot_adapter`` (the only use of TF-MOT
internals), ``per_weight`` (one schedule per matrix), ``step_gate`` (one step per optimizer
step), ``recurrent`` (:class:`PruneRecurrent`) and ``model_ops`` (:func:`prune_rnn`,
:func:`strip_pruning`, :func:`pruned_weights`).

TF-MOT's ``prune_low_magnitude`` drives every prunable weight of a layer from one schedule and
names every mask of a wrapper ``mask`` (which breaks ``.h5``/``.keras`` saving of pruned RNNs,
TF-MOT issue 1077).  :class:`PruneRecurrent` fixes both; because it subclasses
``PruneLowMagnitude``, TF-MOT's ``UpdatePruningStep``, ``PruningSummaries`` and
``strip_pruning`` treat it like their own wrapper.
"""

import sys as _sys

from tf_expander_pruning.core.cells import ROLES, check_roles
from tf_expander_pruning.pruning.model_ops import prune_rnn, pruned_weights, strip_pruning
from tf_expander_pruning.pruning.recurrent import PrunedWeight, PruneRecurrent
from tf_expander_pruning.pruning.recurrent_layers import PrunableBidirectional, is_recurrent_layer
from tf_expander_pruning.pruning.schedules import Freezable, GeometricSchedule
from tf_expander_pruning.pruning.step_callback import UpdatePruningStep

if "keras" in _sys.modules:  # Keras 3 is loaded: register its wrapper for keras.saving
    import tf_expander_pruning.pruning.keras3.wrapper  # noqa: F401

__all__ = [
    "ROLES",
    "Freezable",
    "GeometricSchedule",
    "PrunedWeight",
    "PruneRecurrent",
    "PrunableBidirectional",
    "UpdatePruningStep",
    "prune_rnn",
    "strip_pruning",
    "pruned_weights",
    "is_recurrent_layer",
    "check_roles",
]
