"""The pruning wrapper of one recurrent layer: :class:`PruneRecurrent` and its matrices.

:class:`PruneRecurrent` is a TF-MOT ``PruneLowMagnitude`` subclass that gives each pruned matrix
(``W_xh`` = ``kernel``, ``W_hh`` = ``recurrent_kernel``; forward and backward for
``Bidirectional``) its own :class:`~tf_expander_pruning.schedules.Freezable` copy of the
schedule, unique variable names (``mask_kernel``, ``mask_recurrent_kernel``, ...), the state a
:class:`~tf_expander_pruning.constraint.RamanujanConstraint` needs to resume (``frozen_*``,
``good_mask_*``, ``frozen_step_*``, ``mask_updates_*``), and one pruning step per optimizer step
even when the layer is called more than once (shared weights, see :mod:`.step_gate`).
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tf_expander_pruning.core.cells import ROLES, cell_kind, check_roles
from tf_expander_pruning.core.keras_compat import keras, tf
from tf_expander_pruning.pruning.per_weight import PerWeightPruning
from tf_expander_pruning.pruning.recurrent_layers import (
    PrunableBidirectional,
    is_recurrent_layer,
    rnn_prunable_weights,
)
from tf_expander_pruning.pruning.schedules import (
    Freezable,
    PruningSchedule,
    deserialize_schedule,
    validate_schedule,
)
from tf_expander_pruning.pruning.step_gate import StepGate
from tf_expander_pruning.pruning.tfmot_adapter import PruneLowMagnitude

__all__ = ["PrunedWeight", "PruneRecurrent"]

_NO_CALLBACK = (
    "Prune() wrapper requires the UpdatePruningStep callback to be provided during training. "
    "Please add it as a callback to your model.fit call."
)


@dataclass(frozen=True)
class PrunedWeight:
    """One pruned weight matrix of a :class:`PruneRecurrent` wrapper and its state variables.

    ``layer`` is the path used in reports (``"lstm"``, ``"bidirectional/forward"``); ``cell`` the
    Keras cell (``cell.units`` gives the gate width); shapes of ``weight``/``mask``/``good_mask``
    are ``(inputs, gates * units)`` for W_xh and ``(units, gates * units)`` for W_hh.
    """

    wrapper: Any
    index: int
    layer: str
    role: str
    direction: str | None
    cell: Any
    weight: Any
    mask: Any
    threshold: Any
    good_mask: Any
    frozen: Any
    frozen_step: Any
    mask_updates: Any
    schedule: Freezable

    @property
    def cell_type(self) -> str:
        kind = cell_kind(self.cell)
        return kind.cell if kind is not None else type(self.cell).__name__

    @property
    def gates(self) -> tuple[str, ...]:
        """Gate letters (empty for SimpleRNN): gate ``k`` is columns ``[k*units, (k+1)*units)``."""
        kind = cell_kind(self.cell)
        return kind.gate_letters if kind is not None else ()

    @property
    def name(self) -> str:
        return f"{self.layer}/{self.role}"

    # The adapter interface (pruning/adapter.py): the constraint reads and writes only these.
    def mask_array(self) -> np.ndarray:
        return np.asarray(self.mask.numpy()) != 0

    def good_mask_array(self) -> np.ndarray:
        return np.asarray(self.good_mask.numpy()) != 0

    def weight_array(self) -> np.ndarray:
        return np.asarray(self.weight.numpy())

    def is_frozen(self) -> bool:
        return bool(self.frozen.numpy())

    def frozen_step_value(self) -> int:
        return int(self.frozen_step.numpy())

    def update_count(self) -> int:
        return int(self.mask_updates.numpy())

    def set_mask(self, keep: np.ndarray) -> None:
        self.mask.assign(np.asarray(keep).astype(self.mask.dtype.as_numpy_dtype))
        # Zero what the kept mask removes (re-applying all masks of the wrapper is cheap).
        self.wrapper.pruning_obj.weight_mask_op()
        self.good_mask.assign(self.mask)

    def keep_as_good(self) -> None:
        self.good_mask.assign(self.mask)

    def revert_to_good(self) -> None:
        self.mask.assign(self.good_mask)

    def mark_frozen(self, step: int) -> None:
        self.frozen.assign(True)
        self.frozen_step.assign(step)


def _smart_cond(pred, true_fn, false_fn):
    """``true_fn()`` / ``false_fn()`` chosen in Python when ``pred`` is static, else tf.cond."""
    static = tf.get_static_value(pred) if tf.is_tensor(pred) else pred
    if static is not None:
        return true_fn() if bool(static) else false_fn()
    return tf.cond(tf.cast(pred, tf.bool), true_fn, false_fn)


class PruneRecurrent(PruneLowMagnitude):
    """Pruning wrapper for one recurrent layer with a separate freezable schedule per matrix.

    Args:
        layer: SimpleRNN / LSTM / GRU (or ``RNN`` over such a cell), or a ``Bidirectional``
            around one (converted to :class:`PrunableBidirectional`, weights kept).
        pruning_schedule: a TF-MOT ``PruningSchedule``; every pruned matrix gets its own
            :class:`Freezable` around a copy of it (a ``Freezable`` is unwrapped first).
        roles: which matrices to prune, ``"W_xh"`` and/or ``"W_hh"``.
        block_size, block_pooling_type: as in TF-MOT.
    """

    def __init__(
        self,
        layer,
        pruning_schedule: PruningSchedule | None = None,
        roles: Sequence[str] = ("W_xh", "W_hh"),
        block_size=(1, 1),
        block_pooling_type: str = "AVG",
        **kwargs,
    ) -> None:
        if pruning_schedule is None:
            from tf_expander_pruning.pruning.schedules import GeometricSchedule

            pruning_schedule = GeometricSchedule()
        validate_schedule(pruning_schedule, "pruning_schedule")
        if isinstance(pruning_schedule, Freezable):
            # The template is configuration only; the flags live in this wrapper's weights.
            pruning_schedule = pruning_schedule.base_schedule
        self.roles = check_roles(roles)
        pending = None
        if isinstance(layer, keras.layers.Bidirectional) and not isinstance(
            layer, PrunableBidirectional
        ):
            if layer.built:
                pending = layer.get_weights()
            layer = PrunableBidirectional.from_config(layer.get_config())
        if not is_recurrent_layer(layer):
            raise ValueError(
                f"PruneRecurrent wraps SimpleRNN, LSTM and GRU layers (or Bidirectional around "
                f"one); got {type(layer).__name__} {getattr(layer, 'name', '')!r}. Leave other "
                "layers dense or prune them with tfmot.sparsity.keras.prune_low_magnitude."
            )
        if not isinstance(layer, keras.layers.Bidirectional):
            layer.get_prunable_weights = rnn_prunable_weights(layer)
        kwargs.pop("sparsity_m_by_n", None)
        super().__init__(
            layer, pruning_schedule=pruning_schedule, block_size=block_size,
            block_pooling_type=block_pooling_type, **kwargs,
        )
        # Python objects that Keras must not track (their variables are tracked as weights).
        object.__setattr__(self, "_pruned", [])
        object.__setattr__(self, "pruning_schedules", [])
        object.__setattr__(self, "_pending_weights", pending)
        object.__setattr__(self, "_step_gate", StepGate(self.name))

    def _matrices(self):
        """[(path, direction, role, cell, weight)] for the selected roles, in prunable order."""
        if isinstance(self.layer, keras.layers.Bidirectional):
            subs = (("forward", self.layer.forward_layer), ("backward", self.layer.backward_layer))
        else:
            subs = ((None, self.layer),)
        found = []
        for direction, sub in subs:
            path = self.layer.name + (f"/{direction}" if direction else "")
            for role, attr in ROLES.items():
                found.append((path, direction, role, sub.cell, getattr(sub.cell, attr)))
        order = {id(w): i for i, w in enumerate(self.layer.get_prunable_weights())}
        found.sort(key=lambda item: order[id(item[4])])
        return [item for item in found if item[2] in self.roles]

    def _state(self, name: str, tag: str, shape, init, dtype,
               aggregation=tf.VariableAggregation.MEAN):
        return self.add_weight(
            f"{name}_{tag}", shape=shape,
            initializer=keras.initializers.get(init) if isinstance(init, str) else init,
            dtype=dtype, trainable=False, aggregation=aggregation,
        )

    def _pruned_weight(self, index: int, path, direction, role, cell, weight) -> PrunedWeight:
        """Create the state variables and the :class:`Freezable` of one pruned matrix."""
        dtype = getattr(weight, "true_dtype", weight.dtype)
        tag = (f"{direction}_" if direction else "") + ROLES[role]
        first = tf.VariableAggregation.ONLY_FIRST_REPLICA
        mask = self._state("mask", tag, weight.shape, "ones", dtype)
        threshold = self._state("threshold", tag, [], "zeros", dtype)
        good_mask = self._state("good_mask", tag, weight.shape, "ones", dtype)
        frozen = self._state("frozen", tag, [], "zeros", tf.bool, first)
        frozen_step = self._state(
            "frozen_step", tag, [], keras.initializers.Constant(-1), tf.int64, first
        )
        updates = self._state("mask_updates", tag, [], "zeros", tf.int64, first)
        # The sparsity a callback drives (negative: follow the schedule); a weight, so that it
        # is saved with the model and reachable when the training call is traced for saving.
        target = self._state("target", tag, [], keras.initializers.Constant(-1.0), tf.float32,
                             first)
        schedule = Freezable(copy.deepcopy(self.pruning_schedule), frozen=frozen, target=target)
        return PrunedWeight(
            wrapper=self, index=index, layer=path, role=role, direction=direction, cell=cell,
            weight=weight, mask=mask, threshold=threshold, good_mask=good_mask,
            frozen=frozen, frozen_step=frozen_step, mask_updates=updates, schedule=schedule,
        )

    def build(self, input_shape):
        keras.layers.Wrapper.build(self, input_shape)
        if self._pending_weights is not None:
            self.layer.set_weights(self._pending_weights)
            object.__setattr__(self, "_pending_weights", None)
        matrices = self._matrices()
        self.prunable_weights = [item[4] for item in matrices]
        self.pruning_step = self.add_weight(
            "pruning_step", shape=[], initializer=keras.initializers.Constant(-1),
            dtype=tf.int64, trainable=False,
        )
        pruned = [self._pruned_weight(i, *item) for i, item in enumerate(matrices)]
        self.pruning_vars = [(p.weight, p.mask, p.threshold) for p in pruned]
        object.__setattr__(self, "_pruned", pruned)
        object.__setattr__(self, "pruning_schedules", [p.schedule for p in pruned])
        self.pruning_obj = PerWeightPruning(
            lambda: self.pruning_step, self.pruning_vars, self.pruning_schedules,
            [p.mask_updates for p in pruned], self.block_size, self.block_pooling_type,
        )

    def call(self, inputs, training=None, **kwargs):
        """As TF-MOT's wrapper, but the step and the mask update advance once per optimizer
        step (the first call of the step being traced), not once per call."""
        if training is None:
            training = keras.backend.learning_phase()
        static = tf.get_static_value(training) if tf.is_tensor(training) else training
        # Only a call that may train takes the step's first-call slot (inference never does).
        if (static is None or bool(static)) and self._step_gate.advances(
            len(self.inbound_nodes)
        ):
            self.add_update(_smart_cond(training, self._advance, tf.no_op))
        self.add_update(self.pruning_obj.weight_mask_op())
        if "training" in inspect.getfullargspec(self.layer.call).args:
            return self.layer.call(inputs, training=training, **kwargs)
        return self.layer.call(inputs, **kwargs)

    def _advance(self):
        """Add 1 to the step, then update the masks the schedules ask for."""
        with tf.control_dependencies([self.pruning_step.assign_add(1)]):
            check = tf.debugging.assert_greater_equal(
                self.pruning_step, tf.constant(1, tf.int64), message=_NO_CALLBACK
            )
            with tf.control_dependencies([check]):
                with tf.control_dependencies([self.pruning_obj.conditional_mask_update()]):
                    return tf.no_op("update")

    @property
    def pruned_weights(self) -> list[PrunedWeight]:
        """One :class:`PrunedWeight` per pruned matrix (empty until the wrapper is built)."""
        return list(self._pruned)

    def freeze(self, role: str | None = None, direction: str | None = None) -> None:
        """Stop mask updates for ``role`` (all roles when None) of this layer."""
        for item in self._pruned:
            if (role is None or item.role == role) and (
                direction is None or item.direction == direction
            ):
                item.frozen.assign(True)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["roles"] = list(self.roles)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PruneRecurrent:
        config = dict(config)
        if "roles" not in config:  # a config saved before `roles` existed (docs/reliability.md)
            warnings.warn(
                f"PruneRecurrent config of {config.get('name')!r} lacks ['roles'] (saved by an "
                "older version?); using the default roles=('W_xh', 'W_hh').",
                UserWarning, stacklevel=2,
            )
        schedule = deserialize_schedule(config.pop("pruning_schedule"))
        layer = keras.layers.deserialize(
            config.pop("layer"), custom_objects={"PrunableBidirectional": PrunableBidirectional}
        )
        return cls(layer, pruning_schedule=schedule, **config)
