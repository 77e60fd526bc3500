"""Runs cells, each in a fresh process, and appends each row to the store as it ends.

Each cell's process is forked from a launcher that has already imported JAX, NumPyro and ArviZ
and has run nothing (:mod:`harness.launcher`), then runs :func:`harness.worker.main`. It gets
``JAX_PLATFORMS`` for its device, the persistent compilation cache off and exactly the XLA flags
its cell names (``--xla_force_host_platform_device_count`` for ``xla_devices``), so every
compile it reports is a real one and every row says how it was measured. The child runs in its
own session; the launcher reaps it with ``os.wait4`` and reports its peak resident memory even
when it crashed, and the runner kills its whole process group at the wall-clock timeout. A child
that raises, crashes, or outlives its timeout still becomes a row (status ``error``/``oom``,
``crashed``, ``timeout``) and the matrix goes on.

Every cell measures its own gradient floor, paired with its own sampling loop
(:mod:`harness.worker`): a floor is never borrowed from another process. Once a
GPU cell finds no GPU, the run's other GPU cells are recorded ``skipped``
without starting a process. With ``resume`` the cells already stored with
status ok are skipped, and each cell is claimed (:func:`harness.store.claim`)
while it runs so two resumed runs on one directory never run it twice.

Cells go through one loop, :meth:`Session.run`, to an executor: :class:`LocalExecutor` runs them
here one after another (:func:`run_cells`), :class:`harness.dask_executor.DaskExecutor` on a Dask
cluster; the run's second pass (:func:`second_pass`) goes through the same loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent import futures
from collections import deque
from pathlib import Path
from typing import Callable, Iterable

from harness import UsageError, environment, launcher, schema, store
from harness.cell import Cell, base_row
from harness.environment import RUN_ENV

DEFAULT_TIMEOUT_S = 1800.0
POLL_S = 0.05


#: XLA flags every cell process gets, before the cell's own (a repeated flag takes its last value).
#: Eigen's intra-op thread pool off: with it on, a short sampling loop ran at two speeds decided per
#: process, while large N ran no faster with it (the measurement: docs/methodology.md, "Timing
#: protocol"). The row records the flags a cell ran with (``xla_flags_env``).
BASE_XLA_FLAGS = ("--xla_cpu_multi_thread_eigen=false",)


def cell_env(cell: Cell, run_id: str | None = None, cache_dir: str | None = None) -> dict:
    """The child's environment: device platform, no compilation cache, :data:`BASE_XLA_FLAGS` and
    then the cell's XLA flags only (nothing inherited); ``run_id`` (the run's, for its
    once-per-run bandwidth probe: :data:`harness.environment.RUN_ENV`) when given. ``cache_dir``: JAX's
    persistent compilation cache on, in that directory, for every program however small or quick to
    compile (a warm start, :func:`run_one`); never for a measured cell."""
    env = platform_env(cell.device)
    if run_id:
        env[RUN_ENV] = run_id
    if cache_dir:
        env.update(JAX_ENABLE_COMPILATION_CACHE="true", JAX_COMPILATION_CACHE_DIR=cache_dir,
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    flags = [*BASE_XLA_FLAGS, *shlex.split(cell.xla_flags)]
    if cell.xla_devices:
        flags.append(f"--xla_force_host_platform_device_count={cell.xla_devices}")
    env["XLA_FLAGS"] = " ".join(flags)
    return env


def platform_env(device: str) -> dict:
    """This process's environment with JAX on ``device``'s platform and its persistent compilation
    cache off: what every measured cell of that device gets before its XLA flags (:func:`cell_env`)."""
    env = dict(os.environ)
    env["JAX_PLATFORMS"] = "cuda" if device == "gpu" else "cpu"
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def failure_row(cell: Cell, status: str, error: str, wall_s: float = 0.0) -> dict:
    """A row for a cell that produced no row of its own."""
    row = base_row(cell)
    row.update(status=status, error=error[:500], wall_s=wall_s)
    row.update(environment.capture(with_device=False))
    return row


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


#: What a warm start copies from the warm process's row into the cold row, as ``warm_<name>``: the figure of
#: each ``warm_`` column the schema declares.
WARM_FIGURES = tuple(c.removeprefix("warm_") for c in schema.COLUMNS if c.startswith("warm_"))


def run_one(cell: Cell, timeout_s: float = DEFAULT_TIMEOUT_S, draws_path: str | None = None,
            run_id: str | None = None, cores: list[int] | None = None,
            cancel: threading.Event | None = None, warm_start: bool = False,
            max_memory_mb: float | None = None, host_reference: bool = True) -> dict:
    """Run ``cell`` in a fresh process and return its row (never raises for the cell's faults).

    ``cores``: the cores the cell's process is held to (its ``cpus`` last ones; default: the cores this
    process may use); ``cancel``: when set, the child's process group is killed and the call raises
    KeyboardInterrupt (a parallel run interrupted in its main thread); ``max_memory_mb``: a cap on the
    process's resident memory, read every ``POLL_S`` (``/proc/PID/status``): a cell over it is killed
    and recorded ``oom`` (a spike shorter than the poll can pass unseen; the kernel's own limit stays);
    ``host_reference``: time the host reference (what the run's second pass reads, :mod:`harness.recheck`);
    a run without a second pass leaves it out (its compile costs a small cell a second or more).

    ``warm_start``: after the measured (cold) run, what a user's second run costs with JAX's persistent
    compilation cache: the cell runs once more to fill a fresh cache directory, then once more reading
    it, each in a fresh process; the last one's figures join the cold row as ``warm_*``
    (:data:`WARM_FIGURES`). The cold figures stay those of a process without a cache."""
    job = {"cores": cores, "host_reference": host_reference}
    row = _run_process(cell, timeout_s, run_id, cancel, max_memory_mb, None, draws_path=draws_path, **job)
    if warm_start and row.get("status") == "ok":
        with tempfile.TemporaryDirectory(prefix="harness-cache-") as cache:
            _run_process(cell, timeout_s, run_id, cancel, max_memory_mb, cache, **job)
            warm = _run_process(cell, timeout_s, run_id, cancel, max_memory_mb, cache, **job)
        if warm.get("status") == "ok":
            row.update({f"warm_{k}": warm.get(k) for k in WARM_FIGURES})
    return row


def _rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _run_process(cell: Cell, timeout_s: float, run_id: str | None, cancel: threading.Event | None,
                 max_memory_mb: float | None, cache_dir: str | None, **job) -> dict:
    """:func:`run_one`'s one process (``cache_dir``: :func:`cell_env`; ``job``: what the worker reads beside the
    cell, :func:`harness.worker.main`)."""
    with tempfile.TemporaryDirectory(prefix="harness-cell-") as tmp:
        job_path, row_path, log_path = Path(tmp) / "job.json", Path(tmp) / "row.json", Path(tmp) / "log.txt"
        job_path.write_text(json.dumps({"cell": cell.to_dict(), **job, "spawned_at": time.time()}))
        t0 = time.perf_counter()
        env = cell_env(cell, run_id, cache_dir)
        try:
            fork = launcher.launcher_for(env)
            pid = fork.spawn([str(job_path), str(row_path)], env, str(log_path), timeout_s)
        except launcher.LauncherError as e:
            return failure_row(cell, "error", f"no cell process: {e}", time.perf_counter() - t0)
        timed_out, over_mb, ended = False, 0.0, None
        try:
            while True:
                ended = fork.poll(pid, POLL_S)
                if ended:
                    break
                if cancel is not None and cancel.is_set():
                    raise KeyboardInterrupt
                if max_memory_mb is not None and (rss := _rss_mb(pid)) > max_memory_mb:
                    over_mb = rss
                if time.perf_counter() - t0 > timeout_s or over_mb:
                    timed_out = not over_mb
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                    ended = fork.poll(pid, timeout_s)
                    break
        except launcher.LauncherError as e:
            return failure_row(cell, "error", str(e), time.perf_counter() - t0)
        finally:
            if ended is None:  # interrupted (Ctrl-C, a Dask cancel): take the child's group down with us
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(launcher.LauncherError):
                    fork.poll(pid, 5.0)
        if ended is None:
            return failure_row(cell, "error", f"cell process {pid} did not end after SIGKILL", time.perf_counter() - t0)
        code = os.waitstatus_to_exitcode(ended.status)
        wall = time.perf_counter() - t0
        if over_mb:
            row = failure_row(cell, "oom", f"cell exceeded its {max_memory_mb:g} MiB memory cap (--max-memory): "
                              f"resident {over_mb:.0f} MiB, killed", wall)
        elif timed_out:
            row = failure_row(cell, "timeout", f"cell exceeded its {timeout_s:g} s wall-clock limit", wall)
        elif code < 0:
            name = signal.Signals(-code).name
            hint = " (most often the kernel's out-of-memory killer)" if -code == signal.SIGKILL else ""
            row = failure_row(cell, "crashed", f"killed by {name}{hint}; last output: {_last_line(log_path)}", wall)
        elif code != 0 or not row_path.exists():
            row = failure_row(cell, "error", f"process exited {code}: {_last_line(log_path) or 'no output'}", wall)
        else:
            row = json.loads(row_path.read_text())
        row["peak_rss_mb"] = max(ended.peak_rss_mb, row.get("peak_rss_mb") or 0.0)
        row["process_s"] = wall
        return row


class Session:
    """What one ``harness run`` shares across its cells, whatever executes them.

    ``prepare(cell)`` -> (row already decided or None, keyword arguments for
    :func:`run_one`); ``finish(cell, row)`` stamps the row, appends it to the
    store at once and notes a missing GPU for the run's later GPU cells.
    """

    def __init__(self, out_dir, command: str = "", timeout_s: float | Callable[[Cell], float] = DEFAULT_TIMEOUT_S,
                 resume: bool = False, save_draws: bool = False, on_row: Callable[[dict], None] | None = None,
                 warm_start: bool = False, max_memory_mb: float | None = None, host_reference: bool = True):
        self.out_dir = Path(out_dir)
        self.command = command
        self.timeout_s = timeout_s
        self.resume = resume
        self.save_draws = save_draws
        self.on_row = on_row
        self.warm_start = warm_start
        self.max_memory_mb = max_memory_mb
        self.host_reference = host_reference
        self.no_gpu: str | None = None
        self.rows: list[dict] = []
        self.run_id = uuid.uuid4().hex[:12]  # the bandwidth probe runs once per run (harness.roofline)

    def todo(self, cells: Iterable[Cell]) -> list[Cell]:
        """The cells still to run: all of them, or with resume those not stored with status ok."""
        cells = list(cells)
        if not self.resume:
            return cells
        done = store.ok_keys(self.out_dir)
        return [c for c in cells if c.key() not in done]

    def timeout_for(self, cell: Cell) -> float:
        return self.timeout_s(cell) if callable(self.timeout_s) else self.timeout_s

    def prepare(self, cell: Cell) -> tuple[dict | None, dict]:
        if cell.device == "gpu" and self.no_gpu:
            return failure_row(cell, "skipped", self.no_gpu), {}
        kwargs = {"timeout_s": self.timeout_for(cell), "run_id": self.run_id}
        if self.warm_start:
            kwargs["warm_start"] = True
        if self.max_memory_mb is not None:
            kwargs["max_memory_mb"] = self.max_memory_mb
        if not self.host_reference:
            kwargs["host_reference"] = False
        if self.save_draws:
            name = f"{hashlib.sha1(cell.key().encode()).hexdigest()[:16]}-{uuid.uuid4().hex[:8]}.nc"
            kwargs["draws_path"] = str((self.out_dir / "draws" / name).resolve())
            (self.out_dir / "draws").mkdir(parents=True, exist_ok=True)
        return None, kwargs

    @contextlib.contextmanager
    def claimed(self, cell: Cell):
        """With resume: yields False when another live run holds the cell or it is now stored ok."""
        if not self.resume:
            yield True
            return
        with store.claim(self.out_dir, cell.key()) as mine:
            yield mine and cell.key() not in store.ok_keys(self.out_dir)

    def finish(self, cell: Cell, row: dict) -> dict:
        row["command"] = self.command
        if row.get("draws_path") and os.path.isabs(row["draws_path"]):
            row["draws_path"] = os.path.relpath(row["draws_path"], self.out_dir)
        if cell.device == "gpu" and row.get("status") == "skipped" and not self.no_gpu:
            self.no_gpu = f"{row.get('error')} (found by an earlier cell of this run)"
        try:
            store.append(self.out_dir, row)
        except store.StoreError as e:  # the run stops: a row it cannot keep is a lost measurement
            raise store.StoreError(f"{e} (cell {cell.label()}, status {row.get('status')}, not stored: "
                                   "free space, then rerun with --resume)") from None
        self.rows.append(row)
        if self.on_row:
            self.on_row(row)
        return row

    def run(self, cells: Iterable[Cell], executor, progress=None, claim=None, keep=None) -> None:
        """The one run loop: hand the cells to ``executor`` (:class:`LocalExecutor`, or
        :class:`harness.dask_executor.DaskExecutor`) as its slots free up, and finish each row as it ends.

        ``claim(cell)``: a context manager yielding whether this run may run the cell (default
        :meth:`claimed`); ``keep(cell, row)``: the row to store (default: the row as it came, e.g. the
        second pass's :func:`harness.recheck.merge`). A GPU cell waits for a slot that takes one; when no
        slot does, it is recorded ``skipped`` with the executor's reason. A cell the executor calls
        ``exclusive`` (one that co-running would slow: :func:`co_runs`) starts only when no other cell is
        in flight, and nothing starts beside it. Each row records the executor's ``jobs`` and
        ``co_running``, the most other cells in flight while it ran. Stored rows go to ``self.rows``.
        """
        claim = claim or self.claimed
        pending = deque(cells)
        in_flight: list[list] = []  # [handle, cell, slot, claim stack, most other cells in flight]
        jobs = getattr(executor, "jobs", None)
        exclusive = getattr(executor, "exclusive", lambda cell: False)

        def record(cell: Cell, row: dict, co_running: int = 0) -> None:
            row = keep(cell, row) if keep else row
            row.update(jobs=jobs, co_running=co_running)
            row = self.finish(cell, row)
            if progress:
                progress.done(row)

        def may_start(cell: Cell) -> bool:
            return not in_flight or not (exclusive(cell) or any(exclusive(f[1]) for f in in_flight))

        with contextlib.ExitStack() as claims:
            while pending or in_flight:
                slots = executor.slots()
                if not slots and not in_flight:
                    executor.wait_for_slots()
                    continue
                busy = {f[2] for f in in_flight}
                for slot, takes_gpu in slots.items():
                    if slot in busy:
                        continue
                    cell = next((c for c in pending if (c.device != "gpu" or takes_gpu) and may_start(c)), None)
                    if cell is None:
                        continue
                    pending.remove(cell)
                    stack = claims.enter_context(contextlib.ExitStack())
                    if not stack.enter_context(claim(cell)):
                        stack.close()
                        if progress:
                            progress.skip(cell)
                        continue
                    if progress:
                        progress.start(cell)
                    row, kwargs = self.prepare(cell)
                    if row is not None:
                        stack.close()
                        record(cell, row)
                        continue
                    in_flight.append([executor.submit(slot, cell, kwargs), cell, slot, stack, 0])
                    for f in in_flight:
                        f[4] = max(f[4], len(in_flight) - 1)
                    busy.add(slot)
                if slots and not any(slots.values()):  # GPU cells no slot here can take
                    for cell in [c for c in pending if c.device == "gpu"]:
                        pending.remove(cell)
                        if progress:
                            progress.start(cell)
                        record(cell, failure_row(cell, "skipped", executor.no_gpu))
                for i, row in executor.finished([(f[0], f[1], f[2]) for f in in_flight]):
                    _, cell, _, stack, co_running = in_flight[i]
                    stack.close()
                    record(cell, row, co_running)
                    in_flight[i] = None
                in_flight = [f for f in in_flight if f is not None]


#: Cells at once whose co-running was measured not to slow a gradient: on the project's 2-core machine
#: two floors side by side ran at 0.89-0.96x their time alone at N = 569 .. 1e6 (``python -m
#: benchmarks.co_run``, results/co-run), so up to this many jobs every CPU cell held to its cores co-runs.
CO_RUN_MEASURED_JOBS = 2
#: With more jobs than measured, cells at least this large (data rows N) run alone: many cells streaming
#: their data at once share one memory system, which no probe here has measured (docs/methodology.md,
#: "Parallel cells").
CO_RUN_MAX_N = 20_000


def co_runs(cell: Cell, jobs: int = CO_RUN_MEASURED_JOBS) -> bool:
    """Whether ``cell`` may run beside other cells when ``jobs`` run at once: a CPU cell held to its cores
    (``cpus`` set), at any size up to :data:`CO_RUN_MEASURED_JOBS` jobs, below :data:`CO_RUN_MAX_N` beyond."""
    if cell.device != "cpu" or cell.cpus is None:
        return False
    return jobs <= CO_RUN_MEASURED_JOBS or cell.n is None or cell.n < CO_RUN_MAX_N


class LocalExecutor:
    """Cells run here, each in a fresh process (:func:`run_one`), ``jobs`` at a time.

    With one job (the default) a cell runs to its end in :meth:`submit`: one slot, which takes GPU cells
    too (a cell finds out itself whether its device exists). With ``jobs`` > 1 the usable cores are split
    into ``jobs`` disjoint slots (the last cores first, as :func:`harness.cell.pin` holds a lone cell), each
    cell runs in a thread that waits for its process, held to its slot's cores, and only the first slot
    takes GPU cells (one device). A cell that must not share the machine (not :func:`co_runs`) runs alone.
    """

    no_gpu = ""

    def __init__(self, jobs: int = 1, cores: list[int] | None = None):
        cores = sorted(cores or environment.usable_cpus())
        if not 1 <= jobs <= len(cores):
            raise UsageError(f"--jobs must be between 1 and the {len(cores)} core(s) this process may use, got {jobs}")
        self.jobs = jobs
        per = len(cores) // jobs
        self.cores = {f"cores{i}": cores[len(cores) - (i + 1) * per: len(cores) - i * per] for i in range(jobs)}
        self.cancel = threading.Event()
        self.pool = futures.ThreadPoolExecutor(jobs, thread_name_prefix="harness-cell") if jobs > 1 else None

    def check(self, cells: Iterable[Cell]) -> None:
        """Refuse (UsageError) a parallel run whose cells want more cores than a slot has."""
        if self.jobs == 1:
            return
        per = len(next(iter(self.cores.values())))
        for cell in cells:
            if cell.device == "cpu" and (cell.cpus is None or cell.cpus > per):
                want = "every core (--cpus all)" if cell.cpus is None else f"{cell.cpus} cores"
                raise UsageError(f"--jobs {self.jobs} gives each cell {per} core(s), but {cell.label()} wants {want}; "
                                 f"use fewer jobs or --cpus {per}")

    def exclusive(self, cell: Cell) -> bool:
        return self.jobs > 1 and not co_runs(cell, self.jobs)

    def slots(self) -> dict:
        return {slot: i == 0 for i, slot in enumerate(self.cores)}

    def wait_for_slots(self) -> None:  # the slots are always there
        return None

    def submit(self, slot, cell: Cell, kwargs: dict):
        if self.pool is None:
            return run_one(cell, **kwargs)  # runs to the end: the handle is the row
        kwargs = {**kwargs, "cancel": self.cancel}
        if cell.device == "cpu":
            kwargs["cores"] = self.cores[slot]
        return self.pool.submit(run_one, cell, **kwargs)

    def finished(self, flights) -> list[tuple[int, dict]]:
        if self.pool is None:
            return [(i, handle) for i, (handle, _, _) in enumerate(flights)]
        if flights:
            futures.wait([f[0] for f in flights], timeout=POLL_S * 4, return_when=futures.FIRST_COMPLETED)
        return [(i, handle.result()) for i, (handle, _, _) in enumerate(flights) if handle.done()]

    def close(self) -> None:
        """Stop every cell still running (their processes are killed) and the threads."""
        self.cancel.set()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def run_cells(
    cells: Iterable[Cell],
    out_dir,
    command: str = "",
    timeout_s: float | Callable[[Cell], float] = DEFAULT_TIMEOUT_S,
    on_row: Callable[[dict], None] | None = None,
    resume: bool = False,
    save_draws: bool = False,
    progress=None,
    recheck: bool = False,
    jobs: int = 1,
    estimate: Callable[[Cell], float] | None = None,
    warm_start: bool = False,
    max_memory_mb: float | None = None,
) -> list[dict]:
    """Run the cells here, ``jobs`` at a time (:class:`LocalExecutor`), appending each row to ``out_dir``
    as soon as it ends.

    Returns the rows of this call; with ``resume`` the cells already stored ok
    are skipped (and cells another live run holds are left to it).
    ``progress`` (a :class:`harness.progress.Progress`) hears of each cell's
    start, row or skip. With ``recheck`` (what ``harness run`` does), a second
    pass runs again those of these cells a shared host may have slowed (:mod:`harness.recheck`)
    and appends the row it keeps. With several jobs and an ``estimate`` of each cell's seconds, the
    longest cells start first (so that no long cell starts last, beside an idle core).
    """
    cells = list(cells)
    if jobs > 1 and estimate is not None:
        cells.sort(key=estimate, reverse=True)  # stable: equal estimates keep the suite's order
    executor = LocalExecutor(jobs)
    executor.check(cells)
    session = Session(out_dir, command, timeout_s, resume, save_draws, on_row, warm_start, max_memory_mb,
                      host_reference=recheck)
    try:
        todo = session.todo(cells)
        if jobs > 1 and len(todo) > 1:  # one cell has nothing beside it: it probes the bandwidth itself
            prime_bandwidth(executor, todo, session.run_id)
        session.run(todo, executor, progress)
        if recheck:
            second_pass(session, executor, progress, cells)
    finally:
        executor.close()
    return session.rows


PRIME = """
import json, sys
from harness import roofline
from harness.cell import pin
cpus, slots = json.loads(sys.argv[1])
for cores in slots:
    pin(cpus, cores)
    roofline.bandwidth()
"""


def prime_bandwidth(executor: LocalExecutor, cells: list[Cell], run_id: str) -> None:
    """Measure the run's memory bandwidth (:func:`harness.roofline.bandwidth`) once per slot, one slot at a
    time, before any cell starts: a cell would probe it itself, and under ``--jobs`` beside another cell,
    whose reads would lower the figure. The probes run in one process started as a cell's would (its
    environment), held to each slot's cores in turn, so the cells find them cached for this run. A failed
    probe is left to the cells."""
    cpu = next((c for c in cells if c.device == "cpu" and c.cpus is not None and not c.xla_devices and not c.xla_flags),
               None)
    if cpu is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([sys.executable, "-c", PRIME, json.dumps([cpu.cpus, list(executor.cores.values())])],
                       env=cell_env(cpu, run_id), timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL)


def second_pass(session: Session, executor, progress=None, cells: Iterable[Cell] | None = None) -> None:
    """Run again, in fresh processes and after every other cell, those of ``cells`` (default: every cell
    stored in the run directory) that :func:`harness.recheck.suspects` names among the run directory's
    rows (a resumed run's earlier rows included; cells of earlier invocations that this one did not name
    are left alone), each once: a cell already run twice is not run again, and a concurrent resumed
    run's claim is respected. Append the row :func:`harness.recheck.merge` keeps."""
    from harness import recheck

    rows = store.latest(store.read_rows(session.out_dir))
    again = recheck.suspects(rows)
    if cells is not None:
        named = {c.key() for c in cells}
        again = {k: why for k, why in again.items() if k in named}
    first = {r["cell_key"]: r for r in rows if r.get("cell_key") in again and not r.get("attempts")}
    cells = [Cell(**json.loads(key)) for key in first]
    if progress and cells:
        progress.add(cells)

    @contextlib.contextmanager
    def claim(cell: Cell):
        with store.claim(session.out_dir, cell.key()) as mine:
            yield mine and not _rechecked(session.out_dir, cell.key())

    session.run(cells, executor, progress, claim=claim,
                keep=lambda cell, row: recheck.merge(first[cell.key()], row, again[cell.key()]))


def _rechecked(out_dir, key: str) -> bool:
    """Whether the cell's stored row already comes from a second pass."""
    return any(r.get("attempts") for r in store.read_rows(out_dir) if r.get("cell_key") == key)
