"""keras-tuner search for the smallest recurrent model that keeps dense accuracy as an expander.

The search space (:class:`ExpanderHyperModel`): recurrent ``units``, ``cell`` type
(SimpleRNN/LSTM/GRU), the pruning ``rate`` of :class:`~tf_expander_pruning.pruning.schedules.
GeometricSchedule`, its frequency (``updates_per_epoch`` mask updates per epoch) and the
``roles`` to prune (W_xh, W_hh or both).  ``build(hp)`` returns the pruned, compiled model and
``fit(hp, model, ...)`` trains that model (keras-tuner's contract).  Every trial

1. trains the dense model (``dense_epochs``),
2. prunes it with :func:`~tf_expander_pruning.pruning.prune_rnn`, TF-MOT's
   ``UpdatePruningStep`` and a :class:`~tf_expander_pruning.constraint.RamanujanConstraint`
   (``prune_epochs``): each weight graph is pruned until it stops being Ramanujan, then frozen,
3. strips the wrappers and reports, as keras-tuner metrics:

   * the **objective** ``score`` (minimised): the nonzero parameters of the stripped model when
     the trial is feasible; an infeasible trial scores ``penalty * (1 + violation) + nonzero``
     where ``penalty`` is the parameter count of the largest dense model in the search space, so
     every infeasible trial ranks below every feasible one, and ``violation`` adds 1 for a
     non-Ramanujan pruned graph plus 1 and the accuracy shortfall for missing the tolerance;
   * the **constraint**: ``all_ramanujan`` (1 when every pruned weight graph of the final model
     has ``Delta_r >= 0``, per gate when the constraint checks gates (``per_gate`` metric); an
     undefined bound counts as not Ramanujan) and ``within_tolerance``
     (1 when ``val_accuracy >= baseline_accuracy - tolerance``); ``feasible`` is their AND;
   * ``val_accuracy``, ``dense_val_accuracy`` (this trial's model before pruning),
     ``baseline_accuracy``, ``nonzero_params``, ``total_params``, ``nonzero_recurrent``,
     ``recurrent_params``, ``recurrent_sparsity``, ``min_delta_r``, ``frozen`` (matrices the
     constraint froze), ``frequency_steps`` and ``prune_epochs``.

Why the tuner classes: keras-tuner imports Keras 3 and its ``Tuner`` rejects the tf_keras models
TF-MOT needs (``FatalTypeError``, keras-tuner issue 1039).  :class:`ExpanderTunerMixin`
overrides ``run_trial`` (``build(hp)``, then ``fit`` that model with tf_keras, returning the
metrics dict), ``save_model`` and ``load_model`` (a ``.keras`` file of the stripped model per
trial) and ``_populate_initial_space`` (no build before the data is seen);
:func:`expander_tuner` applies it to any keras-tuner ``Tuner`` subclass, and
:class:`ExpanderRandomSearch`, :class:`ExpanderBayesianOptimization`, :class:`ExpanderHyperband`
and :class:`ExpanderGridSearch` are ready-made.  :func:`search` does everything in one call.

Example::

    from tf_expander_pruning.research import datasets, tuning

    x, y = datasets.load("digits", "train")
    xv, yv = datasets.load("digits", "test")
    result = tuning.search(x, y, xv, yv, max_trials=10, tolerance=0.02)
    print(result.table())
    model = result.best_model          # stripped tf_keras model, sparse weights
"""

from __future__ import annotations

# isort: split
# keras_compat selects Keras 2 for everything TF-MOT touches before keras-tuner (which imports
# Keras 3) loads; keras-tuner only sees the metrics the trials return.
from tf_expander_pruning.core import keras_compat  # noqa: F401

# isort: split
from tf_expander_pruning.research.tuning.checks import CELLS, ROLE_CHOICES
from tf_expander_pruning.research.tuning.hypermodel import ExpanderHyperModel
from tf_expander_pruning.research.tuning.results import (
    TABLE_COLUMNS,
    SearchResult,
    format_table,
    trial_table,
)
from tf_expander_pruning.research.tuning.search import search
from tf_expander_pruning.research.tuning.trial import TrialOutcome
from tf_expander_pruning.research.tuning.tuners import (
    OBJECTIVE,
    TUNERS,
    ExpanderBayesianOptimization,
    ExpanderGridSearch,
    ExpanderHyperband,
    ExpanderRandomSearch,
    ExpanderTunerMixin,
    expander_tuner,
)

__all__ = [
    "CELLS",
    "ROLE_CHOICES",
    "OBJECTIVE",
    "TABLE_COLUMNS",
    "ExpanderHyperModel",
    "TrialOutcome",
    "ExpanderTunerMixin",
    "ExpanderRandomSearch",
    "ExpanderBayesianOptimization",
    "ExpanderHyperband",
    "ExpanderGridSearch",
    "TUNERS",
    "expander_tuner",
    "SearchResult",
    "search",
    "trial_table",
    "format_table",
]
