"""The runner: failures become rows, floors and overheads, precision / XLA / GPU axes, resume after kill -9,
concurrent runs on one directory, draws on disk, progress output.

Cells are tiny: the test-only target/method of tests/fake_cells.py (loaded in
every cell process through HARNESS_PLUGINS) and one real hand-rolled HMC cell.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from harness import cli, recheck, runner, schema, store
from harness.cell import Cell, validate
from harness.progress import Progress
from tests.conftest import fill_disk

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "tests.fake_cells"


@pytest.fixture(autouse=True)
def plugin_env(monkeypatch):
    monkeypatch.setenv("HARNESS_PLUGINS", PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def fake(behaviour="ok", **kw) -> Cell:
    kw = {"num_chains": 2, "num_warmup": 0, "num_samples": 50, **kw}
    opts = {"behaviour": behaviour, **kw.pop("options", {})}
    return validate(Cell("test_tiny", "analytic", None, "test_fake", opts, **kw))


def real(seed) -> Cell:
    return validate(Cell("sparse_logistic", "synthetic", 200, "handrolled_hmc", {"step_size": 0.02, "num_steps": 5},
                         num_chains=2, num_warmup=50,
                         num_samples=50, seed=seed))


def test_failures_become_rows_and_the_matrix_goes_on(tmp_path):
    """raise / timeout / segfault cells are rows; ok cells around them complete, with replayed timings, their
    own floor and overhead columns, a GPU cell skipped, and draws saved as netCDF. The other statuses (oom,
    NaN, all-divergent) and float64 on two XLA devices: :func:`test_every_other_status_is_a_row_too` (slow)."""
    cells = [real(0), fake("raise"), fake("sleep"), fake("segfault"), fake(device="gpu"), fake(device="gpu", seed=1),
             fake(seed=2)]
    rows = runner.run_cells(cells, tmp_path, command="test", save_draws=True,
                            timeout_s=lambda c: 3.0 if c.options.get("behaviour") == "sleep" else 300.0)
    assert [r["cell_key"] for r in rows] == [c.key() for c in cells]
    assert [r["status"] for r in store.read_rows(tmp_path)] == [r["status"] for r in rows]  # stored as they ended
    by = _by_behaviour(cells[:-1], rows)
    assert (by["raise"]["status"], by["raise"]["error"]) == ("error", "ValueError: fake failure")
    assert by["sleep"]["status"] == "timeout" and "3 s" in by["sleep"]["error"]
    assert by["segfault"]["status"] == "crashed" and "SIGSEGV" in by["segfault"]["error"]
    for key in ("gpu0", "gpu1"):
        assert by[f"ok/{key}"]["status"] == "skipped" and "gpu" in by[f"ok/{key}"]["error"]
    assert "earlier cell" in by["ok/gpu1"]["error"]  # the second GPU cell started no process

    first, second = rows[0], rows[-1]
    for row in (first, second):
        assert row["status"] == "ok" and row["command"] == "test"
        assert row["floor_us_per_grad"] > 0 and row["overhead_ratio"] > 0 and row["floor_batch"] == 2
        assert row["sample_replays"] >= 5 and row["sample_s_min"] <= row["sample_s"] <= row["sample_s_max"]
        assert row["sample_s_first"] > 0
        assert row["roofline_us_per_grad"] > 0 and row["x_roofline"] > 0 and row["bandwidth_gbs"] > 0
        assert row["peak_rss_mb"] > 50 and row["precision"] == "float32"
    assert "floor_cached" not in first and "floor_cached" not in second  # each cell measures its own floor
    # the real cell's loop (tens of ms): the median of per-pair ratios sits near the ratio of the medians
    assert first["overhead_ratio"] == pytest.approx(
        first["sample_s"] / first["grad_evals"] / (first["floor_us_per_grad"] * 1e-6), rel=0.25)

    from harness import draws

    idata = draws.load(tmp_path / first["draws_path"])
    assert idata.posterior["beta"].shape == (2, 50, 30) and idata.attrs["cell_key"] == first["cell_key"]
    fake_draws = draws.load(tmp_path / second["draws_path"])
    assert fake_draws.sample_stats["accept_prob"].shape == (2, 50)  # per-draw stats from RunResult.extra


def _by_behaviour(cells, rows) -> dict:
    return {c.options.get("behaviour", c.method) + (f"/{c.device}{c.seed}" if c.device == "gpu" else ""): r
            for c, r in zip(cells, rows) if c.precision == "float32" and c.method == "test_fake"}


@pytest.mark.slow  # four more cell processes; CI runs the matrix above
def test_every_other_status_is_a_row_too(tmp_path):
    """oom / NaN / all-divergent cells are rows, and the ok cell after them runs in float64 on two XLA devices."""
    cells = [fake("oom"), fake("nan"), fake("diverge"), fake(precision="float64", xla_devices=2)]
    rows = runner.run_cells(cells, tmp_path, command="test", save_draws=True, timeout_s=lambda c: 300.0)
    by = _by_behaviour(cells, rows)
    assert by["oom"]["status"] == "oom" and "MemoryError" in by["oom"]["error"]
    assert by["nan"]["status"] == "nan" and by["diverge"]["status"] == "diverged"
    wide = rows[-1]
    assert wide["status"] == "ok" and wide["precision"] == "float64" and wide["x_dtype"] == "float64"
    assert wide["x_device_count"] == 2 and wide["xla_devices"] == 2


def _write_suite(path: Path, seeds: int, sleep_s: float) -> Path:
    path.write_text(f"""
