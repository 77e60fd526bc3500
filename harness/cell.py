"""The Cell record: the full configuration of one measurement, its identity, and its validation.

A Cell is what a suite expands to, what the runner hands a fresh process and what a
stored row is keyed by (``cell_key``). Running one lives in :mod:`harness.worker`
(``python -m harness.worker JOB.json ROW.json``); this module imports nothing heavy.

Test-only or user targets and methods: modules named in the environment
variable ``HARNESS_PLUGINS`` (comma-separated) are imported before any name is
resolved, in the runner and in every cell process, so they can call
``targets.register`` / ``methods.register``.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import asdict, dataclass, field

from harness import UsageError
from harness.environment import usable_cpus

PRECISIONS = ("float32", "float64")
RUN_TO_TARGET = ("target_ess", "max_draws")
OPTIONAL_KEY = (*RUN_TO_TARGET, "cpus")  # left out of a cell's key while unset: older keys stay what they were
PLUGINS_ENV = "HARNESS_PLUGINS"


@dataclass(frozen=True)
class Cell:
    """The full configuration of one measurement; its identity for resume.

    ``xla_devices`` forces that many host (CPU) devices (XLA_FLAGS
    --xla_force_host_platform_device_count); ``xla_flags`` are further XLA
    flags for the cell's process. Both change what is measured, so both are
    part of the key. ``target_ess``: run to that bulk and tail ESS (and R-hat < 1.01)
    in chunks of ``num_samples`` draws, up to ``max_draws`` per chain
    (:mod:`harness.methods.to_target`); None: a fixed budget of ``num_samples``.
    ``cpus``: the cell's process runs on that many cores (the last ones it may use, by
    ``os.sched_setaffinity``, before JAX starts, so XLA sizes its thread pool to them);
    None: on every core (:func:`pin`).
    """

    model: str
    dataset: str
    n: int | None
    method: str
    options: dict = field(default_factory=dict)
    device: str = "cpu"
    num_chains: int = 4
    num_warmup: int = 500
    num_samples: int = 500
    seed: int = 0
    data_seed: int = 0
    precision: str = "float32"
    xla_devices: int | None = None
    xla_flags: str = ""
    target_ess: float | None = None
    max_draws: int | None = None
    cpus: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self) -> str:
        """Canonical JSON of the configuration (options sorted): equal cells, equal keys. The run-to-target
        fields and ``cpus`` are left out while unset, so a cell keeps the key it had before they existed."""
        d = {k: v for k, v in self.to_dict().items() if not (k in OPTIONAL_KEY and v is None)}
        return json.dumps(d, sort_keys=True)

    def label(self) -> str:
        size = self.dataset if self.n is None else f"{self.dataset}:{self.n}"
        extra = "" if self.precision == "float32" else f"/{self.precision}"
        extra += "" if self.target_ess is None else f"/ess{self.target_ess:g}"
        return f"{self.model}/{size}/{self.method}/{self.device}/c{self.num_chains}/s{self.seed}{extra}"

    def ref_group(self, batch: int) -> str:
        """Cells that time the same host reference (``harness.worker._host_ref``): the floor group less the density."""
        return json.dumps(self._host_group(batch), sort_keys=True)

    def floor_group(self, batch: int, density: str | None = None) -> str:
        """Cells that share a gradient floor: same posterior, device, precision, XLA setup, batch,
        and the same program differentiated (``density``, the method's ``Method.density``: the target's
        flat density or NumPyro's potential of the model; None: looked up, :func:`floor_density`)."""
        density = floor_density(self.method) if density is None else density
        return json.dumps({**self._host_group(batch), "density": density}, sort_keys=True)

    def _host_group(self, batch: int) -> dict:
        keep = ("model", "dataset", "n", "data_seed", "device", "precision", "xla_devices", "xla_flags", "cpus")
        return {**{k: getattr(self, k) for k in keep}, "batch": batch}


def pin(cpus: int | None, cores: list[int] | None = None) -> None:
    """Run this process on the last ``cpus`` of ``cores`` (default: the cores it may use; None
    ``cpus``: leave it on all of them). ``cores`` is the slot a parallel run gave the cell
    (:class:`harness.runner.LocalExecutor`), so co-running cells never share a core.

    Why one core by default (``suites.DEFAULT_CPUS``): XLA's CPU backend splits a fused loop
    over its thread pool (one thread per usable core) when its cost model says so, and a split
    small loop was measured to run at one of two speeds, decided per compiled program; held to one
    core, XLA splits nothing. A held process is the asv ``--cpu-affinity`` / pyperf practice; its
    price is the other cores' bandwidth at large N. The figures and their probe
    (``python -m benchmarks.thread_split``): docs/methodology.md, "One core per CPU cell".
    The last cores: a fixed choice, so that two runs on one host use the same core.
    """
    if cpus is not None:
        os.sched_setaffinity(0, sorted(cores or usable_cpus())[-cpus:])


def floor_density(method: str) -> str:
    """The density source (``Method.density``) a method's gradient floor times; "target" if unknown."""
    from harness import methods

    try:
        return methods.get(method).density
    except UsageError:
        return "target"


def load_plugins() -> None:
    """Import the modules named in HARNESS_PLUGINS (they register targets / methods)."""
    for name in filter(None, (s.strip() for s in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise UsageError(f"{PLUGINS_ENV}: cannot import {name!r}: {e}") from None


def validate(cell: Cell) -> Cell:
    """Resolve names, size and options now (raises UsageError), so bad input fails before any run."""
    from harness import methods, targets

    load_plugins()
    target = targets.get(cell.model)
    method = methods.get(cell.method)
    try:
        n = target.resolve_size(cell.dataset, cell.n)
    except ValueError as e:
        raise UsageError(str(e)) from None
    opts = method.resolve_options(cell.options)
    for name, value in (("num_chains", cell.num_chains), ("num_samples", cell.num_samples)):
        if value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value}")
    if cell.num_warmup < 0:
        raise UsageError(f"num_warmup must be >= 0, got {cell.num_warmup}")
    if cell.precision not in PRECISIONS:
        raise UsageError(f"unknown precision {cell.precision!r}; valid: {', '.join(PRECISIONS)}")
    if cell.xla_devices is not None and cell.xla_devices < 1:
        raise UsageError(f"xla_devices must be a positive integer, got {cell.xla_devices}")
    if cell.cpus is not None and not 1 <= cell.cpus <= (cores := len(usable_cpus())):
        raise UsageError(f"cpus must be between 1 and the {cores} core(s) this process may use, got {cell.cpus}")
    if (opts.get("chain_method") == "parallel" and cell.device == "cpu"
            and (cell.xla_devices or 1) < cell.num_chains):
        raise UsageError(f"chain_method='parallel' runs one chain per device: {cell.num_chains} chains need "
                         f"xla_devices (--xla-devices) >= {cell.num_chains} on CPU, got {cell.xla_devices or 1}")
    if method.check is not None:  # combinations the method cannot run (e.g. adaptation without warmup)
        method.check(target, methods.RunConfig(cell.num_chains, cell.num_warmup, cell.num_samples, opts))
    return Cell(**{**cell.to_dict(), "n": n, "options": opts, **_run_to_target(cell, method)})


def _run_to_target(cell: Cell, method) -> dict:
    """The cell's target fields, checked: a positive ESS, a method that can run to it, a cap (default
    ``DEFAULT_MAX_CHUNKS`` chunks) of at least one chunk; none without a target."""
    from harness.methods.to_target import DEFAULT_MAX_CHUNKS

    if cell.target_ess is None:
        if cell.max_draws is not None:
            raise UsageError("max_draws caps a run to a target: give target_ess (--target-ess) too")
        return {}
    if not (isinstance(cell.target_ess, (int, float)) and not isinstance(cell.target_ess, bool) and cell.target_ess > 0):
        raise UsageError(f"target_ess must be a positive number, got {cell.target_ess!r}")
    if not method.runs_to_target:
        from harness import methods

        able = ", ".join(m for m in methods.names() if methods.get(m).runs_to_target)
        raise UsageError(f"method {method.name!r} cannot run to a target ESS yet; methods that can: {able}")
    cap = DEFAULT_MAX_CHUNKS * cell.num_samples if cell.max_draws is None else cell.max_draws
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < cell.num_samples:
        raise UsageError(f"max_draws must be an integer >= num_samples ({cell.num_samples}, the chunk), got {cap!r}")
    return {"target_ess": float(cell.target_ess), "max_draws": cap}


def base_row(cell: Cell, registry: bool = True) -> dict:
    """The columns every row has, failures included: the configuration, its key, and what the
    method registry says of the method (:func:`method_columns`), so that no reader has to guess
    them from the method's name. ``registry=False``: not the latter (a process whose device is
    missing must not import the methods: BlackJAX computes at import; readers then look the
    method up themselves, :mod:`harness.report.frame`; the worker adds them from the method it
    resolved)."""
    row = cell.to_dict()
    row["options"] = json.dumps(cell.options, sort_keys=True)
    row["cell_key"] = cell.key()
    if not registry:
        return row
    from harness import methods

    try:
        row.update(method_columns(methods.get(cell.method)))
    except UsageError:  # a method no registry here knows (the row is a failure row)
        pass
    return row


def method_columns(method) -> dict:
    """What the registry says of a method, as row columns: family, library, whether it subsamples."""
    return {"family": method.family, "library": method.library or None, "subsamples": method.subsamples}
