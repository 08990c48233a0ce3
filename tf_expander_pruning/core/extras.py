"""Optional dependencies: which ``pip install "tf_expander_pruning[extra]"`` brings a package.

``pip install tf_expander_pruning`` installs the pruning, the constraint, TFLite conversion and C
code generation.  The runtimes that run a flatbuffer, the paper's plotting and data stack come
with extras; a feature that needs one calls :func:`require`, which names the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import MappingProxyType, ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "require", "require_installed"]

#: Extra -> the distributions it installs (the same lists as setup.cfg's extras_require; a
#: test keeps them equal).
EXTRAS = MappingProxyType({
    "deploy": ("ai-edge-litert", "tflite-micro"),
    "research": ("matplotlib", "scikit-learn"),
    "data": ("mlxtend", "mnist1d", "scikit-learn"),
})

#: Importable top-level module -> its distribution, where the names differ.
_DISTRIBUTIONS = {"ai_edge_litert": "ai-edge-litert", "tflite_micro": "tflite-micro",
                  "sklearn": "scikit-learn"}


class MissingExtraError(ImportError):
    """An optional package is not installed; the message names the extra that brings it."""


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``extra``.

    Args:
        module: dotted module name, e.g. ``"ai_edge_litert.interpreter"``.
        extra: a key of :data:`EXTRAS` whose distributions include the module's.
        feature: what needs it, for the message (``"runtime='litert'"``, ``"the plots"``).
    """
    _check_extra(extra)
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise _missing(module, extra, feature) from error


def require_installed(module: str, *, extra: str, feature: str) -> None:
    """Like :func:`require`, without importing: for a module a child process will import."""
    _check_extra(extra)
    if importlib.util.find_spec(module.split(".")[0]) is None:
        raise _missing(module, extra, feature)


def _check_extra(extra: str) -> None:
    if extra not in EXTRAS:
        raise ValueError(f"`extra` must be one of {tuple(EXTRAS)}; got {extra!r}.")


def _missing(module: str, extra: str, feature: str) -> MissingExtraError:
    top = module.split(".")[0]
    distribution = _DISTRIBUTIONS.get(top, top)
    return MissingExtraError(
        f"{feature} needs the package {distribution!r}, which is not installed. Install the "
        f"[{extra}] extra: pip install \"tf_expander_pruning[{extra}]\" (or pip install "
        f"{distribution})."
    )
