"""Which harness modules are light (no JAX at import) and which heavy, and where light reaches heavy.

The parent process (the CLI, the runner, suites, the store and the report) must not import
JAX: every measured cell runs in a fresh child process (forked by :mod:`harness.launcher`, which
has started no JAX backend, to run :mod:`harness.worker`) so its compile times are real, and a report or a ``harness list`` must work where JAX is missing or
slow to start. So the package has two sides:

- **light** (:data:`LIGHT`): imports no heavy module and none of :data:`HEAVY_LIBRARIES` at
  module level;
- **heavy** (:data:`HEAVY`): the methods, targets and the child's timing; they import JAX.

A light module reaches the heavy side only inside a function, and only at a declared
:data:`CROSSINGS` point, e.g. validating a cell against the method registry. ``tests/test_boundary.py``
checks all of it: each module is declared once, no light module imports heavy at module
level, importing every light module leaves ``jax`` out of ``sys.modules``, and every
function-local import of the heavy side sits at a declared crossing.
"""

from __future__ import annotations

#: Light modules and packages (a package includes its submodules).
LIGHT = (
    "harness", "harness.boundary", "harness.registry", "harness.cell", "harness.cli", "harness.dask_executor",
    "harness.derived", "harness.draws", "harness.environment", "harness.ingest", "harness.launcher",
    "harness.mcmc_vs_vi",
    "harness.metrics", "harness.progress", "harness.recheck", "harness.report", "harness.runner",
    "harness.schema", "harness.store", "harness.suites", "harness.table",
)

#: Heavy modules and packages: they import JAX (or a library built on it) when imported.
HEAVY = (
    "harness.methods", "harness.targets", "harness.timing", "harness.worker", "harness.roofline",
    "harness.reference_runs", "harness.prep",
)

#: Third-party libraries a light module must not import at module level.
HEAVY_LIBRARIES = ("jax", "jaxlib", "numpyro", "blackjax", "optax")

#: ``module:function`` -> why that function of a light module imports the heavy side.
CROSSINGS = {
    "harness.cell:floor_density": "the method registry says which density a method's floor times",
    "harness.cell:validate": "a cell is checked against the method and target registries before any run",
    "harness.cell:_run_to_target": "the registry says which methods run to a target ESS, and the default cap",
    "harness.cell:base_row": "a row carries the registry's family and library of its method",
    "harness.suites.spec:_select": "a suite's method selectors expand against the method registry",
    "harness.suites.spec:_resolve": "a suite's names and options are checked against the registries",
    "harness.suites.expansion:expand": "a suite's data entries expand against the targets' sizes and datasets",
    "harness.suites.expansion:_target_fields": "the registry says which methods run to a target ESS",
    "harness.suites.cost_model:estimate_cell_s": "the cost model reads a method's family and the replay cost",
    "harness.suites.calibration:_known": "a calibration fits only the cells of registered methods",
    "harness.cli:cmd_run": "`harness run --model file:...` checks the user's model file",
    "harness.cli:cmd_list": "`harness list` names the registered targets and methods",
    "harness.cli:_known_methods": "`harness report --baseline` accepts a registered method",
    "harness.cli:cmd_reference": "`harness reference` computes a target's reference draws in this process",
    "harness.cli:audit_references": "`harness reference --audit` checks targets' stored references",
    "harness.launcher:_fork": "the launcher checks that no JAX backend has started before it forks a cell",
    "harness.launcher:_child": "a forked cell process runs the cell (harness.worker)",
    "harness.environment:capture": "the child's row records its JAX backend and device",
    "harness.report.frame:_method_facts": "rows written before a registry column get it from the registry",
    "harness.mcmc_vs_vi:plan": "the study resolves the user's model and the methods it compares",
    "harness.mcmc_vs_vi:reference": "the study computes a reference posterior in this process",
    "harness.mcmc_vs_vi:cells": "the study's cells are validated against the registries",
    "harness.mcmc_vs_vi:reference_cache": "the user's model names its reference cache",
    "harness.mcmc_vs_vi:lppd": "held-out predictive density evaluates the model's likelihood in JAX",
    "harness.mcmc_vs_vi:write_report": "the report names the user's data file",
    "harness.mcmc_vs_vi:run": "the study names the registered methods",
}


def side(module: str) -> str | None:
    """"heavy", "light" or None (not a harness module, or not declared) for a dotted module name;
    the longest declared prefix decides."""
    matches = [(len(p), s) for s, ps in (("light", LIGHT), ("heavy", HEAVY)) for p in ps
               if module == p or (p != "harness" and module.startswith(p + "."))]
    return max(matches)[1] if matches else None


def is_heavy(module: str) -> bool:
    """Whether importing ``module`` (a dotted name) is a step onto the heavy side."""
    top = module.split(".")[0]
    return top in HEAVY_LIBRARIES or side(module) == "heavy"
