"""Runs cells, each in a fresh subprocess, and appends each row to the store as it ends.

The child gets ``JAX_PLATFORMS`` for its device and the persistent compilation
cache off, so every compile it reports is a real one. A child that crashes or
outlives its timeout still becomes a row (status 'error' or 'timeout').
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

from harness import environment, store
from harness.cell import Cell, base_row

DEFAULT_TIMEOUT_S = 1800.0


def cell_env(cell: Cell) -> dict:
    env = dict(os.environ)
    env["JAX_PLATFORMS"] = "cuda" if cell.device == "gpu" else "cpu"
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _failure_row(cell: Cell, status: str, error: str, wall_s: float) -> dict:
    row = base_row(cell)
    row.update(status=status, error=error, wall_s=wall_s)
    row.update(environment.capture(with_device=False))
    return row


def run_one(cell: Cell, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Run ``cell`` in a fresh Python process and return its row."""
    with tempfile.TemporaryDirectory(prefix="harness-cell-") as tmp:
        cell_path, row_path = Path(tmp) / "cell.json", Path(tmp) / "row.json"
        cell_path.write_text(json.dumps(cell.to_dict()))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "harness.cell", str(cell_path), str(row_path)],
                env=cell_env(cell), capture_output=True, text=True, timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            return _failure_row(cell, "timeout", f"cell exceeded {timeout_s:g} s", time.perf_counter() - t0)
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not row_path.exists():
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            why = lines[-1] if lines else f"exit code {proc.returncode}"
            return _failure_row(cell, "error", f"process exited {proc.returncode}: {why}"[:500], wall)
        return json.loads(row_path.read_text())


def run_cells(
    cells: Iterable[Cell],
    out_dir,
    command: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Run every cell in order, appending each row to ``out_dir`` as soon as it ends."""
    rows = []
    for cell in cells:
        row = run_one(cell, timeout_s)
        row["command"] = command
        store.append(out_dir, row)
        rows.append(row)
        if on_row:
            on_row(row)
    return rows
