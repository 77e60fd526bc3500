"""Reading and checking a suite file: its keys, their types, and the names it uses.

:func:`load` reads a shipped suite (by name) or a user's (a path to a ``.toml`` file) and checks
it (:func:`check`): every malformed key is a :class:`harness.UsageError` naming it. With
``resolve`` (the default) the method selectors are expanded and every model, dataset, method
and option name is checked against the registries (a crossing onto the heavy side,
:mod:`harness.boundary`); without it only the file's shape is checked, which imports no JAX.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path

from harness import UsageError
from harness.cell import PRECISIONS, load_plugins

#: The package the shipped suites live in (named, not ``__name__``: see :func:`_read`).
PACKAGE = "harness.suites"
DEVICES = ("cpu", "gpu")


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# key -> (check, what it must be); lists are checked element-wise and must be non-empty
_POS_INT = (lambda v: _int(v) and v >= 1, "a positive integer")
_NONNEG_INT = (lambda v: _int(v) and v >= 0, "an integer >= 0")
_POS_NUM = (lambda v: _num(v) and 0 < v < math.inf, "a positive finite number")  # TOML has inf and nan
_STR = (lambda v: isinstance(v, str) and v != "", "a non-empty string")
_LIST_STR = ("list", _STR)
AXES = {
    "methods": _LIST_STR,
    "chains": ("list", _POS_INT),
    "seeds": ("list", _NONNEG_INT),
    "devices": ("list", (lambda v: v in DEVICES, f"one of {', '.join(DEVICES)}")),
    "precisions": ("list", (lambda v: v in PRECISIONS, f"one of {', '.join(PRECISIONS)}")),
}
SCALARS = {"num_warmup": _NONNEG_INT, "num_samples": _POS_INT, "timeout_s": _POS_NUM, "target_ess": _POS_NUM,
           "max_draws": _POS_INT}
_CPUS = (lambda v: v == "all" or (_int(v) and v >= 1), 'a positive integer or "all"')
TOP = {"description": _STR, **AXES, **SCALARS, "xla_devices": _POS_INT, "cpus": _CPUS, "jobs": _CPUS,
       "warm_start": (lambda v: isinstance(v, bool), "true or false"),
       "recheck": (lambda v: isinstance(v, bool), "true or false"), "data": None,
       "options": None, "settings": None}

#: Cores a CPU cell's process is held to unless the suite or ``--cpus`` says otherwise
#: (:func:`harness.cell.pin` says why); a GPU cell's process keeps every core.
DEFAULT_CPUS = 1
DATA = {"model": _STR, "dataset": _STR, "sizes": ("list", _POS_INT), "methods": _LIST_STR,
        "chains": AXES["chains"], "seeds": AXES["seeds"], "precisions": AXES["precisions"], "xla_devices": _POS_INT, "options": None,
        **SCALARS}
SETTINGS = {"max_n": _POS_INT, "chains": AXES["chains"], **SCALARS}


def names() -> list[str]:
    """Shipped suites (files named ``_*.toml`` are data, not suites)."""
    return sorted(p.name[:-5] for p in resources.files(PACKAGE).iterdir()
                  if p.name.endswith(".toml") and not p.name.startswith("_"))


def load(name_or_path: str, resolve: bool = True) -> dict:
    """A shipped suite by name, or a user's suite by path; validated (``resolve``: names too)."""
    text, where = _read(name_or_path)
    try:
        suite = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"suite {where}: not valid TOML: {e}") from None
    check(suite, where, resolve)
    return suite


