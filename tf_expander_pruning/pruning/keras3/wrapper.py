"""The Keras 3 pruning wrapper of one recurrent layer, and its adapter record.

:class:`PruneRecurrent` wraps a Keras 3 SimpleRNN / LSTM / GRU (or ``Bidirectional`` around
one) and owns, per pruned matrix, the state the Keras 2 wrapper keeps: ``mask_*``,
``good_mask_*``, ``frozen_*``, ``frozen_step_*``, ``mask_updates_*``, ``target_*`` (all
non-trainable ``keras.Variable`` weights, so ``.keras`` files keep them) and one
``pruning_step``.  Two mechanisms make the mask hold, on every backend:

* **After every optimizer step** a :class:`MaskConstraint` on the matrix (a
  ``keras.constraints.Constraint``, which Keras 3 optimizers apply right after each update on
  every backend) multiplies it by its mask, so pruned weights are exactly zero after each step.
* **At a mask update** (between steps, from :mod:`.step`) the new mask and the zeroed weights
  are assigned directly.

The one place JAX forces backend-specific code: its trainer is stateless and jitted.  The
optimizer runs in a ``StatelessScope`` that maps only the trainable and optimizer variables, so
a constraint reading the mask variable there would see a stale constant baked into the trace.
The wrapper's ``call`` (traced inside the same train step, where every model variable is mapped)
keeps the traced mask values; the constraint uses them when the optimizer's scope lacks the
mask.  And callbacks must attach the fit's state to the variables before reading or writing
them (``model.jax_state_sync()``): the records' ``sync`` does that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from tf_expander_pruning.core.cells import ROLES, cell_kind, check_roles
from tf_expander_pruning.pruning.adapter import MatrixFacts
from tf_expander_pruning.pruning.keras3.schedule import ScheduleState, magnitude_mask
from tf_expander_pruning.pruning.schedules import (
    Freezable,
    PruningSchedule,
    deserialize_schedule,
    validate_schedule,
)

__all__ = ["PruneRecurrent", "PrunedMatrix3", "MaskConstraint", "is_recurrent_layer"]


def _no_sync() -> None:
    return None


def _optimizer_scope_lacks(variable) -> bool:
    """Inside a ``StatelessScope`` that does not map ``variable`` (JAX's optimizer step)?"""
    # The one private Keras 3 name this package uses: Keras 3.15 exports StatelessScope but not
    # the function that returns the active one.
    from keras.src.backend.common.stateless_scope import get_stateless_scope

    scope = get_stateless_scope()
    return scope is not None and scope.get_current_value(variable) is None


def _supported_rnn(layer) -> bool:
    return (isinstance(layer, keras.layers.RNN)
            and not isinstance(layer.cell, keras.layers.StackedRNNCells)
            and cell_kind(layer.cell) is not None)


def is_recurrent_layer(layer) -> bool:
    """True for a Keras 3 SimpleRNN / LSTM / GRU (or RNN over one such cell) and a
    ``Bidirectional`` around them."""
    if isinstance(layer, keras.layers.Bidirectional):
        return _supported_rnn(layer.forward_layer) and _supported_rnn(layer.backward_layer)
    return _supported_rnn(layer)


@dataclass(frozen=True)
class PrunedMatrix3(MatrixFacts):
    """One pruned matrix of a Keras 3 :class:`PruneRecurrent`: the adapter record of
    :class:`~tf_expander_pruning.pruning.adapter.PrunedMatrix`."""

    wrapper: Any
    index: int
    layer: str
    role: str
    direction: str | None
    cell: Any
    weight: Any
    mask: Any
    good_mask: Any
    frozen: Any
    frozen_step: Any
    mask_updates: Any
    schedule: ScheduleState
    sync: Callable[[], None] = _no_sync

    def mask_array(self) -> np.ndarray:
        self.sync()
        return np.asarray(self.mask.numpy()) != 0

    def good_mask_array(self) -> np.ndarray:
        self.sync()
        return np.asarray(self.good_mask.numpy()) != 0

    def weight_array(self) -> np.ndarray:
        self.sync()
        return np.asarray(self.weight.numpy())

    def is_frozen(self) -> bool:
        self.sync()
        return bool(np.asarray(self.frozen.numpy()))

    def frozen_step_value(self) -> int:
        self.sync()
        return int(np.asarray(self.frozen_step.numpy()))

    def update_count(self) -> int:
        self.sync()
        return int(np.asarray(self.mask_updates.numpy()))

    def set_mask(self, keep: np.ndarray) -> None:
        self.sync()
        keep = np.asarray(keep).astype(self.mask.dtype)
        self.mask.assign(keep)
        self.weight.assign(np.asarray(self.weight.numpy()) * keep)
        self.good_mask.assign(keep)

    def keep_as_good(self) -> None:
        self.sync()
        self.good_mask.assign(np.asarray(self.mask.numpy()))

    def revert_to_good(self) -> None:
        self.sync()
        self.mask.assign(np.asarray(self.good_mask.numpy()))

    def mark_frozen(self, step: int) -> None:
        self.sync()
        self.frozen.assign(True)
        self.frozen_step.assign(int(step))


class MaskConstraint(keras.constraints.Constraint):
    """``w -> inner(w) * mask``: applied by the optimizer after every update of the matrix."""

    def __init__(self, wrapper: PruneRecurrent, index: int, inner=None) -> None:
        self.wrapper, self.index, self.inner = wrapper, index, inner

    def __call__(self, w):
        if self.inner is not None:
            w = self.inner(w)
        return w * keras.ops.cast(self.wrapper.mask_value(self.index), w.dtype)


@keras.saving.register_keras_serializable(package="tf_expander_pruning")
class PruneRecurrent(keras.layers.Wrapper):
    """Keras 3 pruning wrapper for one recurrent layer, one schedule state per pruned matrix.

    Args:
        layer: a Keras 3 SimpleRNN / LSTM / GRU, or a ``Bidirectional`` around one.
        pruning_schedule: a TF-MOT ``PruningSchedule`` (``GeometricSchedule``, ...); a
            ``Freezable`` is unwrapped (the flags live in this wrapper's weights).
        roles: which matrices to prune, ``"W_xh"`` and/or ``"W_hh"``.
    """

    def __init__(self, layer, pruning_schedule: PruningSchedule | None = None,
                 roles: Sequence[str] = ("W_xh", "W_hh"), **kwargs) -> None:
        if pruning_schedule is None:
            from tf_expander_pruning.pruning.schedules import GeometricSchedule

            pruning_schedule = GeometricSchedule()
        validate_schedule(pruning_schedule, "pruning_schedule")
        if isinstance(pruning_schedule, Freezable):
            pruning_schedule = pruning_schedule.base_schedule
        if not is_recurrent_layer(layer):
            raise ValueError(
                f"PruneRecurrent wraps SimpleRNN, LSTM and GRU layers (or Bidirectional around "
                f"one); got {type(layer).__name__} {getattr(layer, 'name', '')!r}."
            )
        kwargs.setdefault("name", f"prune_recurrent_{layer.name}")
        super().__init__(layer, **kwargs)
        self.roles = check_roles(roles)
        self.supports_masking = True
        object.__setattr__(self, "pruning_schedule", pruning_schedule)
        object.__setattr__(self, "_records", ())
        object.__setattr__(self, "_traced", None)
        #: The pruning step while a fit runs (kept in Python by the step callback, so reading
        #: it costs nothing); None outside a fit: then ``pruning_step`` (the variable) holds it.
        object.__setattr__(self, "current_step", None)
        #: Objects told before and after the step callback updates masks (``before_mask_update()``,
        #: ``after_mask_update(step)``): a ``RamanujanConstraint`` checks the new masks there.
        object.__setattr__(self, "listeners", [])

    def _matrices(self) -> list[tuple[str, str | None, str, Any, Any]]:
        """[(path, direction, role, cell, weight)] for the pruned roles."""
        if isinstance(self.layer, keras.layers.Bidirectional):
            subs = (("forward", self.layer.forward_layer), ("backward", self.layer.backward_layer))
        else:
            subs = ((None, self.layer),)
        found = []
        for direction, sub in subs:
            path = self.layer.name + (f"/{direction}" if direction else "")
            for role, attr in ROLES.items():
                if role in self.roles:
                    found.append((path, direction, role, sub.cell, getattr(sub.cell, attr)))
        return found

    def _state(self, name: str, shape, init, dtype):
        if not isinstance(init, str):
            init = keras.initializers.Constant(init)
        return self.add_weight(name=name, shape=shape, initializer=init, dtype=dtype,
                               trainable=False)

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.pruning_step = self._state("pruning_step", (), -1, "int32")
        records = []
        for index, (path, direction, role, cell, weight) in enumerate(self._matrices()):
            tag = (f"{direction}_" if direction else "") + ROLES[role]
            mask = self._state(f"mask_{tag}", weight.shape, "ones", weight.dtype)
            good_mask = self._state(f"good_mask_{tag}", weight.shape, "ones", weight.dtype)
            frozen = self._state(f"frozen_{tag}", (), "zeros", "bool")
            frozen_step = self._state(f"frozen_step_{tag}", (), -1, "int32")
            updates = self._state(f"mask_updates_{tag}", (), "zeros", "int32")
            target = self._state(f"target_{tag}", (), -1.0, "float32")
            schedule = ScheduleState(self.pruning_schedule, frozen, target)
            records.append(PrunedMatrix3(
                wrapper=self, index=index, layer=path, role=role, direction=direction, cell=cell,
                weight=weight, mask=mask, good_mask=good_mask, frozen=frozen,
                frozen_step=frozen_step, mask_updates=updates, schedule=schedule))
            if not isinstance(weight.constraint, MaskConstraint):
                weight.constraint = MaskConstraint(self, index, weight.constraint)
        object.__setattr__(self, "_records", tuple(records))
        self.built = True

    def matrices(self, sync: Callable[[], None] | None = None) -> list[PrunedMatrix3]:
        """One record per pruned matrix; ``sync`` runs before each of their reads and writes."""
        if sync is None:
            return list(self._records)
        return [_with_sync(record, sync) for record in self._records]

    @property
    def pruned_weights(self) -> list[PrunedMatrix3]:
        return self.matrices()

    def step_value(self) -> int:
        """The pruning step: optimizer steps this wrapper has been trained for."""
        if self.current_step is not None:
            return int(self.current_step)
        return int(np.asarray(self.pruning_step.numpy()))

    def mask_value(self, index: int):
        """The mask for the constraint: the traced value inside JAX's optimizer step."""
        variable = self._records[index].mask
        if self._traced is not None and _optimizer_scope_lacks(variable):
            return self._traced[index]
        return variable.value

    def call(self, inputs, training=None, mask=None, initial_state=None):
        if keras.backend.backend() == "jax" and self._records:
            # Inside the traced train step every model variable is mapped: keep the masks'
            # traced values for the optimizer's constraint (see the module docstring).
            object.__setattr__(self, "_traced", [r.mask.value for r in self._records])
        kwargs = {"training": training, "mask": mask, "initial_state": initial_state}
        return self.layer(inputs, **{k: v for k, v in kwargs.items() if v is not None})

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        return self.layer.compute_mask(inputs, mask)

    def update_masks(self, step: int) -> list[int]:
        """Prune each unfrozen matrix whose schedule fires at ``step`` to its target sparsity
        (TF-MOT's magnitude rule); returns the indices updated.  Call it between steps."""
        updated = []
        for record in self._records:
            should, sparsity = record.schedule.at(step)
            if not should:
                continue
            weight = np.asarray(record.weight.numpy())
            keep = magnitude_mask(weight, sparsity).astype(weight.dtype)
            record.mask.assign(keep)
            record.weight.assign(weight * keep)
            record.mask_updates.assign(int(np.asarray(record.mask_updates.numpy())) + 1)
            updated.append(record.index)
        return updated

    def freeze(self, role: str | None = None, direction: str | None = None) -> None:
        """Stop mask updates for ``role`` (all roles when None) of this layer."""
        for record in self._records:
            if (role is None or record.role == role) and (
                    direction is None or record.direction == direction):
                record.frozen.assign(True)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["pruning_schedule"] = self.pruning_schedule.get_config()
        config["roles"] = list(self.roles)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        schedule = deserialize_schedule(config.pop("pruning_schedule"))
        layer = keras.saving.deserialize_keras_object(config.pop("layer"),
                                                      custom_objects=custom_objects)
        return cls(layer, pruning_schedule=schedule, **config)


def _with_sync(record: PrunedMatrix3, sync: Callable[[], None]) -> PrunedMatrix3:
    schedule = ScheduleState(record.schedule.base_schedule, record.frozen,
                             record.schedule.target, sync)
    fields = {name: getattr(record, name) for name in record.__dataclass_fields__}
    return PrunedMatrix3(**{**fields, "schedule": schedule, "sync": sync})
