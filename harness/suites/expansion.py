"""A suite's cells: its axes multiplied out, CLI overrides applied, each cell validated.

Every per-method setting is read through :func:`harness.suites.resolve.pick` (the one
precedence rule); the targets' datasets and sizes come from the target registry, and a method
gets a target ESS only where it can run to one (the method registry): both are crossings onto
the heavy side (:mod:`harness.boundary`).
"""

from __future__ import annotations

import itertools

from harness import UsageError
from harness.cell import Cell, load_plugins, validate
from harness.suites import resolve
from harness.suites.spec import DEFAULT_CPUS, DEVICES


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
        return resolve.pick(suite, key, method, entry, default, override)

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
            entry_seeds = override.get("seeds") or d.get("seeds", seeds)  # an entry may afford fewer seeds
            for device, precision, c, s in itertools.product(devices, entry_precisions, chains, entry_seeds):
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
