"""The one precedence rule of a suite's settings, and what it decides for a cell (timeout, jobs).

Highest first: a CLI override, ``settings.<method>``, the data entry, the suite's top level,
the default. :func:`harness.suites.expansion.expand` reads a cell's settings through
:func:`pick` with the entry in hand; :func:`timeout_for` finds a cell's entry
(:func:`entry_of`) and asks the same rule.
"""

from __future__ import annotations

from harness.cell import Cell
from harness.environment import usable_cpus


def pick(suite: dict, key: str, method: str, entry: dict, default, override: dict | None = None):
    """``key``'s value for ``method`` in a data ``entry`` of ``suite``: ``override`` (the CLI's, where
    not None), then ``settings.<method>``, the entry, the top level, else ``default``."""
    if override and override.get(key) is not None:
        return override[key]
    for scope in (suite.get("settings", {}).get(method, {}), entry, suite):
        if key in scope:
            return scope[key]
    return default


def entry_of(suite: dict, cell: Cell) -> dict:
    """The data entry ``cell`` comes from: the first whose model, dataset, sizes and methods hold it
    (``{}`` when none does, e.g. a cell of a CLI-named model)."""
    for d in suite.get("data", []):
        if (d["model"] == cell.model and d.get("dataset", cell.dataset) == cell.dataset
                and cell.n in d.get("sizes", [cell.n]) and cell.method in d.get("methods", [cell.method])):
            return d
    return {}


def timeout_for(suite: dict, cell: Cell, default: float) -> float:
    """The cell's wall-clock cap (``timeout_s``) by :func:`pick` from its entry (:func:`entry_of`)."""
    return float(pick(suite, "timeout_s", cell.method, entry_of(suite, cell), default))


#: Cells at once when neither the suite nor ``--jobs`` says: every core this process may use.
DEFAULT_JOBS = "all"


def jobs(suite: dict, override: int | str | None = None) -> int:
    """Cells to run at once: ``override`` (``--jobs``), else the suite's ``jobs``, else :data:`DEFAULT_JOBS`;
    ``"all"`` is every core this process may use. The executor that runs them refuses more jobs than
    cores (:class:`harness.runner.LocalExecutor`)."""
    value = override if override is not None else suite.get("jobs", DEFAULT_JOBS)
    return len(usable_cpus()) if value == "all" else value

