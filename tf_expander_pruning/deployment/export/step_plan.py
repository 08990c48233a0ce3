"""A plain stack of recurrent and per-step layers as a list of steps (for streaming and masks).

Both the streaming export and the masked-sequence export run the model one time step at a time
from :mod:`.cell_steps`: this module says which layers can be run that way and in what order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tf_expander_pruning.core.cells import cell_kind
from tf_expander_pruning.core.keras_compat import keras
from tf_expander_pruning.deployment.export.cell_steps import CellStep, cell_step
from tf_expander_pruning.deployment.export.preparation import linear_chain

__all__ = ["StepPlan", "step_plan", "run_layer", "run_step", "PER_STEP_LAYERS", "MASK_LAYERS"]

# Layers that act on each time step on its own, so calling them on (batch, features) is exact.
PER_STEP_LAYERS = ("Dense", "Dropout", "Activation", "TimeDistributed", "LayerNormalization",
                   "BatchNormalization", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                   "SpatialDropout1D", "ActivityRegularization", "ReLU", "Softmax", "LeakyReLU")
# Layers that make a mask for the recurrent layers after them.
MASK_LAYERS = ("Masking", "Embedding")


@dataclass
class StepPlan:
    """``entries``: ``("rnn", CellStep, layer)`` or ``("layer", layer)`` in model order.

    ``embedding`` is an ``Embedding`` first layer (token-id input), ``masking`` a ``Masking``
    layer; ``every_step`` is True when the last recurrent layer returns sequences (one output
    per step).
    """

    entries: list = field(default_factory=list)
    embedding: object = None
    masking: object = None
    every_step: bool = False

    @property
    def cells(self) -> list[CellStep]:
        return [entry[1] for entry in self.entries if entry[0] == "rnn"]


def _per_step(layer, what: str, where: str) -> None:
    if type(layer).__name__ not in PER_STEP_LAYERS:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) {where} cannot run one time step at "
            f"a time for {what}: only per-step layers ({', '.join(PER_STEP_LAYERS[:4])}, ...) "
            "may sit there. Export the whole sequence (streaming=False) instead."
        )


def _check_recurrent(layer, what: str) -> None:
    if isinstance(layer, keras.layers.Bidirectional):
        raise ValueError(
            f"Layer {layer.name!r} is Bidirectional: its backward half needs the whole sequence "
            f"before the first output, so it cannot run for {what}. Use a unidirectional layer "
            "or export the whole sequence (streaming=False)."
        )
    if cell_kind(layer) is None:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) is a recurrent layer "
                         f"that {what} does not support (SimpleRNN, LSTM and GRU are).")
    if layer.go_backwards:
        raise ValueError(f"Layer {layer.name!r} has go_backwards=True: it reads the sequence "
                         f"from its end, which {what} cannot do.")
    if getattr(layer, "return_state", False):
        raise ValueError(f"Layer {layer.name!r} has return_state=True; {what} supports "
                         "layers that return their output only.")


def step_plan(model, what: str) -> StepPlan:
    """The :class:`StepPlan` of ``model`` (stripped, float32), or a ValueError naming the layer."""
    layers = linear_chain(model, what)
    plan = StepPlan()
    recurrent = [i for i, layer in enumerate(layers)
                 if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))]
    if not recurrent:
        raise ValueError(f"`model` has no SimpleRNN, LSTM or GRU layer to run for {what}.")
    last = recurrent[-1]
    for index, layer in enumerate(layers):
        name = type(layer).__name__
        if index in recurrent:
            _check_recurrent(layer, what)
            if index != last and not layer.return_sequences:
                raise ValueError(f"Layer {layer.name!r} returns only its last output but feeds "
                                 f"another layer through time; {what} needs return_sequences="
                                 "True on every recurrent layer but the last.")
            plan.entries.append(("rnn", cell_step(layer), layer))
        elif index == 0 and name == "Embedding":
            plan.embedding = layer
        elif name == "Masking" and index < recurrent[0]:
            plan.masking = layer
        else:
            where = "between recurrent layers" if index < last else "after the last one"
            if index < last or layers[last].return_sequences:
                _per_step(layer, what, where)
            plan.entries.append(("layer", layer))
    plan.every_step = bool(layers[last].return_sequences)
    return plan


def run_layer(layer, x):
    """A per-step layer on one step ``(batch, features)`` (TimeDistributed: its inner layer)."""
    if isinstance(layer, keras.layers.TimeDistributed):
        layer = layer.layer
    return layer(x, training=False)


def run_step(plan: StepPlan, x, states: list, mask=None) -> tuple:
    """``(output, new_states)`` of one time step through every entry of ``plan``.

    ``mask`` ``(batch, 1)`` (1 = a real step, 0 = padding) makes a padded step keep the states
    and output what Keras outputs there: zeros (``zero_output_for_mask``) or the last output.
    """
    new_states, position = [], 0
    for entry in plan.entries:
        if entry[0] == "layer":
            x = run_layer(entry[1], x)
            continue
        cell, layer = entry[1], entry[2]
        count = len(cell.state_sizes)
        old = states[position:position + count]
        x, updated = cell(x, old)
        if mask is not None:
            updated = [before + mask * (after - before)
                       for before, after in zip(old, updated, strict=True)]
            x = mask * x if getattr(layer, "zero_output_for_mask", False) else updated[0]
        new_states.extend(updated)
        position += count
    return x, new_states
