"""Constraint layer: the ``RamanujanConstraint`` Keras callback that freezes a layer's sparsity.

Imports the pruning and analysis layers and ``core``, never deployment or research.
"""

from tf_expander_pruning.constraint.callback import (  # noqa: F401
    CRITERIA,
    HISTORY_FIELDS,
    UNDEFINED_POLICIES,
    RamanujanConstraint,
)

__all__ = ["RamanujanConstraint", "HISTORY_FIELDS", "UNDEFINED_POLICIES", "CRITERIA"]
