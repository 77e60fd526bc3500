"""One measurement run in this process into a row: the child process of every cell.

:func:`main` (``JOB.json ROW.json``) is what every cell's fresh process runs, forked by
:mod:`harness.launcher` before any JAX backend starts, so that compile times are real
(no in-process caches, persistent compilation cache off) and a crash costs only that cell;
``python -m harness.worker JOB.json ROW.json`` runs one by hand. JOB.json holds the cell and
where to save draws.

A cell is run (:func:`run`: the method, the summary of its draws, the replays and the roofline, kept
as a :class:`Measured`), then its row is built from the schema (:func:`build_row`): each column from
the source :mod:`harness.schema` declares for it, the RunResult's through ``schema.from_result``.

Timing protocol (:func:`harness.timing.replay_paired`): after the run that
produced the draws, the method's compiled sampling loop is re-run with the same
arguments (the same work), interleaved with the gradient-floor loop of the same
density program at the same batch, dtype and positions (the chains' last draws),
measured here in this process. ``sample_s`` is the median of the timed runs,
``sample_s_min`` / ``sample_s_max`` their spread, ``sample_replays`` their number,
``sample_s_first`` the first run; ``overhead_ratio`` is the median of the
per-pair ratios and ``floor_us_per_grad`` the median floor. ``ref_us_per_grad`` is
the host reference timed between the replays (:func:`_host_ref`), which the run's
second pass reads (:mod:`harness.recheck`). ``roofline_us_per_grad`` and ``x_roofline``
put the floor beside the memory bound (:mod:`harness.roofline`).

Statuses a row can carry: ``ok``; ``nan`` (non-finite draws); ``diverged``
(every sampling transition divergent); ``error`` (the method raised);
``oom`` (out of memory); ``timeout``, ``crashed`` (killed by a signal, e.g.
a segfault) from the runner; ``skipped`` (a GPU cell where no GPU is).

Plugins (``HARNESS_PLUGINS``) are loaded here too: :func:`harness.cell.load_plugins`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import sys
import time
import traceback
from typing import Any, NamedTuple

import numpy as np

from harness import schema
from harness.cell import Cell, base_row, load_plugins, method_columns, pin
from harness.environment import peak_rss_mb

OOM_MARKERS = ("RESOURCE_EXHAUSTED", "Out of memory", "out of memory", "OOM")


def _cast_make_data(make_data, dtype):
    """make_data whose floating arrays are cast to ``dtype`` (the precision axis)."""
    def cast(dataset, n, seed=0):
        data = make_data(dataset, n, seed)
        return {k: (np.asarray(v, dtype) if np.issubdtype(np.asarray(v).dtype, np.floating) else v)
                for k, v in data.items()}

    return cast


class Resolved(NamedTuple):
    """A validated cell resolved once, then passed down: its method (registry record), its posterior
    (the target bound to its data, in the cell's precision), the program its gradient floor times
    (``Method.density``) and the run configuration. Nothing below looks the cell's names up again."""

    method: Any
    posterior: Any
    density: str
    config: Any


def resolve(cell: Cell, method) -> Resolved:
    """``cell`` with its ``method`` (already looked up) resolved: the target, its data, the run configuration."""
    from harness import methods, targets
    from harness.methods.to_target import ToTarget

    target = targets.get(cell.model)
    if cell.precision != "float32":
        target = dataclasses.replace(target, make_data=_cast_make_data(target.make_data, cell.precision))
    posterior = targets.Posterior(target, cell.dataset, cell.n, cell.data_seed)
    to = None if cell.target_ess is None else ToTarget(cell.target_ess, cell.max_draws)
    config = methods.RunConfig(cell.num_chains, cell.num_warmup, cell.num_samples, cell.options, to)
    return Resolved(method, posterior, method.density, config)


def _device_peak_mb(jax) -> float | None:
    """Peak device memory from the allocator's statistics (GPU); None where there are none (CPU)."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # backends without the call
        return None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2**20


def _floor_positions(posterior, z, batch: int, seed: int):
    """Where the floor is evaluated: the chains' last draws (the region the sampler ran in),
    ``batch`` of them (cycled when fewer chains ran), in the precision's dtype; the initial
    points when the last draws are not finite."""
    import jax
    import jax.numpy as jnp

    from harness import prep

    last = np.asarray(z)[:, -1, :]
    last = last[np.arange(batch) % last.shape[0]]
    if np.all(np.isfinite(last)):
        return jnp.asarray(last, jnp.result_type(float))  # the initial positions' dtype
    return prep.jit(posterior.initial_positions, static_argnums=1)(jax.random.key(seed + 1), batch)


def _host_ref(posterior, positions, seconds: float, floor=None):
    """The host reference (:func:`harness.timing.replay_paired`): NumPyro's potential gradient of the
    model at fixed points (the initial positions of seed 0) at the floor's batch and dtype. Its program
    and inputs depend only on the cell's ``ref_group`` (posterior, size, batch, device, precision, XLA
    setup), never on the method, so every cell of a group times the same thing. One compiled copy:
    it tells a slow host from its group's fastest, within ``recheck.HOST_TOL``, and is not a floor (a
    ratio's denominator). ``floor``: the cell's floor when that is one compiled copy of this same
    program, run at the fixed points instead of compiling the program again (a method whose floor
    density is the model's, or any method on a target with no hand-written density, whose
    ``"target"`` density is the model's)."""
    import jax

    from harness import timing

    fixed = posterior.initial_positions(jax.random.key(0), positions.shape[0]).astype(positions.dtype)
    if floor is not None:
        return floor._replace(args=(fixed, *floor.args[1:]))
    return timing.floor_loop(*posterior.density_and_data("model"), fixed, seconds=seconds, copies=1)


def _replay(loop, result, posterior, density: str, positions, work: float, host_reference: bool = True,
            copies: int = 1):
    """The sampling loop replayed against the floor (:func:`harness.timing.replay_paired`), as often as
    a share of the cell's own work allows (:func:`harness.timing.replay_budget_s`), with the host
    reference between the replays unless ``host_reference`` is False (a run without a second pass).
    The floor is the fastest of ``copies`` compiled copies (:func:`harness.timing.floor_copies`).

    ``loop`` is the method's sampling loop (``RunResult.loop``); a method that returns none
    (a plugin) keeps its one measured ``sample_s``, paired with one floor run after it.
    """
    from harness import timing

    first_s = loop.seconds if loop is not None else result.sample_s
    seconds = timing.floor_call_seconds(first_s)
    floor = timing.floor_loop(*posterior.density_and_data(density), positions, seconds=seconds, copies=copies)
    if loop is not None:
        work_s = result.compile_s + (result.init_s or 0.0) + result.warmup_s + first_s
        shared = floor if posterior.is_model_density(density) and copies == 1 else None
        ref = _host_ref(posterior, positions, seconds, shared) if host_reference else None
        return timing.replay_paired(loop._replace(work=work), floor, ref, work_s)
    floor()
    f = floor() / floor.work
    return timing.Replay((first_s,), (f,), (first_s / work / f if work > 0 else float("nan"),))


def _roofline(posterior, density: str, positions, floor_us: float, group: str | None = None) -> dict:
    """The row's roofline columns (:mod:`harness.roofline`; ``group``, the cell's floor group, keys its
    per-run cache of the gradient's bytes); a failure there is recorded, never the cell's."""
    from harness import roofline

    try:
        return roofline.columns(*posterior.density_and_data(density), positions, floor_us, group)
    except Exception as e:  # noqa: BLE001 - the measurement goes on without its roofline
        return {"roofline_error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}


def _classify(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return "oom" if isinstance(e, MemoryError) or any(m in text for m in OOM_MARKERS) else "error"


def _summary(method, result, z, finite: bool) -> dict:
    """The ``summary`` columns of the draws before the replays: their shape, ESS and R-hat. A point
    estimate's (``RunResult.point_estimate``) draws are one point repeated: ESS and R-hat are undefined,
    so they stay NaN (and with them ess_per_s, ess_per_grad) and ``no_ess_reason`` says why. A guide's
    draws are iid: a VI row is ``converged`` when its optimiser met its stopping rule."""
    from harness import metrics

    if not result.point_estimate or not finite:
        out = metrics.summarize(z)
    else:
        nan = float("nan")
        out = {"min_ess_bulk": nan, "min_ess_tail": nan, "max_rhat": nan, "converged": False,
               "no_ess_reason": "point estimate: draws repeat one point"}
    if method.family == "vi":
        out["converged"] = finite and bool(result.opt_converged)
    return {"chains_run": int(z.shape[0]), "draws_per_chain": int(z.shape[1]), **out}


def _accuracy(posterior, result, z) -> dict:
    """The ``summary`` columns against the posterior's reference, scored on every coordinate of the
    reference: the layout's constrain runs the model for its deterministic sites (Stan's transformed
    parameters), which a VI guide's draws lack."""
    from harness import metrics

    ref = posterior.reference()
    scored = posterior.layout.every_site(result.draws, z) if ref else result.draws
    return {**metrics.accuracy(scored, ref and ref.mean, ref and ref.sd), "reference": ref and ref.source}


def _replay_columns(cell: Cell, timed, batch: int, density: str) -> dict:
    """The ``replay`` columns of the replays (:class:`harness.timing.Replay`): the sampling seconds and
    their spread, the floor, the overhead ratio, the host reference, and the groups that share them."""
    return dict(sample_s=timed.seconds, sample_s_min=min(timed.loop_s), sample_s_max=max(timed.loop_s),
                sample_replays=len(timed.loop_s), floor_us_per_grad=timed.floor * 1e6, floor_batch=batch,
                floor_density=density, floor_group=cell.floor_group(batch, density), overhead_ratio=timed.ratio,
                overhead_ratio_min=min(timed.ratios), overhead_ratio_max=max(timed.ratios),
                ref_us_per_grad=timed.ref * 1e6, ref_group=cell.ref_group(batch), ref_program=timed.ref_program)


def _verdict(method, result, z, finite: bool) -> dict:
    """The status of a run that ended: ``nan`` (non-finite draws), ``diverged`` (every sampling
    transition divergent) or ``ok``, and why."""
    if not finite:
        return {"status": "nan", "error": "draws contain NaN or inf"}
    if result.divergences >= z.shape[0] * z.shape[1]:
        return {"status": "diverged", "error": _all_diverged(method, result)}
    return {"status": "ok", "error": None}


def device_unavailable(device: str) -> str | None:
    """Why JAX cannot use this process's device (JAX_PLATFORMS), or None when it can.

    Checked before anything imports the method registry: BlackJAX computes with
    jnp at import time, which would fail first and read as an error, not a skip.
    """
    import jax

    try:
        jax.devices()
    except Exception as e:  # JAX_PLATFORMS=cuda where no GPU is (RuntimeError) or no CUDA plugin (AssertionError)
        detail = str(e).strip().splitlines()[0] if str(e).strip() else f"no backend for JAX_PLATFORMS={os.environ.get('JAX_PLATFORMS')}"
        return f"no {device} device here (JAX could not initialise it: {type(e).__name__}: {detail})"[:500]
    return None


def skipped_row(cell: Cell, why: str) -> dict:
    from harness import environment

    return schema.assemble({"cell": base_row(cell, registry=False), "verdict": {"status": "skipped", "error": why},
                            "process": {"wall_s": 0.0}, "environment": environment.capture(with_device=False)})


class Phases:
    """Wall seconds of a cell's phases (the ``protocol`` columns of :mod:`harness.schema`): each
    :meth:`lap` closes the phase that began at the previous one, so the phases tile the cell's time."""

    def __init__(self):
        self.t = time.perf_counter()
        self.began = time.time()  # wall clock, comparable with the runner's spawn time
        self.seconds: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self.t
        self.t = now


def _all_diverged(method, result) -> str:
    """Why a row is ``diverged``. Seen with ``handrolled_hmc`` (fixed step, no adaptation) and one chain at
    N = 200: its default step, 0.084, is unstable where a Uniform(-2, 2) start meets a steep gradient (norm
    in the thousands), so every proposal's energy error is huge and the chain never moves. Four chains
    from the same seed start the same first chain, equally stuck; the row is not ``diverged`` only
    because another chain started where the step works (its R-hat then says the rest)."""
    step = f" at step size {result.step_size:.3g}" if result.step_size else ""
    fix = (f"a smaller --option {method.name}.step_size, or a method that adapts its step"
           if "step_size" in method.options else "a method that adapts its step")
    return (f"every sampling transition diverged{step}: the chains never moved (energy error above 1000 on every "
            f"proposal), a step too large where they started; try {fix}")


def run_cell(cell: Cell, draws_path: str | None = None, spawned_at: float | None = None,
             host_reference: bool = True) -> dict:
    """Run one cell here and return its row (never raises; failures become the row's status).

    ``spawned_at``: the wall-clock time (``time.time()``) at which the runner started this process,
    so ``startup_s`` counts the interpreter's start and the imports too."""
    return measure(cell, draws_path, spawned_at, host_reference)[0]


def measure(cell: Cell, draws_path: str | None = None, spawned_at: float | None = None,
            host_reference: bool = True) -> tuple[dict, Any]:
    """:func:`run_cell`'s row and the sampling loop it replayed (``RunResult.loop``; None when the method
    returned none or the cell failed before it ran): the asv probe reads the compiled loop's memory estimate.
    The cell is run (:func:`run`), then its row built from the schema (:func:`build_row`)."""
    phases = Phases()
    import jax

    if cell.precision == "float64":
        jax.config.update("jax_enable_x64", True)
    why = device_unavailable(cell.device)
    if why:
        return skipped_row(cell, why), None

    # imported before startup_s ends (the method registry brings NumPyro and BlackJAX, the target registry
    # parses the packaged posteriordb files, ArviZ imports more on its first call): start-up, not the cell's
    # data, checks or summary
    from harness import derived, environment, methods, metrics, targets, timing  # noqa: F401

    metrics.warm_up()

    t0 = time.perf_counter()
    phases.lap("startup_s")
    measured = run(cell, phases, draws_path, host_reference)
    process = {"wall_s": time.perf_counter() - t0,
               "peak_rss_mb": peak_rss_mb(resource.getrusage(resource.RUSAGE_SELF))}
    env = environment.capture(with_device=True)
    phases.lap("environment_s")
    if spawned_at is not None:  # the interpreter's start and the imports before this function ran
        phases.seconds["startup_s"] += max(0.0, phases.began - spawned_at)
    row = build_row(cell, measured, process=process, environment=env, phases=phases.seconds)
    return row, measured.result.loop if measured.result is not None else None


class Measured(NamedTuple):
    """What a cell's run measured (:func:`run`), before it is a row (:func:`build_row`). Each field is set
    when its step ends, so a run that raised keeps what it had measured.

    ``verdict``: the ``verdict`` columns (status, error); ``method``: the registry's record; ``result``: its
    RunResult; ``run``, ``summary``, ``replay``: the columns of those sources (:data:`harness.schema.SOURCES`),
    the last two set together once every measurement is done; ``draws_path``: where the draws were saved."""

    verdict: dict
    method: Any = None
    result: Any = None
    run: dict | None = None
    summary: dict | None = None
    replay: dict | None = None
    draws_path: str | None = None


def run(cell: Cell, phases: Phases, draws_path: str | None = None, host_reference: bool = True) -> Measured:
    """Run the cell's method, summarise its draws, replay its sampling loop against the floor, put the floor
    beside the roofline and save the draws (to ``draws_path``, when given), each step's wall time a phase.
    Never raises: a failure becomes the verdict (``error``, ``oom``) and the run keeps what it measured."""
    import jax

    from harness import methods, timing

    done = Measured(verdict={})
    try:
        method = methods.get(cell.method)
        done = done._replace(method=method)
        resolved = resolve(cell, method)
        posterior = resolved.posterior
        phases.lap("data_s")
        with timing.compile_phases() as compiles:
            result = method.run(posterior, resolved.config, jax.random.key(cell.seed))
        phases.lap("method_s")
        loop = result.loop
        hlo_ops = timing.hlo_ops(timing.program(loop)) if loop is not None else None
        done = done._replace(result=result,
                             run={**compiles, "hlo_ops": hlo_ops, "peak_device_mb": _device_peak_mb(jax)})
        z = posterior.layout.unconstrain(result.draws)  # (chain, draw, dim); chains as run (ChEES: its ensemble)
        finite = bool(np.all(np.isfinite(z)))
        summary = _summary(method, result, z, finite)
        phases.lap("summary_s")
        # per device: chains on parallel devices share the wall-clock seconds
        work = 0.0 if method.uncounted_work else result.grad_evals_counted / result.parallel_devices
        batch = int(result.grad_batch or cell.num_chains)
        positions = _floor_positions(posterior, z, batch, cell.seed)
        timed = _replay(loop, result, posterior, resolved.density, positions, work, host_reference,
                        timing.floor_copies(cell.n))
        phases.lap("replay_s")
        summary.update(_accuracy(posterior, result, z))
        phases.lap("summary_s")
        replay = _replay_columns(cell, timed, batch, resolved.density)
        replay.update(_roofline(posterior, resolved.density, positions, timed.floor * 1e6,
                                cell.floor_group(batch, resolved.density)))
        phases.lap("roofline_s")
        done = done._replace(summary=summary, replay=replay, verdict=_verdict(method, result, z, finite))
        if draws_path:
            from harness import draws

            stats = {k: v for k, v in result.extra.items() if not schema.is_scalar(v)}
            attrs = {"cell_key": cell.key(), "status": done.verdict["status"]}
            draws.save(draws_path, result.draws, stats, attrs=attrs)
            done = done._replace(draws_path=draws_path)
            phases.lap("draws_s")
    except Exception as e:  # the matrix goes on: the failure becomes the row
        phases.lap("failed_s")
        traceback.print_exc(file=sys.stderr)
        why = f"{type(e).__name__}: {e}".splitlines()[0][:500]
        return done._replace(verdict={"status": _classify(e), "error": why})
    return done


def build_row(cell: Cell, measured: Measured, process: dict, environment: dict, phases: dict) -> dict:
    """The row of what was measured, from the schema: each source's columns from the code that owns them
    (the RunResult's through :func:`harness.schema.from_result`, the derived figures through
    :func:`harness.derived.figures`), put together by :func:`harness.schema.assemble`, with the sources
    measured around the run (``process``, ``environment``, ``phases``).

    A run that measured everything gets every part. One that raised keeps what it had: the registry's
    method columns once the method was looked up, the ``run`` part once the method returned, and the
    rest only when the failure came after every measurement (saving the draws)."""
    from harness import derived

    whole = measured.replay is not None
    parts = {"cell": base_row(cell, registry=False), "verdict": measured.verdict}
    if measured.method is not None:  # no_grad_reason qualifies a gradient count: only a whole run has one
        reason = {"no_grad_reason": measured.method.uncounted_work or None} if whole else {}
        parts["registry"] = {**method_columns(measured.method), **reason}
    if measured.run is not None:
        parts["run"] = measured.run
    if whole:
        parts.update(result=schema.from_result(measured.result), summary=measured.summary, replay=measured.replay)
        parts["derived"] = derived.figures(schema.assemble(parts))
    saved = {"draws_path": measured.draws_path} if measured.draws_path else {}
    return schema.assemble({**parts, "process": {**process, **saved}, "environment": environment, "phases": phases})


def _exit_with_parent(job_dir: str | None = None, poll_s: float = 1.0) -> None:
    """End this cell process when the runner that started it dies (e.g. kill -9): no orphans left running,
    and no job directory left behind (``job_dir``, removed only when it is the runner's own temporary
    ``harness-cell-*`` directory, whose owner can no longer remove it)."""
    import shutil
    import threading

    parent = os.getppid()

    def watch():
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                if job_dir and os.path.basename(job_dir).startswith("harness-cell-"):
                    shutil.rmtree(job_dir, ignore_errors=True)
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m harness.worker JOB.json ROW.json", file=sys.stderr)
        return 2
    _exit_with_parent(os.path.dirname(os.path.abspath(argv[0])))
    with open(argv[0]) as f:
        job = json.load(f)
    cell = Cell(**job["cell"])
    pin(cell.cpus, job.get("cores"))  # before JAX starts: XLA sizes its thread pool to the cores it may use
    why = device_unavailable(cell.device)  # before plugins, which may import the method registry
    if why:
        row = skipped_row(cell, why)
    else:
        load_plugins()
        row = run_cell(cell, job.get("draws_path"), job.get("spawned_at"), job.get("host_reference", True))
    from harness.store import _clean

    with open(argv[1], "w") as f:
        json.dump(_clean(row), f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