methods = ["test_fake"]
chains = [2]
seeds = {list(range(seeds))}
num_warmup = 0
num_samples = 20
[[data]]
model = "test_tiny"
[options.test_fake]
sleep_s = {sleep_s}
""")
    return path


def _harness(*args) -> subprocess.Popen:
    """``harness run`` in a process of its own, one cell at a time (what these tests check is not ``--jobs``)."""
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "--quiet", "--jobs", "1", *map(str, args)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_resume_after_kill_9_loses_nothing_and_duplicates_nothing(tmp_path):
    suite, out = _write_suite(tmp_path / "s.toml", seeds=3, sleep_s=0.5), tmp_path / "run"
    proc = _harness("--suite", suite, "--out", out)
    deadline = time.time() + 120
    while len(store.read_rows(out)) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # mid-matrix: at least one row stored, at least one cell left
    proc.wait()
    before = store.rows_path(out).read_bytes()
    kept = store.read_rows(out)
    assert 1 <= len(kept) < 3 and all(r["status"] == "ok" for r in kept)

    resume = ["run", "--suite", str(suite), "--out", str(out), "--resume", "--quiet", "--no-recheck", "--jobs", "1"]
    assert cli.main(resume) == 0
    after = store.rows_path(out).read_bytes()
    assert after.startswith(before)  # nothing rewritten
    rows = store.read_rows(out)
    keys = [r["cell_key"] for r in rows]
    assert len(keys) == len(set(keys)) == 3 and all(r["status"] == "ok" for r in rows)
    assert sorted(r["seed"] for r in rows) == [0, 1, 2]

    assert cli.main(resume) == 0
    assert store.rows_path(out).read_bytes() == after  # everything stored ok: nothing rerun


def test_resume_reruns_cells_that_did_not_end_ok(tmp_path):
    out = tmp_path / "run"
    ok, bad = fake(), fake("raise")
    store.append(out, {"cell_key": ok.key(), "status": "ok"})
    store.append(out, {"cell_key": bad.key(), "status": "error"})
    session = runner.Session(out, resume=True)
    assert session.todo([ok, bad]) == [bad]


# slow (pytest -m slow): resume itself is in CI (kill -9, and cells that did not end ok); this is two resumed runs at once
@pytest.mark.slow
def test_two_resumed_runs_on_one_directory_split_the_cells(tmp_path):
    suite, out = _write_suite(tmp_path / "s.toml", seeds=2, sleep_s=0.5), tmp_path / "run"
    procs = [_harness("--suite", suite, "--out", out, "--resume") for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    rows = store.read_rows(out)  # every line parses: nothing torn, nothing interleaved
    assert len(store.rows_path(out).read_text().splitlines()) == len(rows)
    first = [r["cell_key"] for r in rows if not r.get("attempts")]
    again = [r["cell_key"] for r in rows if r.get("attempts")]  # the second pass (short loops), once per cell
    assert len(first) == len(set(first)) == 2 and sorted(again) == sorted(set(first))
    assert all(r["status"] == "ok" for r in rows) and len(store.load(out)) == 2


def test_cell_env_sets_platform_cache_and_exactly_the_cells_xla_flags(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--inherited_flag")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "/tmp/cache")
    env = runner.cell_env(Cell("m", "d", None, "x", device="gpu", xla_devices=3, xla_flags="--xla_cpu_foo=1"))
    assert env["JAX_PLATFORMS"] == "cuda" and env["JAX_ENABLE_COMPILATION_CACHE"] == "false"
    assert "JAX_COMPILATION_CACHE_DIR" not in env
    base = " ".join(runner.BASE_XLA_FLAGS)
    assert env["XLA_FLAGS"] == base + " --xla_cpu_foo=1 --xla_force_host_platform_device_count=3"
    assert runner.cell_env(Cell("m", "d", None, "x"))["XLA_FLAGS"] == base  # nothing inherited


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_tty_and_plain_lines_otherwise():
    cells = [fake(seed=0), fake(seed=1)]
    row = {**runner.base_row(cells[0]), "status": "ok", "wall_s": 1.0}
    tty = _TTY()
    bar = Progress(cells, estimate=lambda c: 10.0, stream=tty, refresh_s=0.05)
    bar.start(cells[0])
    assert "0/2 cells" in tty.getvalue() and cells[0].label() in tty.getvalue() and "ETA 0:00:20" in tty.getvalue()
    bar.done(row)
    bar.close()
    assert "1/2 cells" in tty.getvalue() and "elapsed" in tty.getvalue()

    log = io.StringIO()
    plain = Progress(cells, stream=log)
    plain.start(cells[0])
    plain.done(row)
    plain.close()
    assert log.getvalue().count("\n") == 1 and "[1/2]" in log.getvalue() and "\r" not in log.getvalue()

    quiet = _TTY()
    q = Progress(cells, stream=quiet, quiet=True)
    q.start(cells[0])
    q.done(row)
    q.close()
    assert quiet.getvalue() == "" and not q.live


def test_resume_needs_out(capsys):
    assert cli.main(["run", "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


def test_second_pass_runs_this_invocations_short_loops_again_and_the_store_reads_the_kept_row(tmp_path, monkeypatch):
    """recheck=True (harness run's default): the fake cells' loops are under SHORT_LOOP_S, so each cell of this
    invocation runs twice, and a cell an earlier invocation stored is left alone; both rows stay in the file, the
    reader sees one per cell: the faster attempt, annotated. SHORT_LOOP_S is raised here so that a busy machine (a
    loop slower than the shipped 0.05 s) cannot change what the test exercises; the second pass reads it when it
    picks the cells."""
    monkeypatch.setattr(recheck, "SHORT_LOOP_S", 60.0)
    earlier, cells = fake(seed=2), [fake()]
    runner.run_cells([earlier], tmp_path, recheck=False)  # an earlier invocation, never rechecked
    runner.run_cells(cells, tmp_path, recheck=True)
    raw = store.read_rows(tmp_path)
    assert [r["cell_key"] for r in raw] == [earlier.key()] + [c.key() for c in cells] * 2
    assert "attempts" not in raw[1] and raw[1]["ref_us_per_grad"] > 0 and raw[1]["ref_group"]
    df = store.load(tmp_path).set_index("cell_key")
    assert sorted(df.index) == sorted([earlier.key()] + [c.key() for c in cells])
    assert "attempts" not in df or df.loc[earlier.key()].isna()["attempts"]
    for c in cells:
        row = df.loc[c.key()]
        assert row["attempts"] == 2 and "short" in row["recheck"].split("+")  # maybe host or spread too: a busy host
        assert row["sample_s"] == min(row["sample_s_attempts"])
    runner.run_cells(cells, tmp_path, resume=True, recheck=True)  # nothing left to run, nothing run twice more
    assert len(store.read_rows(tmp_path)) == 3


def test_a_cell_held_to_cores_runs_on_its_last_usable_cores_and_records_them(tmp_path):
    """``cpus`` holds the cell's process (and so XLA's thread pool) to the last usable cores; unset, every core.
    Every row's phases tile the cell's time."""
    usable = sorted(os.sched_getaffinity(0))
    held, free = fake(cpus=1), fake()
    rows = runner.run_cells([held, free], tmp_path, command="test", timeout_s=lambda c: 300.0)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    phases = ["startup_s", "data_s", "method_s", "summary_s", "replay_s", "roofline_s", "environment_s"]
    assert set(phases) <= set(schema.names("protocol"))
    for row in rows:
        assert row["jobs"] == 1 and row["co_running"] == 0 and all(row[p] >= 0 for p in phases)
        # the phases tile the worker's time; the process's wall adds only the exit and the runner's polling
        assert row["wall_s"] <= sum(row[p] for p in phases) <= row["process_s"] + 0.01
        assert row["method_s"] > 0 and row["startup_s"] > 0.1  # a fresh interpreter importing JAX is never free
        # no second pass in this run: no host reference timed (it is what the second pass reads)
        assert row.get("ref_us_per_grad") is None and row["floor_us_per_grad"] > 0
    assert rows[0]["cpu_affinity"] == str(usable[-1]) and rows[0]["cpus"] == 1
    assert rows[1]["cpu_affinity"] == ",".join(map(str, usable)) and rows[1]["cpus"] is None
    assert held.key() != free.key() and '"cpus"' not in free.key()  # an unset field keeps older keys
    assert held.floor_group(2) != free.floor_group(2)  # a held cell never shares a floor with a free one


def test_a_row_that_cannot_be_stored_fails_the_run_naming_the_file(tmp_path, capsys):
    """A cell whose row cannot be stored (here rows.jsonl is a directory; a full disk alike) stops the run
    with exit 1 and one line naming the file and the cell, instead of printing ok."""
    out = tmp_path / "run"
    store.rows_path(out).mkdir(parents=True)
    cell = fake()
    with pytest.raises(store.StoreError, match=f"cannot store row in {store.rows_path(out)}: .*cell {cell.label()}"):
        runner.Session(out).finish(cell, {"status": "ok"})
    argv = ["run", "--model", "test_tiny", "--method", "test_fake", "--chains", "2", "--warmup", "0", "--samples", "50",
            "--out", str(out), "--quiet", "--no-recheck"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"cannot store row in {store.rows_path(out)}" in err and "--resume" in err


# slow: a row that cannot be stored (above) and the store's own disk-full test (tests/test_store.py) are in CI
@pytest.mark.slow
def test_disk_full_mid_run_fails_naming_the_file_and_resume_completes(tiny_fs, capsys):
    """Issue 35's fault: --out on a nearly full file system. The run exits 1 naming rows.jsonl, every stored row
    is whole, and after space is freed --resume completes every cell with no unreadable line."""
    out = tiny_fs / "run"
    out.mkdir()
    filler = fill_disk(tiny_fs, leave=8192)
    argv = ["run", "--model", "test_tiny", "--method", "test_fake", "--chains", "2", "--warmup", "0", "--samples",
            "50", "--seed", "0", "--seed", "1", "--seed", "2", "--out", str(out), "--quiet", "--no-recheck",
            "--jobs", "1"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"cannot store row in {store.rows_path(out)}: No space left on device" in err
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torn line left
        assert len(store.read_rows(out)) < 3
    filler.unlink()
    assert cli.main(argv + ["--resume"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = store.read_rows(out)
    assert sorted(r["seed"] for r in rows if r["status"] == "ok") == [0, 1, 2]
