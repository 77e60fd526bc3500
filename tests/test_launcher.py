"""The launcher: cell processes forked from one process that imported the heavy libraries and ran nothing.

Cells are the test-only ones of tests/fake_cells.py (HARNESS_PLUGINS), as in tests/test_runner.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from harness import launcher, runner
from tests.test_runner import fake, plugin_env  # noqa: F401 - the runner tests' cells and their autouse plugin env


def test_one_launcher_serves_cells_of_other_xla_flags_and_precision_each_as_fresh_as_a_new_process(tmp_path):
    """The XLA flags are read when the child's backend starts, the precision is set in the child: both
    cells come from one launcher, each compiles its own programs and sees its own devices and dtype."""
    plain, wide = fake(), fake(precision="float64", xla_devices=2, seed=1)
    assert launcher.launcher_for(runner.cell_env(plain)) is launcher.launcher_for(runner.cell_env(wide))
    rows = runner.run_cells([plain, wide], tmp_path, command="test", recheck=False)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert (rows[0]["x_device_count"], rows[0]["x_dtype"]) == (1, "float32")
    assert (rows[1]["x_device_count"], rows[1]["x_dtype"]) == (2, "float64")
    for row in rows:
        assert row["xla_compile_s"] > 0 and row["startup_s"] > 0 and row["peak_rss_mb"] > 50
        assert row["xla_flags_env"].endswith(runner.cell_env(wide if row is rows[1] else plain)["XLA_FLAGS"])


def test_an_environment_jax_reads_at_import_gets_its_own_launcher(monkeypatch):
    """JAX reads JAX_* when imported: a cell whose environment differs there (not only in what is read after
    the fork, launcher.PER_CELL) is forked from another launcher."""
    env = runner.cell_env(fake())
    first = launcher.launcher_for(env)
    assert launcher.launcher_for({**env, "XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}) is first
    other = launcher.launcher_for({**env, "JAX_ENABLE_X64": "true"})
    assert other is not first and other.proc.pid != first.proc.pid


def test_the_launcher_refuses_to_fork_once_a_jax_backend_has_started():
    """A backend's threads would not survive a fork: a process whose backend has started forks nothing."""
    import jax

    jax.devices()  # this process's backend, started (were it not, _fork would fork the test process)
    reply = launcher._fork({"id": 7})
    assert reply["id"] == 7 and "backend has started" in reply["error"] and "pid" not in reply


def test_a_launcher_that_dies_under_a_cell_makes_an_error_row_and_its_cell_ends_too(tmp_path):
    cell = fake("sleep")
    fork = launcher.launcher_for(runner.cell_env(cell))
    rows = []
    thread = threading.Thread(target=lambda: rows.append(runner.run_one(cell, timeout_s=120.0)))
    thread.start()
    deadline = time.monotonic() + 120
    while not fork._live and time.monotonic() < deadline:
        time.sleep(0.05)
    (pid,) = fork._live
    fork.proc.kill()
    thread.join(60)
    assert rows and rows[0]["status"] == "error" and "launcher process exited" in rows[0]["error"]
    assert _gone_within(pid, 10.0)  # the cell saw its parent go (harness.worker._exit_with_parent)


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":  # ended, not yet reaped by whoever adopted it
            return True
        time.sleep(0.1)
    return False
