"""TF-MOT's ``Pruning`` logic with one schedule (and one update counter) per weight."""

from __future__ import annotations

from tf_expander_pruning.core.keras_compat import tf
from tf_expander_pruning.pruning.tfmot_adapter import Pruning, block_mask_update

__all__ = ["PerWeightPruning"]


def _assign(variable, value):
    return variable.assign(value)


class PerWeightPruning:
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
        self._all = Pruning(
            training_step_fn=step_fn, pruning_vars=pruning_vars, pruning_schedule=schedules[0],
            block_size=block_size, block_pooling_type=block_pooling_type,
        )
        self._parts = [
            Pruning(
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
                    new_threshold, new_mask = block_mask_update(part, weight)
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