def _read(name_or_path: str) -> tuple[str, str]:
    """(TOML text, what to call it in errors) of a suite name or a path to a ``.toml`` file. A path is
    read without listing the shipped suites, so that this module also works loaded by its file path
    (``benchmarks/common.py``) beside another checkout's harness."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError as e:
            raise UsageError(f"suite {path}: not UTF-8 text (TOML must be): {e}") from None
    if path.suffix != ".toml" and name_or_path in names():
        return resources.files(PACKAGE).joinpath(f"{name_or_path}.toml").read_text(), name_or_path
    raise UsageError(f"unknown suite {name_or_path!r}; valid: {', '.join(names())} or a path to a .toml file")


def _check_table(table, spec: dict, where: str, prefix: str) -> None:
    if not isinstance(table, dict):
        raise UsageError(f"suite {where}: {prefix.rstrip('.') or 'suite'} must be a table")
    for key, value in table.items():
        at = f"{prefix}{key}"
        if key not in spec:
            raise UsageError(f"suite {where}: unknown key {at!r}; valid: {', '.join(sorted(spec))}")
        rule = spec[key]
        if rule is None:
            continue
        if rule[0] == "list":
            ok, what = rule[1]
            if not isinstance(value, list) or not value:
                raise UsageError(f"suite {where}: {at} must be a non-empty list of {what}s, got {value!r}")
            for i, v in enumerate(value):
                if not ok(v):
                    raise UsageError(f"suite {where}: {at}[{i}] must be {what}, got {v!r}")
        elif not rule[0](value):
            raise UsageError(f"suite {where}: {at} must be {rule[1]}, got {value!r}")


def check(suite: dict, where: str = "<suite>", resolve: bool = True) -> None:
    """Validate a parsed suite; the first problem raises UsageError naming its key.

    ``resolve`` also checks model, dataset, method and option names against
    the registries (off only to check the shape of a suite whose names
    belong to another installation).
    """
    _check_table(suite, TOP, where, "")
    for key in ("methods", "data"):
        if key not in suite:
            raise UsageError(f"suite {where}: missing key {key!r}")
    if resolve:
        suite["methods"] = _select(suite["methods"], where)
    if not isinstance(suite["data"], list) or not suite["data"]:
        raise UsageError(f"suite {where}: data must be a non-empty array of tables ([[data]])")
    for i, entry in enumerate(suite["data"]):
        _check_table(entry, DATA, where, f"data[{i}].")
        if "model" not in entry:
            raise UsageError(f"suite {where}: data[{i}] needs a 'model'")
        for j, m in enumerate(entry.get("methods", [])):
            if m not in suite["methods"]:
                raise UsageError(f"suite {where}: data[{i}].methods[{j}] {m!r} is not in the suite's methods")
    sections = [("options", suite.get("options", {})), ("settings", suite.get("settings", {}))]
    sections += [(f"data[{i}].options", e["options"]) for i, e in enumerate(suite["data"]) if "options" in e]
    for section, tables in sections:
        if not isinstance(tables, dict):
            raise UsageError(f"suite {where}: {section} must be a table of per-method tables ([{section}.<method>])")
        for method, table in tables.items():
            if not isinstance(table, dict):
                raise UsageError(f"suite {where}: {section}.{method} must be a table")
            if section == "settings":
                _check_table(table, SETTINGS, where, f"settings.{method}.")
    if resolve:
        _resolve(suite, where)


def _select(patterns: list[str], where: str) -> list[str]:
    """A suite's ``methods`` patterns as method names (selectors: :mod:`harness.methods.catalog`)."""
    from harness import methods

    load_plugins()
    try:
        chosen = methods.select(patterns, methods.registered())
    except ValueError as e:
        raise UsageError(f"suite {where}: methods: {e}") from None
    if not chosen:
        raise UsageError(f"suite {where}: methods {patterns!r} select no method")
    return chosen


def _resolve(suite: dict, where: str) -> None:
    from harness import methods, targets

    load_plugins()

    def at(key, fn, *args):
        try:
            return fn(*args)
        except UsageError as e:
            raise UsageError(f"suite {where}: {key}: {e}") from None

    for i, m in enumerate(suite["methods"]):
        at(f"methods[{i}]", methods.get, m)
    for section in ("options", "settings"):
        for method, table in suite.get(section, {}).items():
            found = at(f"{section}.{method}", methods.get, method)
            if section == "options":
                at(f"options.{method}", found.resolve_options, table)
    for i, entry in enumerate(suite["data"]):
        for method, table in entry.get("options", {}).items():
            found = at(f"data[{i}].options.{method}", methods.get, method)
            at(f"data[{i}].options.{method}", found.resolve_options, table)
        target = at(f"data[{i}].model", targets.get, entry["model"])
        if "dataset" in entry and entry["dataset"] not in target.datasets:
            raise UsageError(f"suite {where}: data[{i}].dataset: unknown dataset {entry['dataset']!r} for model "
                             f"{target.name!r}; valid: {', '.join(target.datasets)}")
