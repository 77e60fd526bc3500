"""Suites: TOML files that list the axes of a benchmark matrix, and what running one costs.

Shipped suites live beside this module (``quick``, ``default``, ``scaling``,
``gpu``); a user's suite is a path to a ``.toml`` file. Keys (only
``methods`` and ``data`` are required)::

    description = "..."
    methods = ["handrolled_hmc", "numpyro_nuts"]   # registry names, or selectors: "family:mcmc",
                                                   # "library:blackjax", "*", "-numpyro_sa" (leave out)
    chains = [4]                                   # axes: one cell per entry ...
    seeds = [0]
    devices = ["cpu"]                              # cpu, gpu
    precisions = ["float32"]                       # float32, float64
    num_warmup = 500                               # scalars
    num_samples = 500
    timeout_s = 1800                               # per-cell wall-clock cap
    target_ess = 400                               # run to this ESS in chunks of num_samples
    max_draws = 16000                              #   (harness.methods.to_target), up to max_draws
    xla_devices = 4                                # forced host devices (CPU)
    cpus = 1                                       # cores per CPU cell's process, or "all" (default 1)
    jobs = "all"                                   # cells at once (harness.runner.LocalExecutor; default "all")
    warm_start = false                             # also time each cell with the persistent cache filled
    recheck = true                                 # the run's second pass (harness.recheck; --no-recheck: off)

    [[data]]                                       # one entry per model/dataset
    model = "sparse_logistic"
    dataset = "synthetic"                          # default: the model's first dataset
    sizes = [2000]                                 # for datasets without a fixed N
    methods = ["numpyro_nuts"]                     # optional: only these of `methods`
    chains = [4]                                   # optional: num_warmup, num_samples, timeout_s too
    precisions = ["float64"]                       # optional: this entry's precisions (CLI overrides)
    xla_devices = 4                                # optional: this entry's forced host devices
    [data.options.numpyro_nuts]                    # optional: this entry's method options, over the
    chain_method = "parallel"                      #   suite's (so one suite can sweep an option)

    [options.handrolled_hmc]                       # a method's options (validated by the method)
    num_steps = 10

    [settings.numpyro_nuts]                        # a method's run settings
    max_n = 100000                                 # skip sizes above (a method that does not scale)
    num_warmup = 300                               # also: num_samples, chains, timeout_s

Cells are data x sizes x methods x devices x precisions x chains x seeds.
Precedence, highest first: CLI flags, ``settings.<method>``, the data entry,
the top level. Any malformed key (unknown, wrong type, unknown model, method
or device, empty axis) is a :class:`harness.UsageError` naming the key.

The duration estimate (:func:`estimate_cell_s`) is a cost model, not a
measurement; its constants and their provenance are in ``_costs.toml``.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np

from harness import UsageError, recheck
from harness.cell import PRECISIONS, Cell, load_plugins, validate
from harness.environment import usable_cpus
from harness.runner import co_runs

DEVICES = ("cpu", "gpu")
COSTS_FILE = "_costs.toml"


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
        "chains": AXES["chains"], "precisions": AXES["precisions"], "xla_devices": _POS_INT, "options": None,
        **SCALARS}
SETTINGS = {"max_n": _POS_INT, "chains": AXES["chains"], **SCALARS}


def names() -> list[str]:
    """Shipped suites (files named ``_*.toml`` are data, not suites)."""
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir()
                  if p.name.endswith(".toml") and not p.name.startswith("_"))


def load(name_or_path: str, resolve: bool = True) -> dict:
    """A shipped suite by name, or a user's suite by path; validated (``resolve``: names too)."""
    if name_or_path in names():
        text = resources.files(__name__).joinpath(f"{name_or_path}.toml").read_text()
        where = name_or_path
    else:
        path = Path(name_or_path)
        if not path.suffix == ".toml" or not path.is_file():
            raise UsageError(f"unknown suite {name_or_path!r}; valid: {', '.join(names())} or a path to a .toml file")
        try:
            text, where = path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError as e:
            raise UsageError(f"suite {path}: not UTF-8 text (TOML must be): {e}") from None
    try:
        suite = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"suite {where}: not valid TOML: {e}") from None
    check(suite, where, resolve)
    return suite


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


