import errno
import json
import os
import re
import warnings

import numpy as np
import pytest

from harness import StoreError, store
from tests.conftest import fill_disk


def test_append_never_rewrites_and_load_returns_dataframe(tmp_path):
    store.append(tmp_path, {"model": "m", "method": "a", "min_ess_bulk": 1.5, "max_rhat": float("nan")})
    first = store.rows_path(tmp_path).read_bytes()
    store.append(tmp_path, {"model": "m", "method": "b", "min_ess_bulk": np.float32(2.0), "extra_col": 3})
    assert store.rows_path(tmp_path).read_bytes().startswith(first)
    df = store.load(tmp_path)
    assert list(df["method"]) == ["a", "b"]
    assert set(store.COLUMNS) <= set(df.columns) and "extra_col" in df.columns
    assert np.isnan(df["max_rhat"][0])  # NaN stored as null, read back as missing, never 0


def test_load_keeps_complete_rows_and_warns_of_a_torn_last_line(tmp_path):
    store.append(tmp_path, {"model": "m", "method": "a"})
    with open(store.rows_path(tmp_path), "a") as f:
        f.write(json.dumps({"model": "m", "method": "b"})[:10])  # a writer killed mid-row
    with pytest.warns(store.UnreadableRows, match=r"rows\.jsonl: skipped 1 unreadable line.*line 2 \(not JSON\)"):
        assert list(store.load(tmp_path)["method"]) == ["a"]


def test_an_append_after_a_torn_line_fences_it_and_stays_whole(tmp_path):
    store.append(tmp_path, {"method": "a"})
    path = store.rows_path(tmp_path)
    whole = path.read_bytes()
    path.write_bytes(whole + json.dumps({"method": "torn"}).encode()[:9])  # a kill mid-write: no newline
    store.append(tmp_path, {"method": "b"})
    lines = path.read_bytes().split(b"\n")
    assert lines[1] == b'{"method"' and json.loads(lines[2]) == {"method": "b"}  # the fragment kept apart
    with pytest.warns(store.UnreadableRows, match=re.escape(str(path)) + r".*line 2 \(not JSON\)"):
        assert [r["method"] for r in store.read_rows(tmp_path)] == ["a", "b"]


def test_readers_warn_of_every_unreadable_line_once(tmp_path):
    path = store.rows_path(tmp_path)
    path.write_text('{"method": "a"}\nnot json at all\n[1, 2]\n{"method": "b"}\n')
    with pytest.warns(store.UnreadableRows) as caught:
        assert [r["method"] for r in store.read_rows(tmp_path)] == ["a", "b"]
        store.read_rows(tmp_path)  # the same file read again: no second warning
    assert len(caught) == 1
    assert "line 2 (not JSON), 3 (JSON list, not an object)" in str(caught[0].message)


def test_a_short_write_is_completed(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(store.os, "write", lambda fd, data: real_write(fd, data[:7]))  # 7 bytes a call
    store.append(tmp_path, {"method": "a", "pad": "x" * 100})
    monkeypatch.undo()
    assert store.read_rows(tmp_path) == [{"method": "a", "pad": "x" * 100}]


def test_a_failed_write_names_the_file_and_takes_back_its_part(tmp_path, monkeypatch):
    store.append(tmp_path, {"method": "a"})
    real_write = os.write

    def full_after_10_bytes(fd, data):
        if len(data) > 10:
            return real_write(fd, data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store.os, "write", full_after_10_bytes)
    path = store.rows_path(tmp_path)
    with pytest.raises(StoreError, match=re.escape(f"cannot store row in {path}: No space left on device")):
        store.append(tmp_path, {"method": "b", "pad": "x" * 100})
    monkeypatch.undo()
    assert path.read_text() == '{"method": "a"}\n'  # the partial row taken back
    store.append(tmp_path, {"method": "c"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r["method"] for r in store.read_rows(tmp_path)] == ["a", "c"]


def test_an_unwritable_directory_names_the_file(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match=re.escape(f"cannot store row in {tmp_path / 'file' / 'rows.jsonl'}: ")):
        store.append(tmp_path / "file", {"method": "a"})


def test_disk_full_names_the_file_keeps_every_row_and_recovers(tiny_fs):
    run = tiny_fs / "run"
    for i in range(3):
        store.append(run, {"method": "before", "i": i})
    filler = fill_disk(tiny_fs)
    failures = 0
    for i in range(5):
        try:
            store.append(run, {"method": "full", "i": i, "pad": "y" * 3000})
        except StoreError as e:
            assert str(e) == f"cannot store row in {store.rows_path(run)}: No space left on device"
            failures += 1
    assert failures  # the disk was full
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fragment left behind
        rows = store.read_rows(run)
    assert [r["i"] for r in rows if r["method"] == "before"] == [0, 1, 2]
    filler.unlink()
    for i in range(3):
        store.append(run, {"method": "after", "i": i, "pad": "z" * 3000})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = store.read_rows(run)
    assert [r["i"] for r in rows if r["method"] == "after"] == [0, 1, 2]
    assert len(rows) == 3 + 5 - failures + 3


WRITER = """
import sys
from harness import store
out, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    store.append(out, {"writer": who, "i": i, "pad": "x" * (5000 + 37 * i)})  # rows beyond one pipe buffer
"""


def test_concurrent_writers_neither_corrupt_nor_lose_rows(tmp_path):
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(w), "40"]) for w in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    lines = store.rows_path(tmp_path).read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # every line is one whole row
    assert len(rows) == 160
    for w in range(4):  # each writer's rows all there, in its own order
        assert [r["i"] for r in rows if r["writer"] == str(w)] == list(range(40))


def test_claim_is_exclusive_and_dies_with_its_holder(tmp_path):
    import subprocess
    import sys

    with store.claim(tmp_path, "cell-a") as first:
        assert first
        with store.claim(tmp_path, "cell-a") as second:
            assert not second  # another open file description: flock excludes it, even in one process
        with store.claim(tmp_path, "cell-b") as other:
            assert other
    with store.claim(tmp_path, "cell-a") as again:
        assert again
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom harness import store\n"
        f"with store.claim({str(tmp_path)!r}, 'cell-a') as c:\n    print(c, flush=True)\n    time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "True"
    with store.claim(tmp_path, "cell-a") as held:
        assert not held
    holder.kill()
    holder.wait()
    with store.claim(tmp_path, "cell-a") as freed:
        assert freed  # a killed holder leaves no stale claim


def test_ok_keys_are_the_cells_stored_ok(tmp_path):
    store.append(tmp_path, {"cell_key": "a", "status": "ok"})
    store.append(tmp_path, {"cell_key": "b", "status": "timeout"})
    store.append(tmp_path, {"cell_key": "c", "status": "error"})
    store.append(tmp_path, {"cell_key": "c", "status": "ok"})
    assert store.ok_keys(tmp_path) == {"a", "c"}


def test_load_reads_each_cells_last_row_and_the_file_keeps_all(tmp_path):
    for row in ({"cell_key": "a", "status": "error"}, {"cell_key": "b", "status": "ok", "sample_s": 2.0},
                {"cell_key": "a", "status": "ok", "sample_s": 1.0}, {"status": "ok"}, {"status": "ok"}):
        store.append(tmp_path, row)
    df = store.load(tmp_path)
    assert list(df["cell_key"].fillna("-")) == ["a", "b", "-", "-"]
    assert df.loc[0, "status"] == "ok" and df.loc[0, "sample_s"] == 1.0
    assert len(store.read_rows(tmp_path)) == 5
