"""How a cell's walk through ``worker.run_cell`` climbs the module floors (issue 33: at most 3 times).

A module's floor is the depth of the harness modules it imports at module level (a module importing
none is floor 0). A walk "climbs back up" when, while a cell runs, a function imports (locally) a
harness module on a higher floor than its own: the lower module reaching back up the layering.
"""

import ast
import builtins
import sys
from pathlib import Path

import harness
from harness import worker
from harness.cell import Cell, load_plugins, validate

ROOT = Path(harness.__file__).resolve().parent.parent


def _floors() -> dict[str, int]:
    deps = {}
    for path in (ROOT / "harness").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found = set()
        for node in ast.parse(path.read_text()).body:  # module level only
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("harness")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        deps[name] = found
    deps = {m: {d for d in found if d in deps and d != m} for m, found in deps.items()}
    floor: dict[str, int] = {}

    def depth(m, seen=()):
        if m not in floor:
            below = [depth(d, seen + (m,)) for d in deps[m] if d not in seen]
            floor[m] = 1 + max(below) if below else 0
        return floor[m]

    for m in deps:
        depth(m)
    return floor


def test_a_cells_walk_climbs_back_up_at_most_three_times(monkeypatch):
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_cells")
    load_plugins()
    cell = validate(Cell("test_tiny", "analytic", None, "test_fake", num_chains=2, num_warmup=10, num_samples=20))
    floor = _floors()
    worker.run_cell(cell)  # first run: imports at first use are not what is counted
    climbs, real = [], builtins.__import__

    def watching(name, globals=None, locals=None, fromlist=(), level=0):
        who = (globals or {}).get("__name__", "")
        if who in floor and name.startswith("harness") and sys._getframe(1).f_code.co_name != "<module>":
            for target in [f"{name}.{f}" if f"{name}.{f}" in floor else name for f in fromlist or ()] or [name]:
                if target in floor and floor[target] > floor[who]:
                    climbs.append((who, sys._getframe(1).f_code.co_name, target))
        return real(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", watching)
    row = worker.run_cell(cell)
    monkeypatch.setattr(builtins, "__import__", real)
    assert row["status"] == "ok"
    assert len(climbs) <= 3, climbs
