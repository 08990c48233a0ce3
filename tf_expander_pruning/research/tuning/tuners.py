"""keras-tuner tuners that run tf_keras expander trials.

keras-tuner imports Keras 3 and its ``Tuner`` rejects the tf_keras models TF-MOT needs
(``FatalTypeError``, keras-tuner issue 1039), so :class:`ExpanderTunerMixin` overrides
``run_trial`` (``build(hp)`` and ``fit(hp, model, ...)`` with tf_keras, returning the metrics
dict), ``save_model`` and ``load_model`` (a ``.keras`` file of the stripped model per trial) and
``_populate_initial_space`` (declare the space without a build: ``build`` needs the data).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from typing import Any

import keras_tuner as kt
import tensorflow_model_optimization as tfmot

from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.research.tuning.hypermodel import ExpanderHyperModel
from tf_expander_pruning.research.tuning.results import trial_table
from tf_expander_pruning.research.tuning.trial import check_trial_data, fit_arguments

__all__ = [
    "OBJECTIVE", "ExpanderTunerMixin", "expander_tuner", "ExpanderRandomSearch",
    "ExpanderBayesianOptimization", "ExpanderHyperband", "ExpanderGridSearch", "TUNERS",
    "trial_callbacks",
]

#: The objective every expander tuner minimises (see the package docstring).
OBJECTIVE = kt.Objective("score", direction="min")

_MODEL_FILE = "model.keras"
_BASELINE_FILE = "baseline.json"


def _log_root(callbacks: Sequence[Any]) -> str | None:
    """The callbacks' log dir that contains all the others, if there is one."""
    dirs = [
        os.path.normpath(str(c.log_dir)) for c in callbacks
        if isinstance(getattr(c, "log_dir", None), (str, os.PathLike))
    ]
    root = os.path.commonpath(dirs) if dirs else None
    return root if root in dirs else None


def _trial_dir(log_dir: Any, root: str | None, trial_id: str) -> str | None:
    if not isinstance(log_dir, (str, os.PathLike)):
        return None
    log_dir = os.path.normpath(str(log_dir))
    if root is None:
        return os.path.join(log_dir, f"trial_{trial_id}")
    rest = os.path.relpath(log_dir, root)
    return os.path.normpath(os.path.join(root, f"trial_{trial_id}", rest))


def trial_callbacks(callbacks: Sequence[Any], trial_id: str) -> list:
    """Fresh copies of ``callbacks`` for one trial, each ``log_dir`` moved to a trial subdir.

    keras-tuner semantics: callbacks are reused across trials, so each trial gets deep copies.
    TF-MOT's ``PruningSummaries`` opens its file writer in ``__init__`` (it cannot be copied, and
    changing ``log_dir`` afterwards would not move its scalars), so it is re-created instead.
    keras-tuner moves only Keras 3's TensorBoard to per-trial dirs; this covers tf_keras's
    TensorBoard, ``PruningSummaries`` and ``RamanujanConstraint``.  When one log dir contains
    all others (``logs`` and ``logs/ramanujan``), the trial goes right below it
    (``logs/trial_<id>/ramanujan``) so one trial's runs sit together in TensorBoard; otherwise
    each becomes ``<log_dir>/trial_<id>``.
    """
    root = _log_root(callbacks)
    copies = []
    for callback in callbacks:
        trial_dir = _trial_dir(getattr(callback, "log_dir", None), root, trial_id)
        if isinstance(callback, tfmot.sparsity.keras.PruningSummaries):
            copies.append(type(callback)(log_dir=trial_dir, update_freq=callback.update_freq))
            continue
        try:
            clone = copy.deepcopy(callback)
        except Exception as error:  # TensorFlow objects raise various types here
            raise ValueError(
                f"Callback {type(callback).__name__} cannot be deep-copied ({error}); every "
                "trial needs its own copy. Create it lazily (in set_model/on_train_begin) or "
                "give it a __deepcopy__."
            ) from None
        if trial_dir is not None:
            clone.log_dir = trial_dir
        copies.append(clone)
    return copies