def expand(suite: dict, **override) -> list[Cell]:
    """The suite's cells, after CLI overrides (None means: keep the suite's value).

    Overrides: model, dataset, sizes (list), methods (list), chains (list),
    seeds (list), devices (list), precisions (list), num_warmup, num_samples,
    target_ess, max_draws, options (per method), xla_devices, xla_flags, cpus (a positive
    integer or "all").
    """
    from harness import targets
    from harness.targets import ANY_N

    load_plugins()
    data = suite.get("data", [])
    if override.get("model"):
        target = targets.get(override["model"])
        data = [d for d in data if d["model"] == target.name] or [{"model": target.name}]
    elif override.get("sizes") and not override.get("dataset"):
        # a size names synthetic data: entries of models without any (fixed posteriordb data) drop out
        data = [d for d in data if ANY_N in targets.get(d["model"]).datasets.values()]
        if not data:
            raise UsageError(f"--size: no model of this suite has synthetic data; its models: "
                             f"{', '.join(sorted({d['model'] for d in suite.get('data', [])}))}")
    own = [(d.get("sizes"), d.get("methods")) for d in data]  # each entry's own sizes and methods, before overrides
    if override.get("dataset") or override.get("sizes"):
        data = [dict(d, **{k: v for k, v in (("dataset", override.get("dataset")), ("sizes", override.get("sizes"))) if v})
                for d in data]
        if override.get("dataset") and not override.get("sizes"):
            # the suite's sizes belong to its own datasets: a fixed dataset named on the CLI takes none
            fixed = lambda d: targets.get(d["model"]).datasets.get(d["dataset"], ANY_N) != ANY_N  # noqa: E731
            data = [{k: v for k, v in d.items() if k != "sizes"} if fixed(d) else d for d in data]
    suite_methods = suite.get("methods")
    methods = override.get("methods") or suite_methods
    if not methods:
        raise UsageError("no methods: give --method or a suite with 'methods'")
    seeds = override.get("seeds") or suite.get("seeds", [0])
    devices = override.get("devices") or suite.get("devices", ["cpu"])
    for device in devices:  # a suite file's devices are checked on load; --device only here
        if device not in DEVICES:
            raise UsageError(f"unknown device {device!r}; valid: {', '.join(DEVICES)}")
    precisions = override.get("precisions") or suite.get("precisions", ["float32"])
    suite_options, cli_options = suite.get("options", {}), override.get("options") or {}
    settings = suite.get("settings", {})
    xla_devices = override.get("xla_devices") or suite.get("xla_devices")
    xla_flags = override.get("xla_flags") or ""
    cpus = override.get("cpus") or suite.get("cpus", DEFAULT_CPUS)

    def pick(key, method, entry, default):
        if override.get(key) is not None:
            return override[key]
        for scope in (settings.get(method, {}), entry, suite):
            if key in scope:
                return scope[key]
        return default

    cells, rank = [], []
    for d, (own_sizes, own_methods) in zip(data, own):
        target = targets.get(d["model"])
        dataset = d.get("dataset", target.default_dataset)
        if dataset not in target.datasets:
            raise UsageError(f"unknown dataset {dataset!r} for model {target.name!r}; valid: {', '.join(target.datasets)}")
        if target.datasets[dataset] != ANY_N and d.get("sizes"):
            # a size asked for a fixed dataset means: the target's synthetic data
            synthetic = [k for k, v in target.datasets.items() if v == ANY_N]
            if not synthetic:
                raise UsageError(f"model {target.name!r} has no synthetic data; it has fixed N = {target.datasets[dataset]}")
            dataset = synthetic[0]
        sizes = d.get("sizes") if target.datasets[dataset] == ANY_N else [None]
        if not sizes:
            raise UsageError(f"dataset {dataset!r} of model {target.name!r} needs sizes (e.g. --size 10000)")
        # a data entry's method list narrows the suite's, unless the CLI named methods
        entry_methods = [m for m in methods if m in d.get("methods", methods)] if methods is suite_methods else methods
        for n, method in itertools.product(sizes, entry_methods):
            max_n = settings.get(method, {}).get("max_n")
            if max_n is not None and n is not None and n > max_n and not override.get("sizes"):
                continue
            chains = override.get("chains") or pick("chains", method, d, [4])
            entry_precisions = override.get("precisions") or d.get("precisions", precisions)
            for device, precision, c, s in itertools.product(devices, entry_precisions, chains, seeds):
                opts = {**suite_options.get(method, {}), **d.get("options", {}).get(method, {}),
                        **cli_options.get(method, {})}
                cell = Cell(model=target.name, dataset=dataset, n=n, method=method, options=opts,
                            device=device, num_chains=c, num_warmup=pick("num_warmup", method, d, 500),
                            num_samples=pick("num_samples", method, d, 500), seed=s, precision=precision,
                            xla_devices=override.get("xla_devices") or d.get("xla_devices", xla_devices),
                            xla_flags=xla_flags,
                            cpus=None if cpus == "all" or device != "cpu" else cpus,
                            **_target_fields(method, pick("target_ess", method, d, None),
                                             pick("max_draws", method, d, None)))
                cells.append(validate(cell))
                # how much this entry owns the cell: 2 its sizes and methods hold it, 1 its sizes only
                sized = n in own_sizes if own_sizes else not override.get("sizes")  # no sizes: its fixed data's N
                rank.append(sized * (1 + (method in (own_methods or [method]))))
    return _dedupe(cells, rank, by_setting=bool(override.get("methods") or override.get("sizes")))


