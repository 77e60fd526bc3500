import json

import numpy as np

from harness import store


def test_append_never_rewrites_and_load_returns_dataframe(tmp_path):
    store.append(tmp_path, {"model": "m", "method": "a", "min_ess_bulk": 1.5, "max_rhat": float("nan")})
    first = store.rows_path(tmp_path).read_bytes()
    store.append(tmp_path, {"model": "m", "method": "b", "min_ess_bulk": np.float32(2.0), "extra_col": 3})
    assert store.rows_path(tmp_path).read_bytes().startswith(first)
    df = store.load(tmp_path)
    assert list(df["method"]) == ["a", "b"]
    assert set(store.COLUMNS) <= set(df.columns) and "extra_col" in df.columns
    assert np.isnan(df["max_rhat"][0])  # NaN stored as null, read back as missing, never 0


def test_load_skips_a_torn_last_line(tmp_path):
    store.append(tmp_path, {"model": "m", "method": "a"})
    with open(store.rows_path(tmp_path), "a") as f:
        f.write(json.dumps({"model": "m", "method": "b"})[:10])  # a writer killed mid-row
    assert list(store.load(tmp_path)["method"]) == ["a"]


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
