"""Pruning schedules that a Keras callback can freeze, and the paper's geometric schedule.

TF-MOT calls a schedule inside Keras's training ``tf.function`` with the wrapper's int64
``pruning_step`` and expects ``(should_prune, sparsity)`` tensors back.  Python code in
``__call__`` therefore runs only while tracing: a decision taken later by a callback ("stop
pruning this weight") must live in a ``tf.Variable`` that the traced graph reads.
:class:`Freezable` holds such a boolean variable and AND-s its negation into ``should_prune``.
It is also a ``tf.Module`` so that SavedModel export can reach the variable from the model root.

Both classes are registered as Keras custom objects under their *bare* class names: TF-MOT's
``PruneLowMagnitude.from_config`` deserialises the schedule with ``deserialize_keras_object``,
which only finds global custom objects by the plain ``class_name`` stored in the config.
"""

from __future__ import annotations

import copy
import inspect
import math
import warnings
from typing import Any

from tf_expander_pruning.core.keras_compat import keras, tf
from tf_expander_pruning.core.validation import check_real

# isort: split
# TF-MOT must be imported after keras_compat has selected Keras 2.
import tensorflow_model_optimization as tfmot

PruningSchedule = tfmot.sparsity.keras.PruningSchedule

__all__ = [
    "Freezable",
    "GeometricSchedule",
    "deserialize_schedule",
    "validate_schedule",
    "schedule_custom_objects",
]


def _check_steps(owner: str, begin_step: int, end_step: int, frequency: int) -> None:
    """Raise ``ValueError`` with a fix for an impossible step range (all in optimizer steps)."""
    if int(begin_step) != begin_step or begin_step < 0:
        raise ValueError(
            f"{owner}: begin_step must be an integer >= 0 (the first training step to prune at); "
            f"got {begin_step!r}."
        )
    if int(end_step) != end_step or (end_step != -1 and end_step < 0):
        raise ValueError(
            f"{owner}: end_step must be -1 (prune until training ends) or a step >= 0; "
            f"got {end_step!r}."
        )
    if end_step != -1 and end_step < begin_step:
        raise ValueError(
            f"{owner}: end_step ({end_step}) is before begin_step ({begin_step}), so pruning "
            "would never run. Set end_step >= begin_step, or end_step=-1 to prune until "
            "training ends."
        )
    if int(frequency) != frequency or frequency <= 0:
        raise ValueError(
            f"{owner}: frequency must be a positive number of steps between mask updates; "
            f"got {frequency!r}."
        )


def _check_config(owner: str, config, known: dict[str, Any], required=()) -> dict[str, Any]:
    """Validate a ``get_config()["config"]`` dict that may come from another package version.

    Policy (docs/reliability.md): a key this version does not know means the config was written
    by a newer or different version; guessing could silently change the pruning, so it is a
    ``ValueError`` naming the keys.  A missing key with a default (an older version that did not
    have it yet) loads with that default and a ``UserWarning`` naming it.  A missing key without
    a default is a ``ValueError``.
    """
    if not isinstance(config, dict):
        raise ValueError(f"{owner} config must be a dict, got {type(config).__name__}.")
    unknown = sorted(set(config) - set(known) - set(required))
    if unknown:
        raise ValueError(
            f"{owner} config has unknown key(s) {unknown} (written by a newer or different "
            f"version of tf_expander_pruning?). Known keys: {sorted([*required, *known])}. "
            "Upgrade the package or remove those keys."
        )
    missing_required = [key for key in required if key not in config]
    if missing_required:
        raise ValueError(f"{owner} config lacks the required key(s) {missing_required}.")
    missing = [key for key in known if key not in config]
    if missing:
        warnings.warn(
            f"{owner} config lacks {missing} (saved by an older version?); using the defaults "
            + ", ".join(f"{key}={known[key]!r}" for key in missing) + ".",
            UserWarning, stacklevel=3,
        )
    return {**{key: known[key] for key in missing}, **config}


