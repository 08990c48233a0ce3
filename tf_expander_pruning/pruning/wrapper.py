"""Magnitude pruning of recurrent layers with one freezable schedule per weight matrix.

TF-MOT's ``prune_low_magnitude`` drives every prunable weight of a layer from one schedule and
names every mask of a wrapper ``mask`` (which breaks ``.h5``/``.keras`` saving of pruned RNNs,
TF-MOT issue 1077).  :class:`PruneRecurrent` is a ``PruneLowMagnitude`` subclass that fixes both:

* each pruned matrix (``W_xh`` = ``kernel``, ``W_hh`` = ``recurrent_kernel``; forward and
  backward for ``Bidirectional``) gets its own :class:`~tf_expander_pruning.schedules.Freezable`
  copy of the schedule, so one can be frozen while the other keeps pruning;
* its variables have unique names (``mask_kernel``, ``mask_recurrent_kernel``,
  ``mask_forward_kernel``, ...);
* the state a :class:`~tf_expander_pruning.constraint.RamanujanConstraint` needs to resume is kept
  in wrapper weights (saved with the model and by ``BackupAndRestore``): per pruned matrix a
  ``frozen_*`` flag (the variable its schedule reads), ``good_mask_*`` (the last mask that passed
  the check), ``frozen_step_*`` and a ``mask_updates_*`` counter bumped on every mask update.

Because it subclasses ``PruneLowMagnitude``, TF-MOT's ``UpdatePruningStep``, ``PruningSummaries``
and ``strip_pruning`` treat it like their own wrapper; ``wrapper.pruning_vars`` is the usual list of
``(weight, mask, threshold)`` in ``get_prunable_weights()`` order (restricted to the chosen roles)
and ``wrapper.layer`` is the wrapped layer.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tf_expander_pruning.core.keras_compat import check_model, keras, tf

# isort: split
# TF-MOT must be imported after keras_compat has selected Keras 2.  Its public API does not
# export the wrapper and Pruning classes we subclass / reuse, hence the internal modules.
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl
from tensorflow_model_optimization.python.core.sparsity.keras.prunable_layer import PrunableLayer
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)

from tf_expander_pruning.analysis.graphs import GATES as _GRAPH_GATES
from tf_expander_pruning.analysis.graphs import ROLES
from tf_expander_pruning.analysis.graphs import cell_kind_name as _cell_kind
from tf_expander_pruning.core.layers import all_layers as _all_layers
from tf_expander_pruning.pruning.schedules import (
    Freezable,
    PruningSchedule,
    deserialize_schedule,
    validate_schedule,
)

__all__ = [
    "ROLES",
    "PrunedWeight",
    "PruneRecurrent",
    "PrunableBidirectional",
    "prune_rnn",
    "strip_pruning",
    "pruned_weights",
    "is_recurrent_layer",
]

#: Gate letters in Keras's column order of the concatenated kernels, by cell class name
#: (none for SimpleRNN, whose kernel is one block).
GATES = {kind: tuple(g for g in gates if g) for kind, gates in _GRAPH_GATES.items()}


def _supported_rnn(layer) -> bool:
    return (
        isinstance(layer, keras.layers.RNN)
        and not isinstance(layer.cell, keras.layers.StackedRNNCells)
        and _cell_kind(layer.cell) is not None
    )


def is_recurrent_layer(layer: keras.layers.Layer) -> bool:
    """True for SimpleRNN / LSTM / GRU (or ``RNN`` over one such cell) and ``Bidirectional``
    around them: the layers :func:`prune_rnn` wraps."""
    if isinstance(layer, keras.layers.Bidirectional):
        return _supported_rnn(layer.forward_layer) and _supported_rnn(layer.backward_layer)
    return _supported_rnn(layer)


def _check_roles(roles, argument: str = "roles") -> tuple[str, ...]:
    if isinstance(roles, str):
        roles = (roles,)
    try:
        roles = tuple(roles)
    except TypeError:
        raise TypeError(f"`{argument}` must be a sequence of role names, got {roles!r}.") from None
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(
            f"Unknown weight role(s) {unknown} in `{argument}`. Use 'W_xh' (the kernel, "
            "input -> hidden) and/or 'W_hh' (the recurrent_kernel, hidden -> hidden)."
        )
    if not roles:
        raise ValueError(f"`{argument}` is empty: name at least one of 'W_xh', 'W_hh'.")
    # Keep the cell's own order (kernel before recurrent_kernel) whatever order was given.
    return tuple(role for role in ROLES if role in roles)


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
        return _cell_kind(self.cell) or type(self.cell).__name__

    @property
    def gates(self) -> tuple[str, ...]:
        """Gate letters (empty for SimpleRNN): gate ``k`` is columns ``[k*units, (k+1)*units)``."""
        return GATES.get(self.cell_type, ())

    @property
    def name(self) -> str:
        return f"{self.layer}/{self.role}"


class PrunableBidirectional(keras.layers.Bidirectional, PrunableLayer):
    """``Bidirectional`` that TF-MOT can prune: forward and backward kernels are prunable.

    TF-MOT's prune registry has no entry for ``Bidirectional`` (TF-MOT issues 39, 374); its
    ``PrunableLayer`` interface is the supported way in.  Order of
    :meth:`get_prunable_weights`: forward kernel, forward recurrent_kernel, backward kernel,
    backward recurrent_kernel.
    """

    def get_prunable_weights(self) -> list:
        weights = []
        for sub in (self.forward_layer, self.backward_layer):
            weights.extend(getattr(sub.cell, attr) for attr in ROLES.values())
        return weights


def _rnn_prunable_weights(layer):
    # Our own accessor (instead of TF-MOT's registry, which only accepts the exact LSTM/GRU/
    # SimpleRNN/RNN classes) so subclasses of those layers can be pruned too.
    def get_prunable_weights():
        return [getattr(layer.cell, attr) for attr in ROLES.values()]

    return get_prunable_weights


def _assign(variable, value):
    return variable.assign(value)


class _PerWeightPruning:
    """TF-MOT's ``Pruning`` logic with one schedule (and one update counter) per weight.

    ``weight_mask_op`` is TF-MOT's, over all weights (``UpdatePruningStep`` calls it at epoch
    end); ``conditional_mask_update`` runs TF-MOT's mask computation for each weight under that
    weight's own schedule predicate and increments the weight's ``mask_updates`` counter, which
    lets a callback see cheaply which masks changed in the last step.
    """

    def __init__(self, step_fn, pruning_vars, schedules, counters, block_size,
                 block_pooling_type):
        self._step_fn = step_fn
        self._counters = list(counters)
        self._schedules = list(schedules)
        self._all = pruning_impl.Pruning(
            training_step_fn=step_fn, pruning_vars=pruning_vars, pruning_schedule=schedules[0],
            block_size=block_size, block_pooling_type=block_pooling_type,
        )
        self._parts = [
            pruning_impl.Pruning(
                training_step_fn=step_fn, pruning_vars=[entry], pruning_schedule=schedule,
                block_size=block_size, block_pooling_type=block_pooling_type,
            )
            for entry, schedule in zip(pruning_vars, schedules, strict=True)
        ]
        self._pruning_vars = list(pruning_vars)
        self._shared = self._shared_base()  # the schedules are fixed: decide once

    def weight_mask_op(self):
        return self._all.weight_mask_op()

    def _shared_base(self):
        """The base schedule every weight's :class:`Freezable` copies, if they all agree."""
        bases = [getattr(schedule, "base_schedule", None) for schedule in self._schedules]
        if any(base is None for base in bases):
            return None
        config = bases[0].get_config()
        return bases[0] if all(base.get_config() == config for base in bases[1:]) else None

    def _updates(self, assign):
        step = self._step_fn()
        shared = self._shared

        def per_weight(frozen_only: bool):
            ops = []
            for part, schedule, counter, (weight, mask, threshold) in zip(
                self._parts, self._schedules, self._counters, self._pruning_vars, strict=True
            ):
                def update(part=part, weight=weight, mask=mask, threshold=threshold,
                           counter=counter):
                    new_threshold, new_mask = part._maybe_update_block_mask(weight)
                    return tf.group(
                        assign(mask, new_mask),
                        assign(threshold, new_threshold),
                        assign(counter, counter + 1),
                    )

                should = (
                    tf.math.logical_not(schedule.frozen) if frozen_only else schedule(step)[0]
                )
                ops.append(tf.cond(should, update, tf.no_op))
            return tf.group(ops)

        if shared is None:
            return per_weight(frozen_only=False)
        # One schedule evaluation and one branch on the (many) steps without an update, as in
        # TF-MOT; inside it each weight only checks its own frozen flag.
        return tf.cond(shared(step)[0], lambda: per_weight(frozen_only=True), tf.no_op)

    def conditional_mask_update(self):
        context = tf.distribute.get_replica_context()
        if context:
            # As TF-MOT: compute the masks once in cross-replica context and write every
            # replica's copy, so all replicas keep identical masks.
            def merged(distribution):
                return self._updates(
                    lambda var, value: distribution.extended.update(var, _assign, (value,))
                )

            return context.merge_call(merged)
        return self._updates(_assign)

    def add_pruning_summaries(self):
        for part in self._parts:
            part.add_pruning_summaries()


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
        self.roles = _check_roles(roles)
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
            layer.get_prunable_weights = _rnn_prunable_weights(layer)
        kwargs.pop("sparsity_m_by_n", None)
        super().__init__(
            layer,
            pruning_schedule=pruning_schedule,
            block_size=block_size,
            block_pooling_type=block_pooling_type,
            **kwargs,
        )
        # Python lists that Keras must not track (their variables are tracked as weights).
        object.__setattr__(self, "_pruned", [])
        object.__setattr__(self, "pruning_schedules", [])
        object.__setattr__(self, "_pending_weights", pending)

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
        pruned, schedules, pruning_vars = [], [], []
        for index, (path, direction, role, cell, weight) in enumerate(matrices):
            dtype = getattr(weight, "true_dtype", weight.dtype)
            tag = (f"{direction}_" if direction else "") + ROLES[role]

            def state(name, shape, init, dtype, aggregation=tf.VariableAggregation.MEAN,
                      tag=tag):
                return self.add_weight(
                    f"{name}_{tag}", shape=shape, initializer=keras.initializers.get(init)
                    if isinstance(init, str) else init,
                    dtype=dtype, trainable=False, aggregation=aggregation,
                )

            first = tf.VariableAggregation.ONLY_FIRST_REPLICA
            mask = state("mask", weight.shape, "ones", dtype)
            threshold = state("threshold", [], "zeros", dtype)
            good_mask = state("good_mask", weight.shape, "ones", dtype)
            frozen = state("frozen", [], "zeros", tf.bool, first)
            frozen_step = state(
                "frozen_step", [], keras.initializers.Constant(-1), tf.int64, first
            )
            updates = state("mask_updates", [], "zeros", tf.int64, first)
            schedule = Freezable(copy.deepcopy(self.pruning_schedule), frozen=frozen)
            schedules.append(schedule)
            pruning_vars.append((weight, mask, threshold))
            pruned.append(PrunedWeight(
                wrapper=self, index=index, layer=path, role=role, direction=direction, cell=cell,
                weight=weight, mask=mask, threshold=threshold, good_mask=good_mask,
                frozen=frozen, frozen_step=frozen_step, mask_updates=updates, schedule=schedule,
            ))
        self.pruning_vars = pruning_vars
        object.__setattr__(self, "_pruned", pruned)
        object.__setattr__(self, "pruning_schedules", schedules)

        def training_step_fn():
            return self.pruning_step

        self.pruning_obj = _PerWeightPruning(
            training_step_fn, pruning_vars, schedules, [p.mask_updates for p in pruned],
            self.block_size, self.block_pooling_type,
        )

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


