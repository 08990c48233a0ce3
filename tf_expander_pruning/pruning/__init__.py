"""Pruning layer: freezable schedules and the TF-MOT wrapper for recurrent layers.

Imports only the analysis layer and ``core``.  ``tf_expander_pruning.pruning`` keeps the public
names it always had (``prune_rnn``, ``PruneRecurrent``, ``strip_pruning``, ...).
"""

from tf_expander_pruning.pruning.wrapper import (  # noqa: F401
    GATES,
    ROLES,
    PrunableBidirectional,
    PrunedWeight,
    PruneRecurrent,
    __all__,  # noqa: F401
    check_roles,
    is_recurrent_layer,
    prune_rnn,
    pruned_weights,
    strip_pruning,
)