def validate_schedule(schedule, argument: str = "schedule") -> PruningSchedule:
    """Return ``schedule`` if it is a usable TF-MOT ``PruningSchedule``; raise otherwise.

    Checks the type and, for schedules exposing ``begin_step``/``end_step``/``frequency``
    attributes (all TF-MOT schedules and ours), that the step range is possible.  A
    :class:`Freezable` is checked through its base schedule.

    Raises:
        TypeError: not a ``tfmot.sparsity.keras.PruningSchedule``.
        ValueError: ``end_step`` before ``begin_step``, negative steps, ``frequency <= 0``.
    """
    if not isinstance(schedule, PruningSchedule):
        raise TypeError(
            f"`{argument}` must be a tfmot.sparsity.keras.PruningSchedule (for example "
            "GeometricSchedule(), tfmot.sparsity.keras.PolynomialDecay(...) or "
            f"ConstantSparsity(...)); got {type(schedule).__name__}."
        )
    inner = schedule.base_schedule if isinstance(schedule, Freezable) else schedule
    if all(hasattr(inner, name) for name in ("begin_step", "end_step")):
        _check_steps(
            type(inner).__name__,
            inner.begin_step,
            inner.end_step,
            getattr(inner, "frequency", 1),
        )
    return schedule


def schedule_custom_objects() -> dict[str, type]:
    """Every schedule class this package can deserialise, by bare class name."""
    return {
        "ConstantSparsity": tfmot.sparsity.keras.ConstantSparsity,
        "PolynomialDecay": tfmot.sparsity.keras.PolynomialDecay,
        "Freezable": Freezable,
        "GeometricSchedule": GeometricSchedule,
    }


def deserialize_schedule(config: dict[str, Any] | PruningSchedule) -> PruningSchedule:
    """Inverse of ``schedule.get_config()`` (``{"class_name": ..., "config": {...}}``).

    Looks names up in the global Keras custom objects first, so user schedules registered with
    ``keras.utils.get_custom_objects()[name] = cls`` work too.
    """
    if isinstance(config, PruningSchedule):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "A pruning schedule config must be a dict with 'class_name' and 'config' (the output "
            f"of schedule.get_config()); got {config!r}."
        )
    schedule = keras.utils.deserialize_keras_object(
        config, module_objects=schedule_custom_objects(), custom_objects=None,
        printable_module_name="pruning schedule",
    )
    if not isinstance(schedule, PruningSchedule):
        # deserialize_keras_object returns the bare class name string when it cannot resolve it.
        raise ValueError(
            f"Could not load pruning schedule {config.get('class_name')!r}: register the class "
            "with keras.utils.get_custom_objects()[<ClassName>] = <class> before loading."
        )
    return schedule


