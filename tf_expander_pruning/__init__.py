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

import os as _os
import sys as _sys
import types as _types
from importlib import import_module as _import_module
from importlib.util import spec_from_file_location as _spec_from_file_location
from typing import TYPE_CHECKING

# Keras 2 must be chosen before TensorFlow is first imported (TF-MOT needs it).
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__version__ = "0.1.0"

#: Short public module path -> the module of its layer (relative to the package root).  Each
#: short path is the very module object of its layer (``tep.export is
#: tep.deployment.export``), importable either way and loaded on first use.
MODULES = {
    "keras_compat": "core.keras_compat",
    "spectral": "analysis.spectral",
    "graphs": "analysis.graphs",
    "unrolled": "analysis.unrolled",
    "schedules": "pruning.schedules",
    "export": "deployment.export",
    "codegen": "deployment.codegen",
    "datasets": "research.datasets",
    "experiments": "research.experiments",
    "tuning": "research.tuning",
    "demo": "research.demo",
}

#: Public name at the root -> the module that defines it (relative to the package root).
NAMES = {
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
    "PruneRecurrent": "pruning.recurrent",
    "PrunableBidirectional": "pruning.recurrent_layers",
    "prune_rnn": "pruning.model_ops",
    "pruned_weights": "pruning.model_ops",
    "strip_pruning": "pruning.model_ops",
    "UpdatePruningStep": "pruning.step_callback",
    "RamanujanConstraint": "constraint.callback",
}

_LAYERS = ("core", "analysis", "pruning", "constraint", "deployment", "research", "cli")

__all__ = [*NAMES, *MODULES, *_LAYERS]

if TYPE_CHECKING:  # what editors and type checkers see; at run time the names load lazily
    from tf_expander_pruning.analysis import graphs, spectral, unrolled
    from tf_expander_pruning.analysis.graphs import WeightGraph, summary, weight_graphs
    from tf_expander_pruning.analysis.spectral import (
        SpectralReport,
        analyze,
        iterative_mean_delta_r,
        ramanujan_bound,
    )
    from tf_expander_pruning.analysis.unrolled import analyze_unrolled, unrolled_graph
    from tf_expander_pruning.constraint.callback import RamanujanConstraint
    from tf_expander_pruning.core import keras_compat
    from tf_expander_pruning.core.keras_compat import keras
    from tf_expander_pruning.deployment import codegen, export
    from tf_expander_pruning.pruning import schedules
    from tf_expander_pruning.pruning.model_ops import prune_rnn, pruned_weights, strip_pruning
    from tf_expander_pruning.pruning.recurrent import PruneRecurrent
    from tf_expander_pruning.pruning.recurrent_layers import PrunableBidirectional
    from tf_expander_pruning.pruning.schedules import Freezable, GeometricSchedule
    from tf_expander_pruning.pruning.step_callback import UpdatePruningStep
    from tf_expander_pruning.research import datasets, demo, experiments, tuning


class _ShortPath(_types.ModuleType):
    """``tf_expander_pruning.<short>`` in ``sys.modules`` until first use.

    So ``import tf_expander_pruning.export`` and ``from tf_expander_pruning.export import
    to_tflite`` are plain imports that load nothing heavy until a name is used.  The first use
    imports the layer's module the normal way and puts it in place of this stand-in: from then
    on the short path *is* that module object.
    """

    def __getattr__(self, name: str):
        short = self.__name__.rpartition(".")[2]
        if name == "__path__" and not _is_package(short):  # runpy asks; answering loads nothing
            raise AttributeError(f"{self.__name__!r} is a module, not a package")
        return getattr(_resolve(short), name)

    def __setattr__(self, name: str, value) -> None:  # monkeypatching the stand-in patches it
        setattr(_resolve(self.__name__.rpartition(".")[2]), name, value)


def _resolve(short: str):
    """Import the module behind a short path and make the short path that very module."""
    module = _import_module(f"{__name__}.{MODULES[short]}")
    _sys.modules[f"{__name__}.{short}"] = module
    globals()[short] = module
    return module


def _stand_in(short: str) -> _ShortPath:
    stand_in = _ShortPath(f"{__name__}.{short}")
    for name in ("__loader__", "__package__", "__doc__"):  # these forward to the real module
        del vars(stand_in)[name]
    # The import system (and runpy, for `python -m tf_expander_pruning.<short>`) reads the
    # `__spec__` and `__path__` of a module it finds in sys.modules: a spec of the stand-in's own,
    # pointing at the layer's file, keeps a plain import from loading the module.
    location = _location(short)
    source = _os.path.join(location, "__init__.py") if _is_package(short) else location + ".py"
    vars(stand_in)["__spec__"] = _spec_from_file_location(stand_in.__name__, source)
    return stand_in


def _location(short: str) -> str:
    return _os.path.join(_os.path.dirname(__file__), *MODULES[short].split("."))


def _is_package(short: str) -> bool:
    return _os.path.isdir(_location(short))


for _short in MODULES:
    _sys.modules.setdefault(f"{__name__}.{_short}", _stand_in(_short))


def __getattr__(name: str):
    if name in NAMES:
        value = getattr(_import_module(f"{__name__}.{NAMES[name]}"), name)
        if name == "keras":  # whoever takes our Keras may load a saved pruned model next
            _import_module(f"{__name__}.pruning")
    elif name in MODULES:
        return _resolve(name)
    elif name in _LAYERS:
        value = _import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


# Saved models name our schedules and wrappers by their bare class names, which are registered
# with Keras when `pruning` is imported.  If Keras 2 or Keras 3 is already loaded, register now,
# so `keras.models.load_model` / `keras.saving.load_model` work right after the import.
if "tf_keras" in _sys.modules or "keras" in _sys.modules:
    _import_module(f"{__name__}.pruning")
