"""The Keras the behaviour tests build models in (tests/conftest.py parametrizes ``flavour``).

One body, every Keras: the behaviour tests of pruning and the constraint run for Keras 2
(tf_keras + TF-MOT) and for Keras 3 on the TensorFlow and JAX backends (issue 24).

``flavour`` is the Keras these tests build models in.  In the main test process it is Keras 2;
``tests/test_backends.py`` runs this directory once more in a child process per Keras 3
backend, with ``KERAS_BACKEND=<backend>`` and ``TEP_BEHAVIOUR_KERAS=3`` (a backend is chosen
when Keras 3 is first imported, so each needs a process of its own).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType

import numpy as np


@dataclass(frozen=True)
class Flavour:
    """The Keras under test: ``keras`` is the module (tf_keras or Keras 3)."""

    name: str  # "keras2", "keras3-tensorflow", "keras3-jax"
    keras: ModuleType

    @property
    def generation(self) -> int:
        return 3 if self.name.startswith("keras3") else 2

    @property
    def zero_after_every_step(self) -> bool:
        """Keras 3 zeroes pruned weights right after each optimizer step (a kernel
        constraint); TF-MOT masks them at the start of the next forward pass and at epoch end,
        so between steps only the masked product is exact on Keras 2."""
        return self.generation == 3

    def load(self, path):
        if self.generation == 3:
            return self.keras.saving.load_model(path)
        return self.keras.models.load_model(path)


def _flavour() -> Flavour:
    if os.environ.get("TEP_BEHAVIOUR_KERAS") == "3":
        import keras

        assert keras.__version__.startswith("3")
        return Flavour(f"keras3-{keras.backend.backend()}", keras)
    from tf_expander_pruning.keras_compat import keras

    return Flavour("keras2", keras)


FLAVOUR = _flavour()


def data(n: int = 64, steps: int = 6, features: int = 4, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features)).astype("float32")
    y = (x[:, 0, 0] > 0).astype("int64") + (x[:, -1, 1] > 0).astype("int64")
    return x, y % classes
