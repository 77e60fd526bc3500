"""The Dask path: a real distributed.LocalCluster on loopback; rows come back to the local store with the
same configurations a local run stores, at most one cell per worker at a time, GPU cells only to GPU workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import UsageError, runner, store
from harness.cell import Cell, validate
from harness.environment import usable_cpus

import distributed  # in the dev extra: the Dask path is tested, never skipped

from harness.dask_executor import NO_GPU_WORKER, run_cells_dask

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.every_core  # two workers, a core each: both cores, not the xdist worker's one


@pytest.fixture(autouse=True)
def plugin_env(monkeypatch):
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_cells")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def fake(seed, device="cpu") -> Cell:
    return validate(Cell("test_tiny", "analytic", None, "test_fake", {"sleep_s": 1.0}, device=device,
                         num_chains=2, num_warmup=0, num_samples=20, seed=seed, cpus=1))


def test_cells_on_a_local_cluster_come_back_to_the_store(tmp_path):
    cells = [fake(s) for s in range(4)] + [fake(9, device="gpu")]
    # two workers with two threads each: without pinning, Dask would run four cells at once
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        rows = run_cells_dask(cells, tmp_path, cluster.scheduler_address, command="dask-test")
    stored = store.read_rows(tmp_path)
    assert sorted(r["cell_key"] for r in stored) == sorted(c.key() for c in cells) == sorted(r["cell_key"] for r in rows)
    by_key = {r["cell_key"]: r for r in stored}
    for cell in cells:  # the configuration columns are exactly those a local run writes for the cell
        row = by_key[cell.key()]
        assert {k: row[k] for k in runner.base_row(cell)} == runner.base_row(cell)
        assert row["command"] == "dask-test"
    ok = [by_key[c.key()] for c in cells if c.device == "cpu"]
    assert all(r["status"] == "ok" and r["floor_us_per_grad"] > 0 for r in ok), [(r["status"], r.get("error")) for r in ok]
    gpu = by_key[cells[-1].key()]
    assert gpu["status"] == "skipped" and gpu["error"] == NO_GPU_WORKER
    # one cell per worker at a time: never more than two cells' sampling intervals overlap
    spans = [(r["x_t_start"], r["x_t_end"]) for r in ok]
    overlap = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert overlap <= 2
    # each worker holds its cells to a core of its own, as --jobs 2 does here
    if len(usable_cpus()) >= 2:
        assert {r["cpu_affinity"] for r in ok} == {str(c) for c in usable_cpus()[-2:]}
    assert all(r["co_running"] <= 1 for r in ok)


def test_unreachable_scheduler_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot reach Dask scheduler"):
        run_cells_dask([fake(0)], tmp_path, "tcp://127.0.0.1:9", connect_timeout_s=1)
    assert not store.rows_path(tmp_path).exists()


def test_gpu_cells_go_to_workers_that_declare_a_gpu(tmp_path):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None, resources={"GPU": 1}) as cluster:
        (row,) = run_cells_dask([fake(0, device="gpu")], tmp_path, cluster.scheduler_address)
    # it reached the GPU worker, whose cell process then found no GPU on this machine
    assert row["status"] == "skipped" and "JAX could not initialise" in row["error"]
