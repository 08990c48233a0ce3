"""The ``flavour`` fixture: the Keras of this process (see flavours.py)."""

import pytest
from flavours import FLAVOUR, Flavour


@pytest.fixture(params=[FLAVOUR.name])
def flavour() -> Flavour:
    FLAVOUR.keras.utils.set_random_seed(0)
    return FLAVOUR
