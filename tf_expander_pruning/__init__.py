"""tf_expander_pruning: prune recurrent Keras layers while their weight graphs stay Ramanujan.

Quick start::

    import tensorflow_model_optimization as tfmot
    import tf_expander_pruning as tep

    pruned = tep.prune_rnn(model, tep.GeometricSchedule(rate=0.2, frequency=steps_per_epoch))
    pruned.compile(...)
    pruned.fit(x, y, epochs=30,
               callbacks=[tep.RamanujanConstraint(), tfmot.sparsity.keras.UpdatePruningStep()])
    tep.summary(tep.strip_pruning(pruned))

Modules, one idea each: ``spectral`` (NumPy/SciPy Ramanujan analysis), ``graphs`` (model ->
weight graphs), ``unrolled`` (graph over time), ``schedules``, ``pruning``, ``constraint``
(the callback), ``export`` (TFLite/LiteRT/TFLM), ``codegen`` (sparse C), ``datasets``,
``experiments`` (paper reproduction), ``tuning`` (keras-tuner, imported on first use), ``cli``.
"""

import os as _os

# Keras 2 must be chosen before TensorFlow is first imported (TF-MOT needs it).
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tf_expander_pruning import (  # noqa: E402
    codegen,
    datasets,
    experiments,
    export,
    keras_compat,
)
from tf_expander_pruning.constraint import RamanujanConstraint  # noqa: E402
from tf_expander_pruning.graphs import WeightGraph, summary, weight_graphs  # noqa: E402
from tf_expander_pruning.keras_compat import keras  # noqa: E402
from tf_expander_pruning.pruning import (  # noqa: E402
    PrunableBidirectional,
    PruneRecurrent,
    prune_rnn,
    strip_pruning,
)
from tf_expander_pruning.schedules import Freezable, GeometricSchedule  # noqa: E402
from tf_expander_pruning.spectral import (  # noqa: E402
    SpectralReport,
    analyze,
    iterative_mean_delta_r,
    ramanujan_bound,
)
from tf_expander_pruning.unrolled import analyze_unrolled, unrolled_graph  # noqa: E402

__version__ = "0.1.0"


def __getattr__(name: str):
    # keras-tuner imports Keras 3 (several seconds): load `tuning` only when it is asked for.
    if name == "tuning":
        import importlib

        return importlib.import_module("tf_expander_pruning.tuning")
    raise AttributeError(f"module 'tf_expander_pruning' has no attribute {name!r}")

__all__ = [
    "keras",
    "keras_compat",
    "SpectralReport",
    "analyze",
    "iterative_mean_delta_r",
    "ramanujan_bound",
    "WeightGraph",
    "weight_graphs",
    "summary",
    "analyze_unrolled",
    "unrolled_graph",
    "Freezable",
    "GeometricSchedule",
    "PruneRecurrent",
    "PrunableBidirectional",
    "prune_rnn",
    "strip_pruning",
    "RamanujanConstraint",
    "export",
    "codegen",
    "datasets",
    "experiments",
]