def pruned_weights(model: keras.Model) -> list[PrunedWeight]:
    """Every matrix pruned by a :class:`PruneRecurrent` wrapper in ``model`` (nested included)."""
    found = []
    for layer in _all_layers(check_model(model)):
        if isinstance(layer, PruneRecurrent):
            found.extend(layer.pruned_weights)
    return found


def _copy_layer(layer):
    """A fresh layer with the same config (weights are copied after the clone is built)."""
    try:
        return layer.__class__.from_config(layer.get_config())
    except Exception:  # a custom layer without a usable config: share it, as TF-MOT does
        return layer


def prune_rnn(
    model: keras.Model,
    schedule: PruningSchedule,
    *,
    roles: Sequence[str] = ("W_xh", "W_hh"),
    layers: Iterable[str | Any] | str | None = None,
) -> keras.Model:
    """Wrap the recurrent layers of ``model`` for magnitude pruning; leave all others dense.

    Every wrapped layer gets its own copy of ``schedule`` and every pruned matrix inside it its
    own :class:`Freezable`, so a :class:`~tf_expander_pruning.constraint.RamanujanConstraint` can
    freeze each ``W_xh``/``W_hh`` on its own.  The result is a new model (same structure,
    Sequential stays Sequential); the input model is not modified and shares no weights with it.

    Args:
        model: a built or unbuilt tf_keras Sequential or functional model.
        schedule: a TF-MOT ``PruningSchedule`` (e.g. ``GeometricSchedule(rate=0.2,
            frequency=20)`` or ``tfmot.sparsity.keras.PolynomialDecay(...)``); mask updates happen
            every ``schedule.frequency`` optimizer steps.
        roles: prune ``"W_xh"`` (kernel), ``"W_hh"`` (recurrent_kernel) or both.
        layers: names (or layer objects of ``model``) of the recurrent layers to prune; default
            every SimpleRNN/LSTM/GRU/Bidirectional layer.

    Returns:
        The pruned model; train it with ``tfmot.sparsity.keras.UpdatePruningStep()``.

    Raises:
        TypeError: ``model`` is not a tf_keras model (e.g. Keras 3), or ``schedule`` is not a
            PruningSchedule.
        ValueError: no recurrent layer to prune, an unknown or non-recurrent entry in
            ``layers``, an unknown role, a schedule whose end is before its begin, a layer that
            is already wrapped for pruning.
    """
    check_model(model)
    validate_schedule(schedule)
    roles = _check_roles(roles)
    if not (isinstance(model, keras.Sequential) or getattr(model, "_is_graph_network", False)):
        raise ValueError(
            f"prune_rnn supports Sequential and functional models; {type(model).__name__} is a "
            "subclassed model. Wrap its recurrent layers yourself: PruneRecurrent(layer, schedule)."
        )
    already = [
        layer.name for layer in model.layers if isinstance(layer, PruneLowMagnitude)
    ]
    if already:
        raise ValueError(
            f"Layers {already} are already wrapped for pruning; call prune_rnn on the dense "
            "model (strip_pruning(model) removes the wrappers)."
        )
    recurrent = [layer for layer in model.layers if is_recurrent_layer(layer)]
    if layers is None:
        targets = recurrent
    else:
        if isinstance(layers, (str, keras.layers.Layer)):
            layers = [layers]
        elif not isinstance(layers, Iterable):  # else a bare "'int' object is not iterable"
            raise TypeError(
                f"`layers` must be a layer name, a layer, or a list of them; got {layers!r}."
            )
        by_name = {layer.name: layer for layer in model.layers}
        targets = []
        for item in layers:
            layer = by_name.get(item) if isinstance(item, str) else item
            if layer is None or not any(layer is other for other in model.layers):
                raise ValueError(
                    f"`layers` names {item!r}, which is not a layer of model {model.name!r}. "
                    f"Its recurrent layers are: {[layer.name for layer in recurrent]}."
                )
            if not is_recurrent_layer(layer):
                raise ValueError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) is not a SimpleRNN, LSTM, "
                    "GRU or Bidirectional around one; prune_rnn only prunes recurrent layers."
                )
            targets.append(layer)
    if not targets:
        raise ValueError(
            f"Model {model.name!r} has no recurrent layer to prune (SimpleRNN, LSTM, GRU, or "
            "Bidirectional around one, at the top level of the model). Add one, or use "
            "tfmot.sparsity.keras.prune_low_magnitude for other layer types."
        )
    target_ids = {id(layer) for layer in targets}
    pairs = []  # (new layer, old layer): weights are copied once the clone is built

    def clone(layer):
        if id(layer) in target_ids:
            if isinstance(layer, keras.layers.Bidirectional):
                inner = PrunableBidirectional.from_config(layer.get_config())
            else:
                inner = _copy_layer(layer)
            wrapper = PruneRecurrent(
                inner, pruning_schedule=deserialize_schedule(schedule.get_config()), roles=roles
            )
            pairs.append((wrapper.layer, layer))
            return wrapper
        new = _copy_layer(layer)
        if new is not layer:
            pairs.append((new, layer))
        return new

    pruned = keras.models.clone_model(model, input_tensors=None, clone_function=clone)
    for new, old in pairs:
        if old.built and new.built and old.weights:
            new.set_weights(old.get_weights())
    return pruned


