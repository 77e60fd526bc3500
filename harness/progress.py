"""Live progress of a run on stderr: cells done / total, the current cell, elapsed, ETA.

On a terminal one line is redrawn in place every second (a background
thread keeps elapsed time moving while a long cell runs). When stderr is not a
terminal (a log file, CI) the bar stays quiet and one plain line is printed per
finished cell instead; ``quiet`` silences both.

ETA: the estimated seconds of the cells still to run (the suite cost model,
:func:`harness.suites.estimate_cell_s`) scaled by how long the finished cells
really took against their own estimates (until one has finished, the raw
estimate), less the time the running cells have already run, over the ``jobs``
cells that run at once.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

from harness.cell import Cell

BAR_WIDTH = 24


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Progress of ``cells``; call :meth:`start`, then :meth:`done` or :meth:`skip` per cell, then :meth:`close`."""

    def __init__(self, cells: list[Cell], estimate: Callable[[Cell], float] | None = None,
                 stream: TextIO | None = None, quiet: bool = False, refresh_s: float = 1.0, jobs: int = 1):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.live = not quiet and self.stream.isatty()
        self.estimate = estimate or (lambda cell: 1.0)
        self.remaining = {c.key(): self.estimate(c) for c in cells}
        self.total = len(cells)
        self.done_count = 0
        self.spent_est = 0.0  # estimated seconds of the finished cells
        self.spent_real = 0.0  # and the seconds they really took
        self.jobs = jobs
        self.running: dict[str, tuple[str, float]] = {}  # cell key -> (label, start)
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if self.live:
            self._thread = threading.Thread(target=self._tick, args=(refresh_s,), daemon=True)
            self._thread.start()

    def eta_s(self) -> float:
        """Estimated seconds left: remaining estimates x (real / estimated so far), less the current cell's run."""
        left = sum(self.remaining.values())
        rate = self.spent_real / self.spent_est if self.spent_est > 0 else 1.0
        now = time.monotonic()
        running = sum(now - t0 for _, t0 in self.running.values())
        return max(left * rate - running, 0.0) / self.jobs

    @property
    def current(self) -> str:
        """The running cells' labels."""
        return ", ".join(label for label, _ in self.running.values())

    def line(self) -> str:
        filled = BAR_WIDTH * self.done_count // max(self.total, 1)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return (f"[{bar}] {self.done_count}/{self.total} cells  elapsed {_clock(time.monotonic() - self.t0)}"
                f"  ETA {_clock(self.eta_s())}  {self.current}")

    def _draw(self) -> None:
        self.stream.write("\r\x1b[2K" + self.line())
        self.stream.flush()

    def _tick(self, refresh_s: float) -> None:
        while not self._stop.wait(refresh_s):
            with self._lock:
                self._draw()

    def start(self, cell: Cell) -> None:
        with self._lock:
            self.running[cell.key()] = (cell.label(), time.monotonic())
            if self.live:
                self._draw()

    def _finish(self, key: str, ran: bool = True) -> None:
        est = self.remaining.pop(key, 0.0)
        _, t0 = self.running.pop(key, ("", time.monotonic()))
        if ran:
            self.spent_est += est
            self.spent_real += time.monotonic() - t0
        self.done_count += 1

    def done(self, row: dict) -> None:
        with self._lock:
            self._finish(row.get("cell_key", ""))
            if self.live:
                self._draw()
            elif not self.quiet:
                n = "" if row.get("n") is None else f":{row['n']}"
                print(f"[{self.done_count}/{self.total}] {row['model']}/{row['dataset']}{n}/{row['method']}"
                      f"/{row.get('device')}/c{row.get('num_chains')}/s{row.get('seed')}: {row['status']}"
                      f" in {row.get('wall_s') or 0:.1f} s", file=self.stream, flush=True)

    def add(self, cells: list[Cell]) -> None:
        """More cells to run in this run (a second pass: :mod:`harness.recheck`)."""
        with self._lock:
            self.total += len(cells)
            self.remaining.update({c.key(): self.estimate(c) for c in cells})

    def skip(self, cell: Cell) -> None:
        """A cell this run leaves alone (another live run holds it, or it is now stored ok)."""
        with self._lock:
            self._finish(cell.key(), ran=False)

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
            with self._lock:
                self._draw()
                self.stream.write("\n")
                self.stream.flush()