def _dedupe(cells: list[Cell], rank: list[int], by_setting: bool) -> list[Cell]:
    """One cell per key, in first-seen order; with ``by_setting`` one per (model, dataset, n, method,
    device, precision, chains, seed), whatever its warmup, draws and caps.

    CLI overrides of methods or sizes can map several data entries onto one such cell with different
    settings: it keeps the one whose entry owns it in the suite (the entry's own sizes and methods list
    it; else its sizes), else the first, so that ``--method X`` runs the suite's own cells of X and a
    size no entry runs takes the settings of the entry for that size. Without those overrides a suite's
    entries keep every cell they name (only identical keys collapse)."""
    def ident(c: Cell):
        return (c.model, c.dataset, c.n, c.method, c.device, c.precision, c.num_chains, c.seed) if by_setting else c.key()

    best: dict = {}  # ident -> index of the kept cell; a dict keeps first-seen order of its keys
    for i, c in enumerate(cells):
        j = best.get(ident(c))
        if j is None or rank[i] > rank[j]:
            best[ident(c)] = i
    return [cells[i] for i in best.values()]


def _target_fields(method: str, target_ess, max_draws) -> dict:
    """A suite's (or --target-ess's) target for one method: only methods that can run to a target get it
    (:mod:`harness.methods.to_target`); the others keep their fixed budget, and their rows say so
    (``target_ess`` empty)."""
    from harness import methods

    if target_ess is None or not methods.get(method).runs_to_target:
        return {}
    return {"target_ess": target_ess, "max_draws": max_draws}


def timeout_for(suite: dict, cell: Cell, default: float) -> float:
    """The cell's wall-clock cap: settings.<method>, then the data entry the cell comes from (the first
    whose model, dataset, sizes and methods hold it), then the top level."""
    if "timeout_s" in suite.get("settings", {}).get(cell.method, {}):
        return float(suite["settings"][cell.method]["timeout_s"])
    for d in suite.get("data", []):
        if (d["model"] == cell.model and d.get("dataset", cell.dataset) == cell.dataset
                and cell.n in d.get("sizes", [cell.n]) and cell.method in d.get("methods", [cell.method])):
            if "timeout_s" in d:
                return float(d["timeout_s"])
            break
    return float(suite.get("timeout_s", default))


def costs() -> dict:
    """The cost model's constants (``_costs.toml``)."""
    return tomllib.loads(resources.files(__name__).joinpath(COSTS_FILE).read_text())


def floor_us(n: int | None, device: str, model: dict | None = None) -> float:
    """Modelled gradient floor per point (µs) at data size n: the measured
    ``floor.<device>.points`` ([N, µs]) through :func:`_loglog`."""
    return _loglog((model or costs())["floor"][device]["points"], n)