class Freezable(PruningSchedule, tf.Module):
    """Wrap any TF-MOT schedule so that mask updates can be switched off while training.

    ``__call__(step)`` returns ``(base_should_prune AND NOT frozen, base_sparsity)``.  The
    ``frozen`` flag is a scalar boolean ``tf.Variable`` read inside TF-MOT's ``tf.function``, so
    :meth:`freeze` from a Keras callback takes effect at the next training step without
    retracing.  Freezing stops mask *updates*; TF-MOT keeps multiplying the weights by the
    current mask, so the mask (and the weights' zero pattern) stay exactly as they are.

    A callback can also *drive* the sparsity: :meth:`set_target` makes every later mask update
    (still at the base schedule's steps) prune to that sparsity instead of the base schedule's;
    :meth:`follow_schedule` hands control back.  ``RamanujanConstraint``'s knee search retries a
    failed update with a smaller step this way (:mod:`tf_expander_pruning.constraint.decisions`).

    Args:
        base_schedule: any ``tfmot.sparsity.keras.PruningSchedule``.
        frozen: optional existing boolean variable to use as the flag (the pruning wrapper
            passes one of its own weights so the flag is saved with the model); a new
            ``tf.Variable(False)`` when omitted.
        name: ``tf.Module`` name.
        target: optional scalar float32 variable holding the driven sparsity (negative: follow
            the base schedule); a new ``tf.Variable(-1.0)`` when omitted.
    """

    def __init__(
        self,
        base_schedule: PruningSchedule,
        frozen: tf.Variable | None = None,
        name: str | None = None,
        target: tf.Variable | None = None,
    ) -> None:
        tf.Module.__init__(self, name=name or "freezable_schedule")
        validate_schedule(base_schedule, "base_schedule")
        if isinstance(base_schedule, Freezable):
            # Nesting would AND two flags, only one of which a callback knows about.
            base_schedule = base_schedule.base_schedule
        self.base_schedule = base_schedule
        if frozen is None:
            frozen = tf.Variable(False, trainable=False, dtype=tf.bool, name="frozen")
        elif not isinstance(frozen, tf.Variable) or frozen.dtype != tf.bool or (
            frozen.shape.rank != 0
        ):
            raise ValueError(f"`frozen` must be a scalar bool variable, got {frozen!r}.")
        self.frozen = frozen
        if target is None:
            target = tf.Variable(-1.0, trainable=False, dtype=tf.float32, name="target")
        self.target = target

    # The TF-MOT step-range attributes, so code that inspects schedules sees the base's range.
    @property
    def begin_step(self) -> int | None:
        return getattr(self.base_schedule, "begin_step", None)

    @property
    def end_step(self) -> int | None:
        return getattr(self.base_schedule, "end_step", None)

    @property
    def frequency(self) -> int | None:
        return getattr(self.base_schedule, "frequency", None)

    def __call__(self, step: tf.Tensor | int) -> tuple[tf.Tensor, tf.Tensor]:
        should_prune, sparsity = self.base_schedule(step)
        driven = tf.cast(self.target, tf.float32)
        sparsity = tf.where(driven >= 0.0, driven, tf.cast(sparsity, tf.float32))
        return tf.math.logical_and(should_prune, tf.math.logical_not(self.frozen)), sparsity

    def set_target(self, sparsity: float) -> None:
        """Prune to ``sparsity`` (in [0, 1)) at every later mask update of the base schedule."""
        sparsity = float(sparsity)
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f"Freezable.set_target: sparsity must be in [0, 1), got {sparsity}.")
        self.target.assign(sparsity)

    def follow_schedule(self) -> None:
        """Let the base schedule choose the sparsity again (undo :meth:`set_target`)."""
        self.target.assign(-1.0)

    @property
    def driven_target(self) -> float | None:
        """The sparsity set by :meth:`set_target`, or None when following the schedule."""
        value = float(self.target.numpy())
        return value if value >= 0.0 else None

    def freeze(self) -> None:
        """Stop further mask updates (the current mask is kept)."""
        self.frozen.assign(True)

    def unfreeze(self) -> None:
        """Let the base schedule drive mask updates again."""
        self.frozen.assign(False)

    @property
    def is_frozen(self) -> bool:
        return bool(self.frozen.numpy())

    def get_config(self) -> dict[str, Any]:
        # The flag is state, not configuration: it is saved as a variable (a weight of the
        # pruning wrapper), so a loaded model keeps it while the config stays static.
        return {
            "class_name": self.__class__.__name__,
            "config": {"base_schedule": self.base_schedule.get_config()},
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Freezable:
        config = _check_config("Freezable", config, {}, required=("base_schedule",))
        config["base_schedule"] = deserialize_schedule(config["base_schedule"])
        return cls(**config)

    def copy(self, frozen: tf.Variable | None = None) -> Freezable:
        """An independent copy (own flag unless ``frozen`` is given; base schedule copied)."""
        return Freezable(copy.deepcopy(self.base_schedule), frozen=frozen)

    def __deepcopy__(self, memo):
        clone = Freezable(copy.deepcopy(self.base_schedule, memo))
        clone.frozen.assign(self.frozen.numpy())
        return clone

    def __repr__(self) -> str:
        state = "frozen" if self.frozen.numpy() else "active"
        return f"Freezable({self.base_schedule!r}, {state})"


class GeometricSchedule(PruningSchedule):
    """Iterative magnitude pruning as in the paper: remove ``rate`` of what remains, repeatedly.

    At the ``k``-th mask update (``k = 1, 2, ...``, one every ``frequency`` steps from
    ``begin_step``) the target sparsity is ``min(1 - (1 - rate) ** k, max_sparsity)``.  TF-MOT
    prunes by magnitude over the whole tensor and already-pruned weights are exactly zero, so
    each update removes ``rate`` of the surviving weights.  TF-MOT's step counter is 1 at the
    first training step, so with ``begin_step=0`` the first update happens at step
    ``frequency`` (and ``k`` counts from there).

    Args:
        rate: fraction of the remaining weights removed per update, in (0, 1). Default 0.2.
        frequency: steps (optimizer updates) between mask updates, > 0.
        begin_step: first step at which to prune, >= 0.
        end_step: last step at which to prune, or -1 (until training ends).
        max_sparsity: cap on the sparsity, in [0, 1).
    """

    def __init__(
        self,
        rate: float = 0.2,
        frequency: int = 100,
        begin_step: int = 0,
        end_step: int = -1,
        max_sparsity: float = 0.98,
    ) -> None:
        # TypeError naming the argument (not a bare "<" error) for "0.2", None or True.
        rate = check_real(rate, "rate")
        max_sparsity = check_real(max_sparsity, "max_sparsity")
        if not 0.0 < rate < 1.0:
            raise ValueError(
                f"GeometricSchedule: rate must be in (0, 1) (fraction of the remaining weights "
                f"removed per update, e.g. 0.2); got {rate!r}."
            )
        if not 0.0 <= max_sparsity < 1.0:
            raise ValueError(
                f"GeometricSchedule: max_sparsity must be in [0, 1); got {max_sparsity!r}."
            )
        _check_steps("GeometricSchedule", begin_step, end_step, frequency)
        self.rate = float(rate)
        self.frequency = int(frequency)
        self.begin_step = int(begin_step)
        self.end_step = int(end_step)
        self.max_sparsity = float(max_sparsity)

    @property
    def _first(self) -> int:
        # Step 0 never reaches the schedule (see the class docstring), so begin_step=0 means
        # the first update is at `frequency`, which must be k=1.
        return 0 if self.begin_step == 0 else 1

    def updates_to_cap(self) -> int:
        """Number of mask updates after which the cap ``max_sparsity`` is reached."""
        if self.max_sparsity == 0.0:
            return 0
        return int(math.ceil(math.log(1.0 - self.max_sparsity) / math.log(1.0 - self.rate)))

    def sparsity_at(self, step: int) -> float:
        """Target sparsity at an integer ``step`` (pure Python; mirrors ``__call__``)."""
        if step < self.begin_step:
            return 0.0
        last = step if self.end_step == -1 else min(step, self.end_step)
        updates = (last - self.begin_step) // self.frequency + self._first
        return min(1.0 - (1.0 - self.rate) ** updates, self.max_sparsity)

    def __call__(self, step: tf.Tensor | int) -> tuple[tf.Tensor, tf.Tensor]:
        step = tf.cast(step, tf.int64)
        last = step if self.end_step == -1 else tf.minimum(step, self.end_step)
        updates = tf.math.floordiv(last - self.begin_step, self.frequency) + self._first
        updates = tf.cast(tf.maximum(updates, 0), tf.float32)
        sparsity = 1.0 - tf.math.pow(tf.constant(1.0 - self.rate, tf.float32), updates)
        sparsity = tf.minimum(sparsity, self.max_sparsity)
        should_prune = self._should_prune_in_step(
            step, self.begin_step, self.end_step, self.frequency
        )
        return should_prune, sparsity

    def get_config(self) -> dict[str, Any]:
        return {
            "class_name": self.__class__.__name__,
            "config": {
                "rate": self.rate,
                "frequency": self.frequency,
                "begin_step": self.begin_step,
                "end_step": self.end_step,
                "max_sparsity": self.max_sparsity,
            },
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GeometricSchedule:
        """Inverse of ``get_config()["config"]``; see :func:`_check_config` for old configs."""
        # The constructor's own defaults, so the two cannot drift apart.
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if name != "self"
        }
        return cls(**_check_config("GeometricSchedule", config, defaults))

    def __repr__(self) -> str:
        cfg = self.get_config()["config"]
        return "GeometricSchedule(" + ", ".join(f"{k}={v!r}" for k, v in cfg.items()) + ")"


# Bare-name registration (see the module docstring for why not `register_keras_serializable`).
keras.utils.get_custom_objects().update(
    {"Freezable": Freezable, "GeometricSchedule": GeometricSchedule}
)
