"""Append-only results store: one JSON line per cell in ``RUN_DIR/rows.jsonl``.

Each row is written on a file opened with O_APPEND, under an exclusive
``flock``, then fsync'ed: rows already stored are never rewritten and
concurrent writers interleave whole lines. A write that stores less than the
whole line (a full disk) is taken back (the file is cut to where the row began)
and raises :class:`StoreError` naming the file, never a silent loss. A torn
last line left by a writer killed mid-write is fenced off: the next append
first ends it with a newline, so the fragment stays a line of its own and the
new row is whole. Readers keep every complete row and warn
(:class:`UnreadableRows`) once per file, naming each line they cannot read.

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
import warnings
from pathlib import Path

import pandas as pd

from harness import StoreError, schema

ROWS_FILE = "rows.jsonl"

#: Declared columns, in display order (harness.schema; rows may carry more).
COLUMNS = schema.COLUMNS


class UnreadableRows(UserWarning):
    """Lines of a rows file that are not a JSON object (a torn or foreign line): skipped, and said."""


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
    """Append one row whole or raise :class:`StoreError` (see module docstring)."""
    path = rows_path(run_dir)
    line = (json.dumps(_clean(row), sort_keys=False, allow_nan=False) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as e:
        raise StoreError(f"cannot store row in {path}: {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            _write_whole(fd, line, path)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _write_whole(fd: int, line: bytes, path: Path) -> None:
    """Under the lock: fence a torn last line, write every byte of ``line`` and fsync, or cut the
    file back to its size before and raise :class:`StoreError`."""
    start = os.fstat(fd).st_size
    if start and os.pread(fd, 1, start - 1) != b"\n":
        line = b"\n" + line  # a torn last line stays its own (unreadable) line; this row stays whole
    try:
        done = 0
        while done < len(line):
            n = os.write(fd, line[done:])
            if n <= 0:  # never seen from a regular file, but a loop must not spin
                raise OSError(0, "write stored nothing")
            done += n
        os.fsync(fd)
    except OSError as e:
        with contextlib.suppress(OSError):  # take back a partial row; if that fails, the next append fences it
            os.ftruncate(fd, start)
        raise StoreError(f"cannot store row in {path}: {e.strerror or e}") from None


_warned: set = set()


def read_rows(run_dir) -> list[dict]:
    """Every complete row in the run directory, oldest first; lines that are not a JSON object (a
    torn last line, a foreign line in the middle) are skipped with one :class:`UnreadableRows`
    warning per file naming their line numbers."""
    path = rows_path(run_dir)
    if not path.exists():
        return []
    rows, bad = [], []
    for number, line in enumerate(path.read_bytes().decode("utf-8", errors="replace").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad.append(f"{number} (not JSON)")
            continue
        if not isinstance(row, dict):
            bad.append(f"{number} (JSON {type(row).__name__}, not an object)")
            continue
        rows.append(row)
    if bad and (str(path), tuple(bad)) not in _warned:  # once per file and fault, however often it is read
        _warned.add((str(path), tuple(bad)))
        warnings.warn(f"{path}: skipped {len(bad)} unreadable line(s), kept {len(rows)} row(s): line "
                      + ", ".join(bad), UnreadableRows, stacklevel=2)
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
