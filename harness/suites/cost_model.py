"""The cost model: estimated wall seconds of a cell and of a run, for ``harness list suites`` and
the progress line. A model, not a measurement: its constants and their provenance are in
``_costs.toml``.
"""

from __future__ import annotations

import tomllib
from importlib import resources

import numpy as np

from harness import UsageError, recheck
from harness.cell import Cell
from harness.runner import co_runs
from harness.suites.calibration import MODEL, Speed
from harness.suites.resolve import timeout_for
from harness.suites.spec import PACKAGE

COSTS_FILE = "_costs.toml"


def costs() -> dict:
    """The cost model's constants (``_costs.toml``)."""
    return tomllib.loads(resources.files(PACKAGE).joinpath(COSTS_FILE).read_text())


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
                    rechecked: bool = True, warm_start: bool = False, speed: Speed = MODEL) -> float:
    """Estimated wall seconds of one cell (see ``_costs.toml``) on a machine of ``speed``
    (:mod:`harness.suites.calibration`: the fixed seconds times ``speed.fixed``, the seconds per
    gradient times ``speed.work``), capped at its timeout.

    startup + compile + floor measurement
        + chains * (warmup + samples) * (grads_per_iter * floor(n) * overhead + iter_us)
        + the replay protocol's cost for a sampling loop of chains * samples iterations in a
          cell of that work (:func:`harness.timing.replay_cost_s`)
    (a run to a target is priced at its cap, ``max_draws`` per chain: the worst case),
    all twice when that loop is shorter than :data:`harness.recheck.SHORT_LOOP_S` and the run
    ``rechecked`` (the run's second pass runs it again), else times 1 + ``speed.rerun`` (the share of
    cells a noisy host sends back; none on the model's own machine), and with ``warm_start`` two more processes: one more run with a cold compile (it fills
    the cache) and one whose compile is :data:`WARM_COMPILE_SHARE` of it (it reads the cache);
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
    per_iter_us = speed.work * (grads_per_iter * floor_us(n, cell.device, model) * m["overhead"] + m.get("iter_us", 0.0))
    process = model["process"][cell.device]
    startup_s, compile_s = speed.fixed * process["startup_s"], speed.fixed * m["compile_s"]
    fixed = startup_s + compile_s + speed.fixed * process["floor_s"]
    draws = cell.max_draws if cell.target_ess is not None and cell.max_draws else cell.num_samples  # a cap: the worst case
    warmup = cell.num_warmup
    if family in ("vi", "svi"):  # the fit is VI's timed (replayed) loop: its step cap, the worst case
        opts = {**defaults, **cell.options}
        sample_s = opts.get("max_steps", 0) * opts.get("num_particles", 1) * per_iter_us * 1e-6
        warmup = 0
    else:
        sample_s = chains * draws * per_iter_us * 1e-6
    work_s = compile_s + chains * warmup * per_iter_us * 1e-6 + sample_s
    total = fixed + chains * warmup * per_iter_us * 1e-6 + sample_s + timing.replay_cost_s(sample_s, work_s, timing.floor_copies(cell.n))
    if rechecked:  # the second pass runs a short loop's cell again, and a share of the others on a noisy host
        total *= 2 if sample_s < recheck.SHORT_LOOP_S else 1 + speed.rerun
    if warm_start:  # two more processes: one fills the cache (a cold compile), one reads it
        run_s = startup_s + chains * warmup * per_iter_us * 1e-6 + sample_s
        total += 2 * run_s + compile_s * (1.0 + WARM_COMPILE_SHARE)
    return min(total, timeout_s) if timeout_s else total


#: A warm start's compile over a cold one (the persistent cache skips XLA, not tracing and lowering):
#: median over the default suite's 569 cells, results/compile-569 (README there).
WARM_COMPILE_SHARE = 0.15


def estimate_s(suite: dict, cells: list[Cell], default_timeout_s: float, jobs: int = 1,
               warm_start: bool | None = None, speed: Speed = MODEL) -> float:
    """Estimated wall seconds of running ``cells`` of ``suite`` on a machine of ``speed``, ``jobs`` at a time as
    the runner schedules them (:func:`harness.runner.run_cells`): the longest first, each to the first free
    slot, a cell that does not :func:`harness.runner.co_runs` alone."""
    model = costs()
    slots, alone = [0.0] * jobs, 0.0
    warm = suite.get("warm_start", False) if warm_start is None else warm_start
    priced = [estimate_cell_s(c, timeout_for(suite, c, default_timeout_s), model, suite.get("recheck", True), warm, speed)
              for c in cells]
    for c, seconds in sorted(zip(cells, priced), key=lambda cs: -cs[1]) if jobs > 1 else zip(cells, priced):
        if jobs > 1 and not co_runs(c, jobs):
            alone += seconds
        else:
            slots[slots.index(min(slots))] += seconds
    return alone + max(slots)
