"""A Keras model's recurrent weight matrices as named bipartite graphs.

Every recurrent cell has two weight graphs: ``W_xh`` (``kernel``, inputs -> hidden units) and
``W_hh`` (``recurrent_kernel``, hidden -> hidden).  LSTM and GRU concatenate their gates along
the output axis, so with ``per_gate=True`` each gate's column block is a graph of its own.

When a layer is wrapped by a pruning wrapper (TF-MOT's ``prune_low_magnitude`` or ours), the
mask is read from the wrapper's mask variable; otherwise the mask is ``weights != 0``.

Models built with tf_keras (Keras 2) and with Keras 3 are both read: layers are recognised by
class name, so this package imports neither Keras nor TensorFlow.  Modules: ``walk`` (the model
to its cells), ``weights`` (:class:`WeightGraph`), ``table`` (:func:`summary`).
"""

from __future__ import annotations

from tf_expander_pruning.analysis.graphs.table import summary, summary_rows
from tf_expander_pruning.analysis.graphs.weights import (
    GATES,
    ROLES,
    WeightGraph,
    cell_kind_name,
    gate_columns,
    gate_names,
    weight_graphs,
)

__all__ = [
    "ROLES",
    "GATES",
    "WeightGraph",
    "weight_graphs",
    "summary",
    "summary_rows",
    "gate_names",
    "gate_columns",
    "cell_kind_name",
]
