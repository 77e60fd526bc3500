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

Saved draws (``--save-draws``) are written by the worker at the run
directory's path: on several machines that path must be a shared file system.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from typing import Callable, Iterable

from harness import UsageError
from harness.cell import Cell
from harness.runner import DEFAULT_TIMEOUT_S, Session, failure_row, run_one

GPU_RESOURCE = "GPU"
POLL_S = 0.2  # how often the client looks for finished cells, free and departed workers
NO_GPU_WORKER = f"no Dask worker declares a {GPU_RESOURCE} resource (start one with --resources {GPU_RESOURCE}=1)"


def _workers(client) -> dict[str, bool]:
    """Worker address -> whether it declares a GPU."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    return {addr: (w.get("resources") or {}).get(GPU_RESOURCE, 0) > 0 for addr, w in info.items()}


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
    connect_timeout_s: float = 30.0,
) -> list[dict]:
    """Run the cells on the cluster at ``scheduler``; same contract as :func:`harness.runner.run_cells`."""
    from distributed import Client

    session = Session(out_dir, command, timeout_s, resume, save_draws, on_row)
    pending = deque(session.todo(cells))
    try:
        client = Client(scheduler, timeout=connect_timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise UsageError(f"cannot reach Dask scheduler {scheduler!r}: {e}") from None
    in_flight: dict = {}  # future -> (cell, worker, claim stack)

    def record(cell: Cell, row: dict) -> None:
        row = session.finish(cell, row)
        if progress:
            progress.done(row)

    with client, contextlib.ExitStack() as all_claims:
        while pending or in_flight:
            workers = _workers(client)
            if not workers and not in_flight:
                try:
                    client.wait_for_workers(1, timeout=connect_timeout_s)
                except TimeoutError:
                    raise UsageError(f"Dask scheduler {scheduler!r} has no workers") from None
                continue
            busy = {w for _, w, _ in in_flight.values()}
            for worker, has_gpu in workers.items():
                if worker in busy:
                    continue
                cell = next((c for c in pending if c.device != "gpu" or has_gpu), None)
                if cell is None:
                    continue
                pending.remove(cell)
                stack = all_claims.enter_context(contextlib.ExitStack())
                if not stack.enter_context(session.claimed(cell)):
                    stack.close()
                    if progress:
                        progress.skip(cell)
                    continue
                if progress:
                    progress.start(cell)
                row, kwargs = session.prepare(cell)
                if row is not None:
                    stack.close()
                    record(cell, row)
                    continue
                future = client.submit(run_one, cell, **kwargs, pure=False, workers=[worker],
                                       allow_other_workers=False)
                in_flight[future] = (cell, worker, stack)
                busy.add(worker)
            if not any(w for w in workers.values()):  # GPU cells no worker here can take
                for cell in [c for c in pending if c.device == "gpu"]:
                    pending.remove(cell)
                    if progress:
                        progress.start(cell)
                    record(cell, failure_row(cell, "skipped", NO_GPU_WORKER))
            if not in_flight:
                continue
            done = {f for f in in_flight if f.done()}
            if not done:
                time.sleep(POLL_S)
            alive = _workers(client)
            for future in list(in_flight):
                cell, worker, stack = in_flight[future]
                if future in done:
                    try:
                        row = future.result()
                    except Exception as e:  # the task failed on the worker: the cell becomes an error row
                        row = failure_row(cell, "error", f"Dask task failed: {type(e).__name__}: {e}".splitlines()[0])
                elif worker not in alive:  # a task pinned to a worker that left would wait forever
                    future.cancel()
                    row = failure_row(cell, "error", f"Dask worker {worker} left while running the cell")
                else:
                    continue
                del in_flight[future]
                stack.close()
                record(cell, row)
    return session.rows
