"""What the asv suite measures, and how, shared by the bench_<area>.py modules.

Every benchmark runs the harness itself (``harness.methods`` adapters,
``harness.targets``, ``harness.timing``, ``harness.cell``): there is no second
copy of any sampler here.

The suite is a product METHODS x TARGETS x SIZES (asv parameters), read from the
suite file harness/suites/asv.toml (one matrix language for suites, asv and
pytest-benchmark); a combination
that cannot run raises ``NotImplementedError`` in ``setup``, which asv records as
skipped (shown as "n/a"), never as a failure:

- a method name not registered in ``harness.methods`` (e.g. ``blackjax_hmc`` on a
  checkout that predates it), or one whose family is not ``mcmc``;
- a size not listed for that target in SIZES_BY_TARGET (a fixed-size dataset at
  another N, or a size kept out of the suite to bound its run time).

Heavy imports (jax, the harness's methods and targets) happen inside functions: asv
imports this module in every benchmark process, including the ones it is about to skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The matrix, in the suites' language: harness/suites/asv.toml (also runnable as `harness run --suite asv`).
MATRIX_FILE = ROOT / "harness" / "suites" / "asv.toml"
#: This checkout's suites parser and its shipped methods as data, both loaded by their paths (asv runs
#: this module against the harness of the commit under test, and imports it in every benchmark
#: process: a suite's shape is checked and its selectors ("family:mcmc", "-numpyro_sa") expanded
#: without importing JAX or any sampler).
SPEC_FILE = ROOT / "harness" / "suites" / "spec.py"
CATALOG_FILE = ROOT / "harness" / "methods" / "catalog.py"
#: N of the fixed-size datasets the matrix names (a suite entry without sizes runs a dataset at its own N).
#: Only the target registry knows it, and that imports JAX; tests/test_asv.py checks these against it.
FIXED_N = {"sparse_logistic/breast_cancer": 569}


def _by_path(path: Path):
    """The module in the file ``path``, loaded under a private name (not as part of the harness imported)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_benchmarks_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _matrix() -> tuple[list[str], dict[str, list[int]], dict]:
    suite = _by_path(SPEC_FILE).load(str(MATRIX_FILE), resolve=False)
    sizes = {f"{d['model']}/{d['dataset']}": d.get("sizes") or [FIXED_N[f"{d['model']}/{d['dataset']}"]]
             for d in suite["data"]}
    catalog = _by_path(CATALOG_FILE)
    return catalog.select(suite["methods"], catalog.CATALOG), sizes, suite


#: Methods benchmarked, by registry name; "model/dataset" -> the data sizes N the suite runs it at.
METHODS, SIZES_BY_TARGET, _SUITE = _matrix()
TARGETS = list(SIZES_BY_TARGET)
SIZES = sorted({n for sizes in SIZES_BY_TARGET.values() for n in sizes})
PARAMS = [METHODS, TARGETS, SIZES]
PARAM_NAMES = ["method", "target", "n"]

#: Run lengths. Efficiency figures (ESS) need a real run; step costs only a loop to re-time.
NUM_CHAINS = _SUITE["chains"][0]
EFFICIENCY_RUN = {"num_chains": _SUITE["chains"][0], "num_warmup": _SUITE["num_warmup"],
                  "num_samples": _SUITE["num_samples"], "seed": _SUITE["seeds"][0]}
STEP_RUN = {"num_chains": NUM_CHAINS, "num_warmup": 200, "num_samples": 100, "seed": 0}

def tracked() -> list:
    """The (column, Tracked) figures asv tracks: ``harness.schema.TRACKED`` (a light import), or, on a
    checkout before the schema, min bulk ESS per second as ``seconds_per_kess``."""
    try:
        from harness.schema import TRACKED
    except ImportError:
        from collections import namedtuple

        return [("ess_per_s", namedtuple("Tracked", "name doc")(
            "seconds_per_kess", "Sampling seconds per 1,000 effective draws (min bulk ESS)."))]
    return TRACKED


#: Per-cell wall-clock limit of a fresh-process probe, seconds.
PROBE_TIMEOUT_S = 1200


