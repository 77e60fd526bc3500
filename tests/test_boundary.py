"""The light/heavy boundary (harness.boundary) holds: checked on the source, and by importing.

The AST half reads every module under harness/: an import at module level runs when the module
is imported, one inside a function only when the function runs.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from harness import boundary

PACKAGE = Path(boundary.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
LIGHT = sorted(m for m in MODULES if boundary.side(m) == "light")


def imports(path: Path, source: str | None = None) -> list[tuple[str | None, str]]:
    """(enclosing function as ``outer.inner`` or None at module level, imported module) of every import
    in ``path`` (or ``source`` read as if it were there); ``from pkg import name`` counts as importing
    ``pkg.name`` when that is a module."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found = []

    def visit(node, where):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, f"{where}.{child.name}" if where else child.name)
                continue
            if isinstance(child, ast.Import):
                found.extend((where, a.name) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(up + ([child.module] if child.module else []))
                for a in child.names:
                    found.append((where, f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base))
            visit(child, where)

    visit(ast.parse(source if source is not None else path.read_text()), None)
    return found


def crossings() -> dict[str, list[str]]:
    """``module:function`` -> the heavy modules it imports, for every light module's function-local import
    of the heavy side."""
    found: dict[str, list[str]] = {}
    for mod in LIGHT:
        for where, name in imports(MODULES[mod]):
            if where is not None and boundary.is_heavy(name):
                found.setdefault(f"{mod}:{where.split('.')[0]}", []).append(name)
    return found


def test_every_module_is_declared_on_one_side():
    assert [m for m in MODULES if boundary.side(m) is None] == []
    assert set(boundary.LIGHT).isdisjoint(boundary.HEAVY)
    assert [p for p in (*boundary.LIGHT, *boundary.HEAVY) if p not in MODULES] == []


@pytest.mark.parametrize("mod", LIGHT)
def test_a_light_module_imports_nothing_heavy_at_module_level(mod):
    assert [name for where, name in imports(MODULES[mod]) if where is None and boundary.is_heavy(name)] == []


def test_a_light_module_reaches_the_heavy_side_only_at_a_declared_crossing():
    found = crossings()
    undeclared = {k: v for k, v in found.items() if k not in boundary.CROSSINGS}
    assert undeclared == {}, "declare these in harness.boundary.CROSSINGS, or import lighter"
    assert sorted(set(boundary.CROSSINGS) - set(found)) == [], "declared crossings that import nothing heavy"


def test_importing_every_light_module_leaves_jax_out():
    code = (f"import importlib, sys\nfor m in {LIGHT!r}:\n    importlib.import_module(m)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {boundary.HEAVY_LIBRARIES!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"


def test_the_walk_sees_planted_imports_at_module_level_and_in_nested_functions():
    planted = ("import jax.numpy\nfrom ..methods import base\n"
               "def f():\n    def g():\n        from harness import targets\n")
    found = imports(MODULES["harness.report.tables"], planted)
    assert found == [(None, "jax.numpy"), (None, "harness.methods.base"), ("f.g", "harness.targets")]
    assert all(boundary.is_heavy(name) for _, name in found)
