"""tf_expander_pruning: prune recurrent Keras layers while their weight graphs stay Ramanujan."""

from tf_expander_pruning import keras_compat  # noqa: F401  (must run before TensorFlow loads)
from tf_expander_pruning.keras_compat import keras
from tf_expander_pruning.spectral import (
    SpectralReport,
    analyze,
    iterative_mean_delta_r,
    ramanujan_bound,
)

__version__ = "0.1.0"

__all__ = [
    "keras",
    "SpectralReport",
    "analyze",
    "iterative_mean_delta_r",
    "ramanujan_bound",
]
