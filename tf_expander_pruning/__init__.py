"""tf_expander_pruning: prune recurrent Keras layers while their weight graphs stay Ramanujan.

Quick start::

    import tensorflow_model_optimization as tfmot
    import tf_expander_pruning as tep

    pruned = tep.prune_rnn(model, tep.GeometricSchedule(rate=0.2, frequency=steps_per_epoch))
    pruned.compile(...)
    pruned.fit(x, y, epochs=30,
               callbacks=[tep.RamanujanConstraint(), tfmot.sparsity.keras.UpdatePruningStep()])
    tep.summary(tep.strip_pruning(pruned))

The package is laid out by layer, each importing only the ones before it (see
``docs/architecture.md``)::

    core -> analysis -> pruning -> constraint -> deployment -> research -> cli

Modules keep their short public paths (``tep.spectral``, ``tep.graphs``, ``tep.export``,
``tep.codegen``, ``tep.datasets``, ``tep.experiments``, ``tep.tuning``, ...).  Nothing heavy is
imported here: ``import tf_expander_pruning.spectral`` needs only NumPy and SciPy, and
TensorFlow, TF-MOT and keras-tuner load on first use of a name that needs them (PEP 562).
"""

import importlib as _importlib
import os as _os
import sys as _sys

# Keras 2 must be chosen before TensorFlow is first imported (TF-MOT needs it).
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tf_expander_pruning.core import aliases as _aliases  # noqa: E402

_aliases.install()

__version__ = "0.1.0"

#: Public name -> module that defines it (relative to the package root).
_NAMES = {
    "keras": "core.keras_compat",
    "SpectralReport": "analysis.spectral",
    "analyze": "analysis.spectral",
    "iterative_mean_delta_r": "analysis.spectral",
    "ramanujan_bound": "analysis.spectral",
    "WeightGraph": "analysis.graphs",
    "weight_graphs": "analysis.graphs",
    "summary": "analysis.graphs",
    "analyze_unrolled": "analysis.unrolled",
    "unrolled_graph": "analysis.unrolled",
    "Freezable": "pruning.schedules",
    "GeometricSchedule": "pruning.schedules",
    "PruneRecurrent": "pruning.wrapper",
    "PrunableBidirectional": "pruning.wrapper",
    "prune_rnn": "pruning.wrapper",
    "pruned_weights": "pruning.wrapper",
    "strip_pruning": "pruning.wrapper",
    "RamanujanConstraint": "constraint.callback",
}

__all__ = [*_NAMES, *_aliases.ALIASES, "pruning", "constraint", "cli"]


def __getattr__(name: str):
    if name in _NAMES:
        module = _importlib.import_module(f"{__name__}.{_NAMES[name]}")
        value = getattr(module, name)
        if name == "keras":  # whoever takes our Keras may load a saved pruned model next
            _importlib.import_module(f"{__name__}.pruning")
    elif name in _aliases.ALIASES or name in ("core", "analysis", "pruning", "constraint",
                                             "deployment", "research", "cli"):
        value = _importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


# Saved models name our schedules and wrappers by their bare class names, which are registered
# with Keras when `pruning` is imported.  If Keras 2 is already loaded, registering costs nothing,
# so do it now and `keras.models.load_model` works right after `import tf_expander_pruning`.
if "tf_keras" in _sys.modules:
    _importlib.import_module(f"{__name__}.pruning")