def cell_for(method: str, target: str, n: int, run: dict):
    """The validated harness Cell of a combination; NotImplementedError when it is not in the suite."""
    if n not in SIZES_BY_TARGET[target]:  # checked first: no heavy import for a skipped size
        raise NotImplementedError(f"N = {n} is not in the suite for {target}")
    from harness import UsageError, methods
    from harness.cell import Cell, validate

    if method not in methods.names():
        raise NotImplementedError(f"method {method!r} is not registered in harness.methods")
    if getattr(methods.get(method), "family", "mcmc") != "mcmc":
        raise NotImplementedError(f"method {method!r} is not an MCMC method")
    model, dataset = target.split("/")
    try:
        return validate(Cell(model=model, dataset=dataset, n=n, method=method, **run))
    except UsageError as e:  # e.g. a target that does not exist on this checkout
        raise NotImplementedError(str(e)) from None


_LOOPS: dict = {}


def sampling_loop(method: str, target: str, n: int):
    """(TimedCall of the method's compiled sampling loop, its RunResult), cached per process.

    The method runs once (compile, warmup, sampling) on first use; asv calls
    ``setup`` before every repeat, so the cache keeps those repeats cheap. The
    loop is re-run once untimed so that a first-touch never lands in a sample.
    """
    key = (method, target, n)
    if key not in _LOOPS:
        cell = cell_for(method, target, n, STEP_RUN)
        import jax

        from harness import methods, targets, timing

        carried = "loop" in methods.RunResult._fields  # the result carries its compiled loop
        if not carried and not hasattr(timing, "capture_run"):
            raise NotImplementedError("this checkout's harness.timing cannot record compiled loops")
        posterior = targets.Posterior(targets.get(cell.model), cell.dataset, cell.n, cell.data_seed)
        config = methods.RunConfig(cell.num_chains, cell.num_warmup, cell.num_samples, cell.options)
        run = methods.get(cell.method).run
        go = lambda: run(posterior, config, jax.random.key(cell.seed))  # noqa: E731
        if carried:
            result = go()
            loop = result.loop
            if loop is None:
                raise NotImplementedError(f"{method}: its result carries no sampling loop")
        else:
            try:
                if hasattr(timing, "sampling_call"):  # the method names its sampling phase
                    result, loop = timing.capture_run(go)
                else:  # older checkouts: the recorded call that took exactly sample_s
                    result, loop = timing.capture_run(go, lambda r: r.sample_s)
            except LookupError as e:
                raise NotImplementedError(f"{method}: sampling loop not timed through harness.timing ({e})") from None
        loop()
        _LOOPS[key] = (loop, result)
    return _LOOPS[key]


def probe(method: str, target: str, n: int) -> dict:
    """Figures of one full run in a fresh Python process (see benchmarks/_probe.py).

    A combination outside the suite gives ``{"skipped": reason}``, a run that
    fails or times out ``{"failed": reason}``, so one bad cell never costs the others.

    The child gets the runner's environment (device, persistent compilation cache
    off), so its compile seconds are a cold compile. The child runs _probe.py as a
    script with the harness this process imported first on its import path.
    """
    try:
        cell = cell_for(method, target, n, EFFICIENCY_RUN)
    except NotImplementedError as e:
        return {"skipped": str(e)}
    import harness
    from harness.runner import cell_env

    env = cell_env(cell)
    root = str(Path(harness.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("_probe.py")), json.dumps(cell.to_dict())],
            env=env, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"probe of {cell.label()} exceeded {PROBE_TIMEOUT_S} s"}
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        return {"failed": f"probe of {cell.label()} exited {proc.returncode}:\n{tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


class WorkClock:
    """A clock in seconds per unit of work: ``timer`` for asv time_ benchmarks.

    asv times a call as the difference of two clock readings; reading
    ``perf_counter() / work`` makes that difference seconds per unit (per
    gradient evaluation, per draw) of a call that does ``work`` units, so asv's
    statistics (samples, IQR, comparisons) apply to the per-unit cost directly.
    """

    def __init__(self, work: int):
        import time

        self._now = time.perf_counter
        self.work = int(work)

    def __call__(self) -> float:
        return self._now() / self.work
