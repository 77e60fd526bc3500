"""Append-only results store: one JSON line per cell in ``RUN_DIR/rows.jsonl``.

Each row is written with a single ``write`` on a file opened with O_APPEND,
under an exclusive ``flock``, then fsync'ed: rows already stored are never
rewritten, concurrent writers interleave whole lines, and a reader never sees
half a row (a torn last line from a killed writer is skipped by :func:`load`).

Every row carries ``cell_key`` (:meth:`harness.cell.Cell.key`), the full
configuration it measured: :func:`ok_keys` is what ``--resume`` skips, and
:func:`claim` lets concurrent resumed runs on one directory split the work.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
from pathlib import Path

import pandas as pd

from harness import schema

ROWS_FILE = "rows.jsonl"

#: Declared columns, in display order (harness.schema; rows may carry more).
COLUMNS = schema.COLUMNS


def _clean(value):
    """JSON-safe value: NaN and infinities become null, numpy scalars plain Python."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def rows_path(run_dir) -> Path:
    return Path(run_dir) / ROWS_FILE


def append(run_dir, row: dict) -> None:
    """Append one row atomically (see module docstring)."""
    path = rows_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(_clean(row), sort_keys=False, allow_nan=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_rows(run_dir) -> list[dict]:
    """Every complete row in the run directory, oldest first."""
    path = rows_path(run_dir)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn line from a writer killed mid-write
    return rows


def ok_keys(run_dir) -> set[str]:
    """Cell keys already stored with status ok (what a resumed run skips)."""
    return {r["cell_key"] for r in read_rows(run_dir) if r.get("status") == "ok" and r.get("cell_key")}


@contextlib.contextmanager
def claim(run_dir, key: str):
    """Non-blocking exclusive claim on one cell across processes; yields True if this process holds it.

    An ``flock`` on ``RUN_DIR/claims/<sha1 of key>``: held while the cell runs,
    released when the block ends or the process dies (the kernel drops the
    lock), so a killed run never leaves a stale claim behind.
    """
    path = Path(run_dir) / "claims" / (hashlib.sha1(key.encode()).hexdigest() + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def latest(rows: list[dict]) -> list[dict]:
    """Each cell's last row (a cell re-run by a resumed run or by a run's second pass,
    :mod:`harness.recheck`, has several; the file keeps them all), in first-seen order;
    rows without a ``cell_key`` all stay."""
    last: dict = {}
    for i, row in enumerate(rows):
        last[row.get("cell_key") or ("", i)] = row
    return list(last.values())


def load(run_dir) -> pd.DataFrame:
    """Each cell's last row in a run directory (:func:`latest`) as a DataFrame, the standard columns first."""
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"no run directory at {run_dir}")
    rows = latest(read_rows(run_dir))
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in COLUMNS]
    return df.reindex(columns=COLUMNS + extra)