class ExpanderTunerMixin:
    """Turns a keras-tuner ``Tuner`` subclass into one that runs tf_keras expander trials.

    Put it first in the bases (``class T(ExpanderTunerMixin, kt.RandomSearch)``) or use
    :func:`expander_tuner`.  ``hypermodel`` must be an :class:`ExpanderHyperModel`; the
    objective defaults to :data:`OBJECTIVE` (minimise ``score``).  ``search(x, y,
    validation_data=(x_val, y_val), callbacks=[...], verbose=...)`` as usual; callbacks are
    deep-copied per trial and their ``log_dir`` is made per trial.
    """

    def __init__(self, hypermodel: ExpanderHyperModel | None = None, objective=None, **kwargs):
        if not isinstance(hypermodel, ExpanderHyperModel):
            raise TypeError(
                f"{type(self).__name__} needs hypermodel=ExpanderHyperModel(...), got "
                f"{type(hypermodel).__name__}. Plain build functions return tf_keras models, "
                "which keras-tuner's own training loop rejects."
            )
        if kwargs.get("distribution_strategy") is not None:
            raise ValueError(
                "distribution_strategy is not supported by the expander tuners: keras-tuner "
                "would apply a Keras 3 strategy scope to tf_keras training."
            )
        super().__init__(hypermodel=hypermodel, objective=objective or OBJECTIVE, **kwargs)

    # keras-tuner calls these; they must not build Keras 3 models.
    def _populate_initial_space(self) -> None:
        """Declare the search space without building a model.

        keras-tuner's default also calls ``build(hp)`` to find conditional hyperparameters
        (the expander space has none), and this ``build`` needs the training data, which the
        tuner sees only in ``search`` (keras-tuner keeps this method for such hypermodels).
        """
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def run_trial(self, trial, *args, **kwargs) -> dict[str, float]:
        """``build(hp)``, then ``fit`` that model with tf_keras; return its metrics."""
        hp = trial.hyperparameters
        hypermodel: ExpanderHyperModel = self.hypermodel
        arguments = fit_arguments(args, kwargs)
        # Hyperband's budget. Warm starts from an earlier bracket are not used: a stripped
        # model cannot resume constrained pruning, so each trial restarts from the seed.
        epochs = hp.values.get("tuner/epochs", arguments.epochs)
        callbacks = trial_callbacks(arguments.callbacks, trial.trial_id)
        x, y, x_val, y_val = check_trial_data(arguments.x, arguments.y,
                                              arguments.validation_data)
        hypermodel.set_data_shape(x, y, y_val)
        if hypermodel.baseline == "reference" and hypermodel.baseline_accuracy is None:
            self._ensure_baseline(x, y, x_val, y_val)
        model = hypermodel.pruned_model(hp, epochs=epochs)
        outcome = hypermodel.fit_trial(hp, model, x, y, (x_val, y_val), callbacks=callbacks,
                                       verbose=arguments.verbose, epochs=epochs)
        self.save_model(trial.trial_id, outcome.model)
        return outcome.metrics

    def _ensure_baseline(self, x, y, x_val, y_val) -> None:
        path = os.path.join(self.project_dir, _BASELINE_FILE)
        hypermodel: ExpanderHyperModel = self.hypermodel
        if os.path.exists(path):  # a resumed search keeps its reference
            with open(path) as handle:
                hypermodel.baseline_accuracy = float(json.load(handle)["baseline_accuracy"])
            return
        accuracy = hypermodel.fit_baseline(x, y, x_val, y_val)
        with open(path, "w") as handle:
            json.dump({
                "baseline_accuracy": accuracy, "cell": hypermodel.cells[0],
                "units": max(hypermodel.units), "dense_epochs": hypermodel.dense_epochs,
            }, handle)

    def _model_path(self, trial_id: str) -> str:
        return os.path.join(self.get_trial_dir(trial_id), _MODEL_FILE)

    def save_model(self, trial_id, model, step=0) -> None:
        """Save the trial's stripped tf_keras model as ``<trial dir>/model.keras``."""
        os.makedirs(self.get_trial_dir(trial_id), exist_ok=True)
        model.save(self._model_path(trial_id))

    def load_model(self, trial):
        """Load a trial's stripped tf_keras model (what ``get_best_models`` returns)."""
        path = self._model_path(trial.trial_id)
        if not os.path.exists(path):
            raise FileNotFoundError(f"Trial {trial.trial_id} saved no model ({path}).")
        return keras.models.load_model(path)

    def trial_table(self) -> list[dict[str, Any]]:
        """One row per trial (see :func:`~tf_expander_pruning.research.tuning.trial_table`)."""
        return trial_table(self)


def expander_tuner(tuner_class: type) -> type:
    """Return ``tuner_class`` (any ``keras_tuner.Tuner`` subclass) with the expander trial.

    Example: ``expander_tuner(kt.BayesianOptimization)(hypermodel, max_trials=20, ...)``.
    """
    if not (isinstance(tuner_class, type) and issubclass(tuner_class, kt.Tuner)):
        raise TypeError(
            f"expander_tuner needs a keras_tuner.Tuner subclass (e.g. kt.RandomSearch), got "
            f"{tuner_class!r}."
        )
    if issubclass(tuner_class, ExpanderTunerMixin):
        return tuner_class
    return type(f"Expander{tuner_class.__name__}", (ExpanderTunerMixin, tuner_class), {
        "__doc__": f"{tuner_class.__name__} running Ramanujan-constrained pruning trials.",
        "__module__": __name__,
    })


class ExpanderRandomSearch(ExpanderTunerMixin, kt.RandomSearch):
    """``keras_tuner.RandomSearch`` running :class:`ExpanderHyperModel` trials."""


class ExpanderBayesianOptimization(ExpanderTunerMixin, kt.BayesianOptimization):
    """``keras_tuner.BayesianOptimization`` running :class:`ExpanderHyperModel` trials."""


class ExpanderHyperband(ExpanderTunerMixin, kt.Hyperband):
    """``keras_tuner.Hyperband``: ``tuner/epochs`` is the prune-phase budget.

    Trials promoted to a later round retrain from scratch with the larger budget (a stripped
    model cannot resume constrained pruning), so Hyperband saves less time here than usual.
    """


class ExpanderGridSearch(ExpanderTunerMixin, kt.GridSearch):
    """``keras_tuner.GridSearch`` over every combination of the choices."""


#: ``search(tuner=...)`` names.
TUNERS = {
    "random": ExpanderRandomSearch,
    "bayesian": ExpanderBayesianOptimization,
    "hyperband": ExpanderHyperband,
    "grid": ExpanderGridSearch,
}