def strip_pruning(model: keras.Model) -> keras.Model:
    """Remove every pruning wrapper (ours and TF-MOT's), keeping the sparse weights.

    Masks are applied to the weights first; a :class:`PrunableBidirectional` becomes a plain
    ``Bidirectional`` so the exported model needs nothing from this package.
    ``tfmot.sparsity.keras.strip_pruning`` also works on our wrappers (it leaves the
    ``PrunableBidirectional`` class in place).

    Raises:
        TypeError: not a tf_keras model.
    """
    check_model(model)
    pairs = []

    def strip(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, input_tensors=None, clone_function=strip)
        if not isinstance(layer, PruneLowMagnitude):
            return layer
        if layer.built:
            layer.pruning_obj.weight_mask_op()
        inner = layer.layer
        if isinstance(inner, PrunableBidirectional):
            plain = keras.layers.Bidirectional.from_config(inner.get_config())
            pairs.append((plain, inner))
            inner = plain
        # As TF-MOT: keep the Sequential input shape that lived on the wrapper.
        if not hasattr(inner, "_batch_input_shape") and hasattr(layer, "_batch_input_shape"):
            inner._batch_input_shape = layer._batch_input_shape
        return inner

    stripped = keras.models.clone_model(model, input_tensors=None, clone_function=strip)
    for new, old in pairs:
        if old.built and new.built:
            new.set_weights(old.get_weights())
    return stripped


# Bare-name registration so load_model/from_config find them without custom_objects.
keras.utils.get_custom_objects().update(
    {"PruneRecurrent": PruneRecurrent, "PrunableBidirectional": PrunableBidirectional}
)