def _loglog(points, n: int | None) -> float:
    """y at n from [[N, y], ...], interpolated log-log, held constant outside the points
    (n None, a fixed-size target, reads as the first point)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    x = np.log(np.clip(n or pts[0, 0], pts[0, 0], pts[-1, 0]))
    return float(np.exp(np.interp(x, np.log(pts[:, 0]), np.log(pts[:, 1]))))


def estimate_cell_s(cell: Cell, timeout_s: float | None = None, model: dict | None = None,
                    rechecked: bool = True) -> float:
    """Estimated wall seconds of one cell (see ``_costs.toml``), capped at its timeout.

    startup + compile + floor measurement
        + chains * (warmup + samples) * (grads_per_iter * floor(n) * overhead + iter_us)
        + the replay protocol's cost for a sampling loop of chains * samples iterations in a
          cell of that work (:func:`harness.timing.replay_cost_s`)
    (a run to a target is priced at its cap, ``max_draws`` per chain: the worst case),
    all twice when that loop is shorter than :data:`harness.recheck.SHORT_LOOP_S` and the run
    ``rechecked`` (the run's second pass runs it again; the host-disturbed cells it reruns are not
    foreseen)
    with n the subsample size for a subsampling method and chains the method's own
    ``num_chains`` option where it has one (an ensemble method such as ChEES), and a
    NUTS method's steps per iteration the model's ``nuts_steps`` where one is given
    (a number, or measured [N, steps] points).
    """
    from harness import methods, timing

    model = model or costs()

    try:
        method = methods.get(cell.method)
        family, defaults = method.family, method.defaults
    except UsageError:
        family, defaults = "mcmc", {}
    m = {**model["family"].get(family, model["family"]["mcmc"]), **model["method"].get(cell.method, {})}
    n = cell.n
    if n is not None and "subsample_fraction" in m:
        n = min(n, max(m.get("subsample_floor", 1), int(np.ceil(m["subsample_fraction"] * n))))
    chains = {**defaults, **cell.options}.get("num_chains") or cell.num_chains
    grads_per_iter = m["grads_per_iter"]
    steps = model.get("model", {}).get(cell.model, {}).get("nuts_steps")
    if m.get("nuts") and steps is not None:  # a number, or [[N, steps], ...] where they grow with N
        grads_per_iter = float(steps) if np.isscalar(steps) else _loglog(steps, cell.n)
    per_iter_us = grads_per_iter * floor_us(n, cell.device, model) * m["overhead"] + m.get("iter_us", 0.0)
    process = model["process"][cell.device]
    fixed = process["startup_s"] + m["compile_s"] + process["floor_s"]
    draws = cell.max_draws if cell.target_ess is not None and cell.max_draws else cell.num_samples  # a cap: the worst case
    warmup = cell.num_warmup
    if family in ("vi", "svi"):  # the fit is VI's timed (replayed) loop: its step cap, the worst case
        opts = {**defaults, **cell.options}
        sample_s = opts.get("max_steps", 0) * opts.get("num_particles", 1) * per_iter_us * 1e-6
        warmup = 0
    else:
        sample_s = chains * draws * per_iter_us * 1e-6
    work_s = m["compile_s"] + chains * warmup * per_iter_us * 1e-6 + sample_s
    total = fixed + chains * warmup * per_iter_us * 1e-6 + sample_s + timing.replay_cost_s(sample_s, work_s)
    if rechecked and sample_s < recheck.SHORT_LOOP_S:  # the second pass runs a short loop's cell again
        total *= 2
    return min(total, timeout_s) if timeout_s else total


def estimate_s(suite: dict, cells: list[Cell], default_timeout_s: float, jobs: int = 1) -> float:
    """Estimated wall seconds of running ``cells`` of ``suite``, ``jobs`` at a time as the runner schedules
    them (:func:`harness.runner.run_cells`): the longest first, each to the first free slot, a cell that
    does not :func:`harness.runner.co_runs` alone."""
    model = costs()
    slots, alone = [0.0] * jobs, 0.0
    priced = [estimate_cell_s(c, timeout_for(suite, c, default_timeout_s), model, suite.get("recheck", True))
              for c in cells]
    for c, seconds in sorted(zip(cells, priced), key=lambda cs: -cs[1]) if jobs > 1 else zip(cells, priced):
        if jobs > 1 and not co_runs(c, jobs):
            alone += seconds
        else:
            slots[slots.index(min(slots))] += seconds
    return alone + max(slots)


#: Cells at once when neither the suite nor ``--jobs`` says: every core this process may use.
DEFAULT_JOBS = "all"


def jobs(suite: dict, override: int | str | None = None) -> int:
    """Cells to run at once: ``override`` (``--jobs``), else the suite's ``jobs``, else :data:`DEFAULT_JOBS`;
    ``"all"`` is every core this process may use. The executor that runs them refuses more jobs than
    cores (:class:`harness.runner.LocalExecutor`)."""
    value = override if override is not None else suite.get("jobs", DEFAULT_JOBS)
    return len(usable_cpus()) if value == "all" else value
