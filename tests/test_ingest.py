"""harness ingest: a real pytest-benchmark JSON becomes rows of the results store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import cli, store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory) -> Path:
    """JSON written by an actual pytest-benchmark run of the ESS benchmark of tests/perf."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    # one process (-n 0): pytest-benchmark times nothing while xdist spreads tests over workers
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "tests/perf/test_ess.py",
         f"--benchmark-json={out}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def test_ingest_appends_one_row_per_benchmark(bench_json, tmp_path, capsys):
    run_dir = tmp_path / "run"
    store.append(run_dir, {"model": "earlier", "status": "ok"})  # rows already there must survive
    assert cli.main(["ingest", str(bench_json), "--out", str(run_dir)]) == 0
    assert "1 row(s)" in capsys.readouterr().out

    rows = store.read_rows(run_dir)
    assert [r.get("model") for r in rows[:1]] == ["earlier"] and len(rows) == 2
    row = rows[1]
    bench = json.loads(bench_json.read_text())["benchmarks"][0]
    assert row["source"] == "pytest-benchmark" and row["status"] == "ok"
    assert row["benchmark"] == bench["fullname"] and row["benchmark"].endswith("test_summarize_ess")
    assert row["bench_median_s"] == bench["stats"]["median"] > 0
    assert row["bench_rounds"] == bench["stats"]["rounds"] == 5
    assert row["min_ess_bulk"] == bench["extra_info"]["min_ess_bulk"] > 0
    assert row["seconds_per_work"] == pytest.approx(row["bench_median_s"] / bench["extra_info"]["work"])
    assert row["python"] and row["git_commit"] and row["timestamp"]
    assert store.load(run_dir).loc[1, "bench_median_s"] == row["bench_median_s"]


@pytest.mark.parametrize("content, why", [("not json", "is not JSON"), ('{"x": 1}', "no 'benchmarks' list")])
def test_ingest_rejects_a_file_that_is_not_a_benchmark_json(tmp_path, capsys, content, why):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert cli.main(["ingest", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness: error:") and why in err and err.count("\n") == 1
    assert not store.rows_path(tmp_path / "run").exists()
