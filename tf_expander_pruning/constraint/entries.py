"""The set-up mistakes to catch before the first step, and what the running fit was given.

Which matrices a fit checks, and whether the step callback runs, is the adapter's to say
(:mod:`tf_expander_pruning.pruning.adapter`): it knows the wrappers of its Keras."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_expander_pruning.pruning.adapter import PrunedMatrix

__all__ = [
    "warn_frequency", "sibling_callbacks", "warn_unshuffled_validation_split",
    "starting_values", "fit_locals", "fit_validation", "fit_has_validation", "class_labels",
]

logger = logging.getLogger("tf_expander_pruning.constraint")


def warn_frequency(entries: Sequence[PrunedMatrix], params: dict[str, Any] | None) -> None:
    """Warn when the schedule cannot fire in this fit (TF-MOT's default frequency=100 silently
    never prunes a small data set)."""
    params = params or {}
    steps, epochs = params.get("steps"), params.get("epochs")
    if not steps or not epochs:
        return
    total = int(steps) * int(epochs)
    for entry in entries:
        base = entry.schedule.base_schedule
        frequency = getattr(base, "frequency", None)
        begin = getattr(base, "begin_step", 0) or 0
        if frequency and begin + frequency > total:
            logger.warning(
                "%s: the schedule updates the mask every %d steps from step %d, but this fit "
                "runs only %d steps (%d per epoch): the mask will not change. Use a schedule "
                "frequency of about steps_per_epoch (%d) or less.",
                entry.name, frequency, begin, total, steps, steps,
            )
            return


def sibling_callbacks(callback: Any, depth: int = 4) -> list[Any] | None:
    """The callbacks of the running fit, found from the ``CallbackList`` calling ``callback``.

    Keras gives a callback no handle on its siblings; the caller's frame has one.  None when
    the hook was not called from a ``CallbackList`` (a direct call).
    """
    frame = sys._getframe(1)
    for _ in range(depth):
        frame = frame.f_back
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        siblings = getattr(owner, "callbacks", None)
        if isinstance(siblings, list) and any(item is callback for item in siblings):
            return siblings
    return None


def fit_locals(depth: int = 8) -> dict[str, Any] | None:
    """The local variables of the running ``Model.fit`` (found by walking up the stack)."""
    frame = sys._getframe(1)
    for _ in range(depth):
        frame = frame.f_back
        if frame is None:
            return None
        if frame.f_code.co_name == "fit" and "validation_split" in frame.f_locals:
            return frame.f_locals
    return None


def class_labels(y: Any) -> np.ndarray | None:
    """Integer class labels of ``y`` (sparse or one-hot), None when ``y`` is not class labels."""
    try:
        y = np.asarray(y)
    except Exception:  # a tensor on a device, a dict of outputs, ...
        return None
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    if y.ndim > 2 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        return None
    return y.reshape(-1)


def warn_unshuffled_validation_split(found: dict[str, Any] | None) -> str | None:
    """Warn when ``fit(validation_split=...)`` held out a slice whose classes differ from the
    training rows: Keras takes the *last* rows, unshuffled, so data stored by class gives the
    guard a validation set of one or two classes.  ``found``: :func:`fit_locals`.  Returns the
    message (None: nothing to say)."""
    if not found or not found.get("validation_split") or found.get("validation_data") is None:
        return None
    validation = found["validation_data"]
    train, held = class_labels(found.get("y")), None
    if isinstance(validation, tuple) and len(validation) >= 2:
        held = class_labels(validation[1])
    if train is None or held is None:
        return None
    seen, unseen = set(np.unique(train).tolist()), set(np.unique(held).tolist())
    missing = sorted(unseen - seen)
    if not missing and len(unseen) * 2 > len(seen):
        return None
    message = (
        f"RamanujanConstraint: fit(validation_split={found['validation_split']}) held out the "
        f"last rows, which hold {len(unseen)} class(es) {sorted(unseen)[:10]} while the "
        f"training rows hold {len(seen)}"
        + (f" (classes {missing[:10]} only in validation)" if missing else "")
        + ". Keras does not shuffle before splitting: the guard watches a different "
        "distribution than the model learns. Shuffle x and y together before fit, or pass "
        "validation_data=(x_val, y_val)."
    )
    logger.warning(message)
    warnings.warn(message, UserWarning, stacklevel=3)
    return message


def fit_has_validation(found: dict[str, Any] | None) -> bool:
    """Does the running fit (``found``: :func:`fit_locals`) have validation data
    (``validation_data`` or ``validation_split``)?  True when no fit is found (a direct call:
    assume the guard can watch one)."""
    return found is None or found.get("validation_data") is not None


def fit_validation(model, found: dict[str, Any] | None) -> dict[str, Any] | None:
    """The validation data of the running fit (``found``: :func:`fit_locals`) as
    ``model.evaluate`` keyword arguments (``x``, ``y``, ``sample_weight``, ``batch_size``,
    ``steps``); None without validation data or under a distribution strategy (the callback
    then works from the logged values only)."""
    if not found or found.get("validation_data") is None:
        return None
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is not None and type(strategy).__name__ != "_DefaultDistributionStrategy":
        return None
    validation = found["validation_data"]
    if isinstance(validation, (tuple, list)):
        parts = {"x": validation[0], "y": validation[1] if len(validation) > 1 else None,
                 "sample_weight": validation[2] if len(validation) > 2 else None}
    else:
        parts = {"x": validation}
    parts["batch_size"] = found.get("validation_batch_size") or found.get("batch_size")
    parts["steps"] = found.get("validation_steps")
    return parts


def starting_values(model, validation: dict[str, Any] | None) -> dict[str, float]:
    """The compiled metrics and loss of ``model`` on the fit's ``validation`` data (see
    :func:`fit_validation`), before any training step: where pruning starts.  Empty when they
    cannot be measured here; the guard then takes its reference from the epoch ends before
    the first mask update."""
    if validation is None:
        return {}
    try:
        values = model.evaluate(**validation, verbose=0, return_dict=True)
    except Exception as error:  # any failure here must not stop the user's fit
        logger.info("RamanujanConstraint: could not measure the starting values (%s)", error)
        return {}
    return {key: float(value) for key, value in values.items()
            if value is not None and np.isfinite(value)}
