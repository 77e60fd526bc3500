"""Suites: TOML files that list the axes of a benchmark matrix.

Keys (all optional but ``methods`` and ``data``)::

    description = "..."
    methods = ["handrolled_hmc", "numpyro_nuts"]   # registry names
    chains = [4]                                   # one cell per entry
    seeds = [0]
    devices = ["cpu"]
    num_warmup = 500
    num_samples = 500
    [[data]]                                       # one entry per model/dataset
    model = "sparse_logistic"
    dataset = "synthetic"                          # default: the model's first dataset
    sizes = [2000]                                 # for datasets without a fixed N
    [options.handrolled_hmc]                       # per-method options
    num_steps = 10

Cells are the product data x sizes x methods x devices x chains x seeds.
"""

from __future__ import annotations

import itertools
import tomllib
from importlib import resources
from pathlib import Path

from harness import UsageError
from harness.cell import Cell, validate

TOP_KEYS = {"description", "methods", "chains", "seeds", "devices", "num_warmup", "num_samples", "data", "options"}
DATA_KEYS = {"model", "dataset", "sizes"}
DEVICES = ("cpu", "gpu")


def names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".toml"))


def load(name_or_path: str) -> dict:
    """A shipped suite by name, or a user's suite by path to a TOML file."""
    if name_or_path in names():
        text = resources.files(__name__).joinpath(f"{name_or_path}.toml").read_text()
        where = name_or_path
    else:
        path = Path(name_or_path)
        if not path.suffix == ".toml" or not path.is_file():
            raise UsageError(f"unknown suite {name_or_path!r}; valid: {', '.join(names())} or a path to a .toml file")
        text, where = path.read_text(), str(path)
    try:
        suite = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"suite {where}: not valid TOML: {e}") from None
    _check(suite, where)
    return suite


def _check(suite: dict, where: str) -> None:
    unknown = sorted(set(suite) - TOP_KEYS)
    if unknown:
        raise UsageError(f"suite {where}: unknown key {unknown[0]!r}; valid: {', '.join(sorted(TOP_KEYS))}")
    for key in ("methods", "chains", "seeds", "devices", "data"):
        if key in suite and (not isinstance(suite[key], list) or not suite[key]):
            raise UsageError(f"suite {where}: key {key!r} must be a non-empty list")
    for i, entry in enumerate(suite.get("data", [])):
        bad = sorted(set(entry) - DATA_KEYS)
        if bad:
            raise UsageError(f"suite {where}: unknown key data[{i}].{bad[0]}; valid: {', '.join(sorted(DATA_KEYS))}")
        if "model" not in entry:
            raise UsageError(f"suite {where}: data[{i}] needs a 'model'")
    for dev in suite.get("devices", []):
        if dev not in DEVICES:
            raise UsageError(f"suite {where}: unknown device {dev!r}; valid: {', '.join(DEVICES)}")


def expand(suite: dict, **override) -> list[Cell]:
    """The suite's cells, after CLI overrides (None means: keep the suite's value).

    Overrides: model, dataset, sizes (list), methods (list), chains (list),
    seeds (list), devices (list), num_warmup, num_samples, options (per method).
    """
    from harness import targets
    from harness.targets import ANY_N

    data = suite.get("data", [])
    if override.get("model"):
        target = targets.get(override["model"])
        data = [d for d in data if d["model"] == target.name] or [{"model": target.name}]
    if override.get("dataset") or override.get("sizes"):
        data = [dict(d, **{k: v for k, v in (("dataset", override.get("dataset")), ("sizes", override.get("sizes"))) if v})
                for d in data]
    methods = override.get("methods") or suite.get("methods")
    if not methods:
        raise UsageError("no methods: give --method or a suite with 'methods'")
    chains = override.get("chains") or suite.get("chains", [4])
    seeds = override.get("seeds") or suite.get("seeds", [0])
    devices = override.get("devices") or suite.get("devices", ["cpu"])
    warmup = override.get("num_warmup") if override.get("num_warmup") is not None else suite.get("num_warmup", 500)
    samples = override.get("num_samples") or suite.get("num_samples", 500)
    options = {**suite.get("options", {}), **(override.get("options") or {})}

    cells = []
    for d in data:
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
        for n, method, device, c, s in itertools.product(sizes, methods, devices, chains, seeds):
            cell = Cell(model=target.name, dataset=dataset, n=n, method=method, options=options.get(method, {}),
                        device=device, num_chains=c, num_warmup=warmup, num_samples=samples, seed=s)
            cells.append(validate(cell))
    unique = {c.key(): c for c in reversed(cells)}  # overrides can map two entries onto one cell
    return [c for c in cells if unique.get(c.key()) is c]
