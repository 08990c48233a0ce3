"""One time step of SimpleRNN, LSTM and GRU in plain TF ops, from constant per-gate weights.

Why not the Keras cell: its step splits the fused gate pre-activations at run time (``SPLIT_V``),
which TFLM refuses as a dynamic tensor in a one-step model.  Here every gate has its own constant
``(n_in, units)`` and ``(units, units)`` slice, so each gate is one ``FULLY_CONNECTED`` per input
and TFLM (float and int8) runs the graph.  The equations are Keras's (tf_keras 2.x), checked
against the Keras layers by the streaming tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tf_expander_pruning.core.cells import cell_kind, gate_slice
from tf_expander_pruning.core.keras_compat import tf

__all__ = ["CellStep", "cell_step"]


@dataclass
class CellStep:
    """The constant weights of one recurrent layer and its step function.

    ``state_sizes`` lists the state vectors (``[units]``; ``[units, units]`` for LSTM's h, c).
    """

    kind: str
    units: int
    kernels: dict
    recurrent: dict
    biases: dict
    recurrent_biases: dict
    activation: object
    recurrent_activation: object
    reset_after: bool = False

    @property
    def state_sizes(self) -> list[int]:
        return [self.units, self.units] if self.kind == "LSTM" else [self.units]

    def _pre(self, gate, x, h):
        """x W_g + b_g + h U_g (the recurrent bias of a reset_after GRU added separately)."""
        out = tf.matmul(x, self.kernels[gate]) + tf.matmul(h, self.recurrent[gate])
        return out + self.biases[gate] if gate in self.biases else out

    def __call__(self, x, states: list) -> tuple:
        """``(output, new_states)`` for input ``x`` ``(batch, n_in)`` and the previous states."""
        if self.kind == "SimpleRNN":
            h = self.activation(self._pre(None, x, states[0]))
            return h, [h]
        if self.kind == "LSTM":
            h, c = states
            i = self.recurrent_activation(self._pre("i", x, h))
            f = self.recurrent_activation(self._pre("f", x, h))
            c_new = f * c + i * self.activation(self._pre("c", x, h))
            o = self.recurrent_activation(self._pre("o", x, h))
            h_new = o * self.activation(c_new)
            return h_new, [h_new, c_new]
        return self._gru(x, states[0])

    def _gru(self, x, h):
        z = self.recurrent_activation(self._pre("z", x, h) + self.recurrent_biases.get("z", 0.0))
        r = self.recurrent_activation(self._pre("r", x, h) + self.recurrent_biases.get("r", 0.0))
        x_h = tf.matmul(x, self.kernels["h"])
        if "h" in self.biases:
            x_h = x_h + self.biases["h"]
        if self.reset_after:
            inner = tf.matmul(h, self.recurrent["h"])
            if "h" in self.recurrent_biases:
                inner = inner + self.recurrent_biases["h"]
            candidate = self.activation(x_h + r * inner)
        else:
            candidate = self.activation(x_h + tf.matmul(r * h, self.recurrent["h"]))
        # z * h + (1 - z) * candidate, written with one multiply
        h_new = candidate + z * (h - candidate)
        return h_new, [h_new]


def _constant(array: np.ndarray):
    return tf.constant(np.ascontiguousarray(array, dtype=np.float32))


def cell_step(layer) -> CellStep:
    """The :class:`CellStep` of a Keras SimpleRNN/LSTM/GRU layer (its current weights)."""
    kind = cell_kind(layer)
    if kind is None:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) is not a SimpleRNN, "
                         "LSTM or GRU layer.")
    cell = layer.cell
    weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
    kernel, recurrent = weights[0], weights[1]
    bias = weights[2] if cell.use_bias else None
    reset_after = bool(getattr(cell, "reset_after", False))
    kernels, recurrents, biases, recurrent_biases = {}, {}, {}, {}
    for gate in kind.gates:
        columns = gate_slice(kind, gate, layer.units)
        kernels[gate] = _constant(kernel[:, columns])
        recurrents[gate] = _constant(recurrent[:, columns])
        if bias is None:
            continue
        if reset_after:  # (2, 3 * units): input bias, then recurrent bias
            biases[gate] = _constant(bias[0, columns])
            recurrent_biases[gate] = _constant(bias[1, columns])
        else:
            biases[gate] = _constant(bias[columns])
    activation = cell.activation
    return CellStep(kind.layer, int(layer.units), kernels, recurrents, biases,
                    recurrent_biases, activation,
                    getattr(cell, "recurrent_activation", activation), reset_after)
