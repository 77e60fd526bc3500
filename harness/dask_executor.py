"""Cells on a Dask distributed cluster: ``harness run --scheduler tcp://host:port``.

Each cell still runs in a fresh subprocess (:func:`harness.runner.run_one`),
now started by a Dask worker. The client keeps at most one cell in flight per
worker, whatever the worker's thread count, by pinning each task to a free
worker (``workers=[address]``, ``allow_other_workers=False``): concurrent
cells on one machine would share its cores and memory bandwidth and spoil
each other's timings. GPU cells go only to workers that declare a GPU resource
(``dask worker ... --resources GPU=1``); when the cluster has none they are
recorded ``skipped``. Rows come back to the client, which appends them to its
own store as each cell ends, exactly as a local run does (resume and claims
included). A task lost with its worker becomes an ``error`` row.

Each worker holds its cells to cores of its own, as ``harness run --jobs`` does on one machine: the
workers of one host split that host's usable cores (the last ones first), so a cluster of one worker
per core gives every cell a core to itself (:meth:`DaskExecutor.cores_of`).

Saved draws (``--save-draws``) are written by the worker at the run
directory's path: on several machines that path must be a shared file system.
"""

from __future__ import annotations

import socket
import time
from typing import Callable, Iterable
from urllib.parse import urlsplit

from harness import UsageError
from harness.cell import Cell
from harness.environment import usable_cpus
from harness.runner import DEFAULT_TIMEOUT_S, Session, failure_row, run_one

GPU_RESOURCE = "GPU"
POLL_S = 0.2  # how often the client looks for finished cells, free and departed workers
NO_GPU_WORKER = f"no Dask worker declares a {GPU_RESOURCE} resource (start one with --resources {GPU_RESOURCE}=1)"


def _host_cores() -> tuple[str, list[int]]:
    """Run on a worker: its host's name and the cores its process may use."""
    return socket.gethostname(), usable_cpus()


def _workers(client) -> dict[str, bool]:
    """Worker address -> whether it declares a GPU."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    return {addr: (w.get("resources") or {}).get(GPU_RESOURCE, 0) > 0 for addr, w in info.items()}


class DaskExecutor:
    """The run loop's executor (:meth:`harness.runner.Session.run`) on a Dask cluster: one slot per
    worker (a cell at a time, pinned to it), GPU cells only to workers that declare a GPU."""

    no_gpu = NO_GPU_WORKER

    def __init__(self, client, scheduler: str, workers_timeout_s: float):
        self.client, self.scheduler, self.workers_timeout_s = client, scheduler, workers_timeout_s
        self.cores: dict[str, list[int]] = {}  # worker -> the cores its cells are held to

    def slots(self) -> dict[str, bool]:
        workers = _workers(self.client)
        if set(workers) - set(self.cores):
            self.cores = self.cores_of(workers)
        return workers

    def cores_of(self, workers) -> dict[str, list[int]]:
        """Worker -> its share of its host's usable cores: the workers of a host, in address order, take
        ``cores // workers`` each from the last core down (a host with more workers than cores: none)."""
        hosts: dict[str, list[str]] = {}
        found = self.client.run(_host_cores, workers=list(workers))
        for addr in sorted(found):
            hosts.setdefault(found[addr][0], []).append(addr)
        out = {}
        for addrs in hosts.values():
            for k, addr in enumerate(addrs):
                cores = sorted(found[addr][1])
                per = len(cores) // len(addrs)
                out[addr] = cores[len(cores) - (k + 1) * per: len(cores) - k * per] if per else []
        return out

    def wait_for_slots(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=self.workers_timeout_s)
        except TimeoutError:
            raise UsageError(f"Dask scheduler {self.scheduler!r} has no workers") from None

    def submit(self, worker: str, cell: Cell, kwargs: dict):
        if cell.device == "cpu" and self.cores.get(worker):
            kwargs = {**kwargs, "cores": self.cores[worker]}
        return self.client.submit(run_one, cell, **kwargs, pure=False, workers=[worker], allow_other_workers=False)

    def finished(self, flights) -> list[tuple[int, dict]]:
        """(index, row) of each flight that ended: its row, an error row for a task that failed, or one
        for a task whose worker left (a task pinned to a departed worker would wait forever)."""
        if not flights:
            return []
        done = {i for i, (future, _, _) in enumerate(flights) if future.done()}
        if not done:
            time.sleep(POLL_S)
        alive = _workers(self.client)
        out = []
        for i, (future, cell, worker) in enumerate(flights):
            if i in done:
                try:
                    row = future.result()
                except Exception as e:  # the task failed on the worker: the cell becomes an error row
                    row = failure_row(cell, "error", f"Dask task failed: {type(e).__name__}: {e}".splitlines()[0])
            elif worker not in alive:
                future.cancel()
                row = failure_row(cell, "error", f"Dask worker {worker} left while running the cell")
            else:
                continue
            out.append((i, row))
        return out


#: Address schemes a Dask client connects with (``scheme://host:port``).
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
#: Seconds to reach the scheduler: a wrong or dead address fails in a few seconds, not a minute.
CONNECT_TIMEOUT_S = 5.0


def check_address(scheduler: str) -> str:
    """``scheduler`` if it reads ``scheme://host:port`` (:data:`SCHEMES`), else UsageError: checked
    before anything runs (Dask itself raises a bare ValueError, or waits, for a malformed one)."""
    parts = urlsplit(scheduler)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in SCHEMES or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise UsageError(f"--scheduler expects an address scheme://HOST:PORT with scheme "
                         f"{', '.join(SCHEMES)} (e.g. tcp://127.0.0.1:8786), got {scheduler!r}")
    return scheduler


def run_cells_dask(
    cells: Iterable[Cell],
    out_dir,
    scheduler: str,
    command: str = "",
    timeout_s: float | Callable[[Cell], float] = DEFAULT_TIMEOUT_S,
    on_row: Callable[[dict], None] | None = None,
    resume: bool = False,
    save_draws: bool = False,
    progress=None,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    workers_timeout_s: float = 30.0,
) -> list[dict]:
    """Run the cells on the cluster at ``scheduler``; same contract as :func:`harness.runner.run_cells`
    (the same loop, :meth:`harness.runner.Session.run`), without the second pass: its cells ran on
    different hosts, whose references do not compare."""
    from distributed import Client

    check_address(scheduler)
    session = Session(out_dir, command, timeout_s, resume, save_draws, on_row)
    try:
        client = Client(scheduler, timeout=connect_timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise UsageError(f"cannot reach Dask scheduler {scheduler!r} within {connect_timeout_s:g} s: {e}") from None
    with client:
        session.run(session.todo(cells), DaskExecutor(client, scheduler, workers_timeout_s), progress)
    return session.rows
