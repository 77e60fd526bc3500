"""Parallel cells (``harness run --jobs N``): disjoint cores per slot, large cells alone, the second
pass and resume under jobs, phases in every row, and the refusals of bad input.

Cells are the fake ones of tests/fake_cells.py (loaded in every cell process through HARNESS_PLUGINS).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from harness import UsageError, cli, runner, store, suites
from harness.suites import cost_model
from harness.cell import Cell, validate
from harness.environment import usable_cpus
from tests.conftest import EVERY_CORE

ROOT = Path(__file__).resolve().parent.parent
TWO_CORES = pytest.mark.skipif(len(EVERY_CORE) < 2, reason="needs two usable cores")
pytestmark = pytest.mark.every_core  # --jobs 2: both cores, not the worker's one (tests/conftest.py)


@pytest.fixture(autouse=True)
def plugin_env(monkeypatch):
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_cells")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def fake(sleep_s=0.0, **kw) -> Cell:
    kw = {"num_chains": 2, "num_warmup": 0, "num_samples": 50, "cpus": 1, **kw}
    return validate(Cell("test_tiny", "analytic", None, "test_fake", {"sleep_s": sleep_s}, **kw))


def test_slots_split_the_cores_disjointly_last_cores_first():
    ex = runner.LocalExecutor(2, cores=[0, 1, 2, 3])
    assert ex.cores == {"cores0": [2, 3], "cores1": [0, 1]}
    assert ex.slots() == {"cores0": True, "cores1": False}  # one device: only the first slot takes GPU cells
    ex.close()
    assert runner.LocalExecutor(1, cores=[0, 1, 2]).cores == {"cores0": [0, 1, 2]}


def test_refusals_name_what_is_valid():
    with pytest.raises(UsageError, match="between 1 and the 2 core"):
        runner.LocalExecutor(3, cores=[0, 1])
    with pytest.raises(UsageError, match="between 1 and the 2 core"):
        runner.LocalExecutor(0, cores=[0, 1])
    ex = runner.LocalExecutor(2, cores=[0, 1])
    with pytest.raises(UsageError, match="gives each cell 1 core"):
        ex.check([fake(cpus=None)])
    ex.check([fake()])  # one core each: fine
    ex.close()


def test_large_cells_run_alone_beyond_the_measured_jobs():
    big = Cell("sparse_logistic", "synthetic", runner.CO_RUN_MAX_N, "handrolled_hmc", cpus=1)
    small = Cell("sparse_logistic", "synthetic", runner.CO_RUN_MAX_N - 1, "handrolled_hmc", cpus=1)
    measured, more = runner.CO_RUN_MEASURED_JOBS, runner.CO_RUN_MEASURED_JOBS + 1
    assert runner.co_runs(big, measured) and runner.co_runs(small, measured)  # measured: no slowdown up to 1e6
    assert not runner.co_runs(big, more) and runner.co_runs(small, more)
    for jobs in (measured, more):
        assert not runner.co_runs(Cell("sparse_logistic", "synthetic", 200, "handrolled_hmc", cpus=None), jobs)
        assert not runner.co_runs(Cell("sparse_logistic", "synthetic", 200, "handrolled_hmc", device="gpu", cpus=1),
                                  jobs)


def test_estimate_runs_alone_cells_after_the_shared_makespan(monkeypatch):
    costs = {"a": 10.0, "b": 10.0, "c": 4.0}
    monkeypatch.setattr(cost_model, "estimate_cell_s", lambda c, *args: costs[c.method])
    monkeypatch.setattr(cost_model, "costs", lambda: {})
    cells = [Cell("m", "d", 10, "a", cpus=1), Cell("m", "d", 10, "b", cpus=1),
             Cell("m", "d", runner.CO_RUN_MAX_N, "c", cpus=1)]
    assert suites.estimate_s({}, cells, 60.0, jobs=1) == 24.0
    assert suites.estimate_s({}, cells, 60.0, jobs=2) == 14.0  # a and c side by side, b after c: all co-run
    assert suites.estimate_s({}, cells, 60.0, jobs=3) == 14.0  # a, b side by side, then c alone


@TWO_CORES
def test_two_jobs_run_side_by_side_on_their_own_cores_and_an_exclusive_cell_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(runner, "co_runs", lambda cell, jobs: cell.seed != 2)  # seed 2 must run alone
    cells = [fake(2.0, seed=0), fake(2.0, seed=1), fake(1.0, seed=2)]
    rows = {r["seed"]: r for r in runner.run_cells(cells, tmp_path, jobs=2)}
    assert sorted(r["cell_key"] for r in rows.values()) == sorted(c.key() for c in cells)
    assert all(r["status"] == "ok" for r in rows.values()), [r.get("error") for r in rows.values()]
    side = [rows[0], rows[1]]
    for r in side:  # each slot's bandwidth was probed before any cell ran (the fake loop sleeps 2 s)
        measured = datetime.datetime.fromisoformat(r["bandwidth_measured"]).timestamp()
        assert measured < r["x_t_end"] - 1.0, (r["bandwidth_measured"], r["x_t_start"])
    assert {r["cpu_affinity"] for r in side} == {str(c) for c in usable_cpus()[-2:]}  # one core each, disjoint
    assert [(r["jobs"], r["co_running"]) for r in side] == [(2, 1), (2, 1)]
    assert rows[2]["co_running"] == 0
    stored = store.read_rows(tmp_path)
    assert len(stored) == 3 and sorted(r["co_running"] for r in stored) == [0, 1, 1]


@pytest.mark.parametrize("argv, message", [
    (["--jobs", "0"], "expected a positive integer"),
    (["--jobs", "99"], "--jobs must be between 1 and"),
    (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:8786"], "give --jobs or --scheduler, not both"),
    (["--jobs", "2", "--cpus", "all"], "wants every core"),
])
def test_cli_refuses_bad_jobs_in_one_line(argv, message, tmp_path, capsys):
    if argv[:2] == ["--jobs", "2"] and len(usable_cpus()) < 2:
        pytest.skip("needs two usable cores")
    code = cli.main(["run", "--model", "test_tiny", "--method", "test_fake", "--out", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "r").exists()  # refused before any work


def test_suite_key_jobs_is_validated_and_all_means_every_core():
    assert suites.jobs({}, None) == len(usable_cpus())
    assert suites.jobs({"jobs": 1}, None) == 1
    assert suites.jobs({"jobs": "all"}, 1) == 1  # --jobs overrides the suite
    with pytest.raises(UsageError, match="jobs must be a positive integer"):
        suites.check({"methods": ["handrolled_hmc"], "data": [{"model": "sparse_logistic"}], "jobs": 0}, "t", False)


def test_compile_phases_sum_jax_events_and_hlo_ops_count_instructions():
    import jax
    import jax.numpy as jnp

    from harness import timing

    # under xdist the tests share a persistent compilation cache (tests/conftest.py): the block compiles
    # only this program, whose constant no other program has, so it is compiled, not read from the cache
    salt = float(int.from_bytes(os.urandom(3), "big"))
    x = jax.block_until_ready(jnp.ones(3))
    with timing.compile_phases() as c:
        compiled = jax.jit(lambda x: jnp.sin(x) * 2 + salt).trace(x).lower().compile()
    assert c["compiles"] >= 1 and c["trace_s"] > 0 and c["lower_s"] > 0 and c["xla_compile_s"] > 0
    assert c["cache_hits"] == 0
    ops = timing.hlo_ops(compiled)
    assert ops is not None and ops >= 3  # at least sin, multiply, add (fused or not, each assigns)
    assert timing.hlo_ops(lambda: None) is None
    with timing.compile_phases() as after:  # the listener is gone once the block ends: nothing leaks in
        pass
    jax.jit(lambda x: x + 3)(jnp.ones(2))
    assert after["compiles"] == 0


# slow: three processes a cell; the warm start's environment (a cache directory for that process only) is
# tested in CI by tests/test_runner.py::test_cell_env_sets_platform_cache_and_exactly_the_cells_xla_flags
@pytest.mark.slow
def test_warm_start_reads_the_cache_and_leaves_the_cold_figures_cold(tmp_path):
    cell = validate(Cell("sparse_logistic", "synthetic", 200, "handrolled_hmc", {"step_size": 0.02, "num_steps": 5},
                         num_chains=2, num_warmup=20, num_samples=20, cpus=1))
    row = runner.run_cells([cell], tmp_path, warm_start=True)[0]
    assert row["status"] == "ok", row.get("error")
    assert row["cache_hits"] == 0 and row["compiles"] >= 2 and row["hlo_ops"] > 0  # the cold run: no cache
    assert row["warm_cache_hits"] >= 2  # the warm run read the sampler's programs from the cache
    assert row["warm_compile_s"] < row["compile_s"]
    assert row["warm_time_to_result_s"] > 0


def test_a_cell_over_its_memory_cap_is_killed_and_recorded_oom(tmp_path):
    """A JAX process holds well over 50 MiB: the cap kills the sleeping cell long before its timeout."""
    cell = validate(Cell("test_tiny", "analytic", None, "test_fake", {"behaviour": "sleep"}, num_chains=2,
                         num_warmup=0, num_samples=10, cpus=1))
    row = runner.run_cells([cell], tmp_path, timeout_s=120.0, max_memory_mb=50.0)[0]
    assert row["status"] == "oom" and "50 MiB memory cap" in row["error"], row["error"]
    assert row["process_s"] < 60 and row["peak_rss_mb"] > 50
