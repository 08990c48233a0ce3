"""Issue 23, item 8: layers import only downward (core -> analysis -> pruning -> constraint ->
deployment -> research -> cli).  Every ``import`` of every module of the package, read with
``ast`` (function-level lazy imports included), must target its own layer or one below."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tf_expander_pruning"
LAYERS = ("core", "analysis", "pruning", "constraint", "deployment", "research", "cli")


def layer_of(module: str) -> int | None:
    """Index of the layer of a dotted module name inside the package; None for the root."""
    parts = module.split(".")
    if parts[0] != "tf_expander_pruning" or len(parts) < 2:
        return None
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] in LAYERS)


def test_every_layer_folder_exists():
    assert {p.relative_to(PACKAGE).parts[0] for p in MODULES} == set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_its_layer_or_below(path):
    own = LAYERS.index(path.relative_to(PACKAGE).parts[0])
    upward = [(line, name) for line, name in imports(path)
              if (layer := layer_of(name)) is not None and layer > own]
    assert not upward, f"{path.name} ({LAYERS[own]}) imports a layer above: {upward}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The checker itself: a core module importing research is caught."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from tf_expander_pruning.research import demo\n")
    assert [layer_of(name) for _, name in imports(module)] == [LAYERS.index("research")]
