""":func:`search`: the whole expander search in one call."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any

import keras_tuner as kt

from tf_expander_pruning.core.validation import check_int
from tf_expander_pruning.research.tuning.checks import check_data, check_tolerance
from tf_expander_pruning.research.tuning.hypermodel import ExpanderHyperModel
from tf_expander_pruning.research.tuning.results import SearchResult, trial_table
from tf_expander_pruning.research.tuning.tuners import TUNERS, expander_tuner

__all__ = ["search"]


def _data(x_train, y_train, x_val, y_val) -> tuple:
    """Checked training and validation arrays with samples of the same (time, features)."""
    x_train, y_train = check_data(x_train, y_train, "train")
    x_val, y_val = check_data(x_val, y_val, "val")
    if x_train.shape[1:] != x_val.shape[1:]:
        raise ValueError(
            f"`x_train` samples are {x_train.shape[1:]} but `x_val` samples are "
            f"{x_val.shape[1:]}: both must be (time, features) of the same size."
        )
    return x_train, y_train, x_val, y_val


def _tuner_class(tuner: str | type) -> type:
    if isinstance(tuner, str):
        if tuner not in TUNERS:
            raise ValueError(f"Unknown tuner {tuner!r}; choose from {tuple(TUNERS)} or pass a "
                             "keras_tuner.Tuner subclass.")
        return TUNERS[tuner]
    return expander_tuner(tuner)


def _hypermodel(hypermodel: ExpanderHyperModel | None, tolerance: float | None, seed: int,
                space: dict[str, Any]) -> ExpanderHyperModel:
    """The given hypermodel (with ``tolerance`` if given) or one built from ``space``."""
    if hypermodel is None:
        try:
            return ExpanderHyperModel(
                tolerance=0.02 if tolerance is None else tolerance, seed=seed, **space
            )
        except TypeError as error:
            raise TypeError(f"search(): {error}. Search-space arguments are those of "
                            "ExpanderHyperModel.") from None
    if space:
        raise TypeError(
            f"Pass search-space arguments {sorted(space)} to ExpanderHyperModel, not to search(), "
            "when giving `hypermodel`."
        )
    if not isinstance(hypermodel, ExpanderHyperModel):
        raise TypeError(f"`hypermodel` must be an ExpanderHyperModel, got "
                        f"{type(hypermodel).__name__}.")
    if tolerance is not None:
        hypermodel.tolerance = tolerance
    return hypermodel


def _tuner_kwargs(tuner_class: type, hypermodel: ExpanderHyperModel, directory, project_name,
                  overwrite, seed, max_trials, tuner_kwargs) -> dict[str, Any]:
    kwargs = dict(tuner_kwargs or {})
    kwargs.setdefault("directory", str(directory))
    kwargs.setdefault("project_name", project_name)
    kwargs.setdefault("overwrite", overwrite)
    # keras-tuner replaces a seed of 0 by a random one (`seed or random.randint(...)`)
    kwargs.setdefault("seed", seed + 1)
    if issubclass(tuner_class, kt.Hyperband):
        kwargs.setdefault("max_epochs", hypermodel.prune_epochs)
    else:
        kwargs.setdefault("max_trials", max_trials)
    return kwargs


def _best_row(instance, rows: list[dict[str, Any]], hypermodel: ExpanderHyperModel):
    """The best trial and its row; an error when none completed, a warning when infeasible."""
    if not any(r["score"] is not None for r in rows):
        messages = [t.message for t in instance.oracle.trials.values() if t.message]
        raise RuntimeError(
            "No trial completed; the first failure was:\n" + (messages[0] if messages else "?")
        )
    best = instance.oracle.get_best_trials(1)[0]
    best_row = next(r for r in rows if r["trial"] == best.trial_id)
    if not best_row["feasible"]:
        warnings.warn(
            "No trial met the constraint (every pruned graph Ramanujan and accuracy within "
            f"{hypermodel.tolerance:.3f} of {hypermodel.baseline_accuracy}); returning the least "
            "infeasible. Raise dense_epochs/prune_epochs, the tolerance or the units.",
            stacklevel=3,
        )
    return best, best_row


def search(
    x_train,
    y_train,
    x_val,
    y_val,
    *,
    max_trials: int = 10,
    tolerance: float | None = None,
    tuner: str | type = "random",
    directory: str | os.PathLike | None = None,
    project_name: str = "expander_search",
    overwrite: bool = True,
    seed: int = 0,
    hypermodel: ExpanderHyperModel | None = None,
    callbacks: Sequence[Any] = (),
    verbose: int = 0,
    tuner_kwargs: dict[str, Any] | None = None,
    **space: Any,
) -> SearchResult:
    """Search for the smallest Ramanujan-pruned model within ``tolerance`` of dense accuracy.

    Args:
        x_train, y_train, x_val, y_val: ``(samples, time, features)`` floats and integer labels.
        max_trials: trials to run (Hyperband: its ``max_epochs`` comes from ``prune_epochs``
            and it stops on its own schedule; ``max_trials`` is not used by it).
        tolerance: allowed accuracy drop below the dense baseline, in [0, 1); default 0.02, or
            the tolerance of the given ``hypermodel``.
        tuner: ``"random"``, ``"bayesian"``, ``"hyperband"``, ``"grid"`` or a keras-tuner
            ``Tuner`` subclass (wrapped with :func:`expander_tuner`).
        directory: where trials are stored (a new temporary directory when omitted).
        project_name, overwrite: as in keras-tuner (``overwrite=False`` resumes).
        seed: an integer >= 0 seeding the tuner's sampling (keras-tuner gets ``seed + 1``,
            as it treats 0 as "random") and every trial's initial weights.
        hypermodel: an :class:`ExpanderHyperModel`; when omitted one is built from ``space``.
        callbacks: extra tf_keras callbacks for the pruning phase (deep-copied per trial;
            ``log_dir`` attributes get a per-trial subdirectory).
        verbose: 0 quiet, 1 keras-tuner's per-trial report, 2 also Keras progress.
        tuner_kwargs: extra keyword arguments for the tuner constructor.
        **space: :class:`ExpanderHyperModel` arguments (``units``, ``cells``, ``rates``,
            ``updates_per_epoch``, ``roles``, ``dense_epochs``, ``prune_epochs``, ``baseline``,
            ``batch_size`` ...).

    Returns:
        A :class:`SearchResult`; check ``result.feasible`` (a warning is issued when no trial
        met the constraint: the best of the infeasible ones is returned).

    Raises:
        ValueError / TypeError: bad data shapes, an unknown tuner name, ``max_trials < 1``, a
            tolerance outside [0, 1), unknown search-space arguments.
    """
    x_train, y_train, x_val, y_val = _data(x_train, y_train, x_val, y_val)
    max_trials = check_int(max_trials, "max_trials", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    tolerance = None if tolerance is None else check_tolerance(tolerance)
    tuner_class = _tuner_class(tuner)
    hypermodel = _hypermodel(hypermodel, tolerance, seed, space)
    hypermodel.set_data_shape(x_train, y_train, y_val)
    if directory is None:
        directory = tempfile.mkdtemp(prefix="expander_search_")
    instance = tuner_class(hypermodel=hypermodel, **_tuner_kwargs(
        tuner_class, hypermodel, directory, project_name, overwrite, seed, max_trials,
        tuner_kwargs))
    with warnings.catch_warnings():
        # keras-tuner's oracle warns about metrics it has no direction for; the names are ours
        warnings.simplefilter("ignore", UserWarning)
        instance.search(x_train, y_train, validation_data=(x_val, y_val),
                        callbacks=list(callbacks), verbose=verbose)
    rows = trial_table(instance)
    best, best_row = _best_row(instance, rows, hypermodel)
    return SearchResult(
        best_model=instance.load_model(best),
        best_hyperparameters=dict(best.hyperparameters.values),
        best_trial=best_row,
        trials=rows,
        baseline_accuracy=hypermodel.baseline_accuracy,
        tolerance=hypermodel.tolerance,
        tuner=instance,
        directory=str(directory),
    )
