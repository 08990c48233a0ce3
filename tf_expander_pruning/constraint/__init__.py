"""Constraint layer: the ``RamanujanConstraint`` Keras callback that freezes a layer's sparsity.

A package of small pieces wired by :mod:`.callback`: :mod:`.decisions` (every freeze decision:
the spectral rule, the validation guard, the knee search), :mod:`.stages` (the two tests, which
gather the measurements and apply those decisions), :mod:`.criterion` (the spectral verdict),
:mod:`.watcher` (which masks changed), :mod:`.runner` (analysis, multi-worker reduction),
:mod:`.policy` (freeze, roll back, keep frozen across weight restores), :mod:`.sinks` (log, CSV,
TensorBoard), :mod:`.report` (results and summary).  Imports the pruning and analysis layers
and ``core``, never deployment or research.
"""

from tf_expander_pruning.constraint.callback import (  # noqa: F401
    CRITERIA,
    HISTORY_FIELDS,
    UNDEFINED_POLICIES,
    RamanujanConstraint,
)

__all__ = ["RamanujanConstraint", "HISTORY_FIELDS", "UNDEFINED_POLICIES", "CRITERIA"]
