"""Short public module paths (``tf_expander_pruning.spectral``) for modules that live in a layer.

The package is laid out by layer (``analysis``, ``pruning``, ``constraint``, ``deployment``,
``research``, ``cli``), but users and the issues name modules by their short path:
``tf_expander_pruning.spectral.analyze``, ``tf_expander_pruning.export.to_tflite``.  A finder on
``sys.meta_path`` maps each short path to the real module on first import, so
``import tf_expander_pruning.spectral`` gives the very module object of
``tf_expander_pruning.analysis.spectral`` (monkeypatching one patches the other) and imports
nothing it does not need.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

PACKAGE = "tf_expander_pruning"

#: Short name under the package root -> module path relative to the root.
ALIASES = {
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


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.real_spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # The real module already ran; only undo the import system's overwrite of __spec__, so
        # the module still names its real home (reload, pickling and tracebacks rely on it).
        module.__spec__ = self.real_spec

    def get_code(self, fullname):
        # For ``python -m tf_expander_pruning.demo``: runpy runs the real module's code.
        spec = importlib.util.find_spec(self.target)
        return spec.loader.get_code(self.target)


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        prefix, _, short = fullname.rpartition(".")
        if prefix != PACKAGE or short not in ALIASES:
            return None
        real = f"{PACKAGE}.{ALIASES[short]}"
        # The real file as origin: `python -m` sets sys.argv[0] from it (None breaks TensorFlow).
        origin = importlib.util.find_spec(real).origin
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real), origin=origin)


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` once (idempotent)."""
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


def resolve(short: str) -> str:
    """The real module path behind a short public name (``"export"`` -> its deployment module)."""
    return f"{PACKAGE}.{ALIASES[short]}"
