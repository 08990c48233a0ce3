"""One pruning step per optimizer step, however many times a wrapped layer is called.

TF-MOT's wrapper adds 1 to its ``pruning_step`` (and runs the mask update) on every training
call, so a layer used twice in a model (shared weights) ran its schedule at double speed.  In
a traced training step (``model.fit``, a ``tf.function`` train step) each call site of the
layer is traced into the same graph once per optimizer step, so the step advances at the first
call traced into a graph (per replica) and the later calls only apply the mask.  A
``tf.cond``/``while`` branch is a graph of its own: a layer called once in each branch of a
``tf.cond`` still advances once per step.  Eagerly (``run_eagerly=True``) there is no graph to
tell one optimizer step from the next, so a layer with several call sites raises instead.
"""

from __future__ import annotations

import weakref

from tf_expander_pruning.core.keras_compat import tf

__all__ = ["StepGate", "SharedEagerError"]


class SharedEagerError(RuntimeError):
    """A shared pruned layer trained eagerly: its step could not be counted exactly."""


def _replica_key():
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context
        return None
    replica = tf.get_static_value(context.replica_id_in_sync_group)
    return int(replica) if replica is not None else id(context)


class StepGate:
    """Decides, per training call, whether this call advances the pruning step."""

    def __init__(self, layer_name: str) -> None:
        self._layer_name = layer_name
        # Graph -> replica keys whose first call was already traced into it.
        self._seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def advances(self, call_sites: int) -> bool:
        """True for the first training call of the layer in the step being traced.

        Args:
            call_sites: how many times the layer is called in its model(s), for the eager check.

        Raises:
            SharedEagerError: eager execution with more than one call site.
        """
        if tf.executing_eagerly():
            if call_sites > 1:
                raise SharedEagerError(
                    f"Pruned layer {self._layer_name!r} is called {call_sites} times per forward "
                    "pass (shared weights). Run eagerly, its pruning step cannot be counted once "
                    "per optimizer step: compile the model without run_eagerly=True (the "
                    "default traces the training step, where it is exact)."
                )
            return True
        graph = tf.compat.v1.get_default_graph()
        seen = self._seen.setdefault(graph, set())
        key = _replica_key()
        if key in seen:
            return False
        seen.add(key)
        return True
