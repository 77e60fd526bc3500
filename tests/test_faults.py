"""A fault loop: `harness run` killed with SIGKILL at random instants, again and again, then resumed.

Whatever the instant (parent starting, cells running side by side, a row being stored), the
resumed run completes every cell, every stored line reads, no cell process outlives its runner and
no job directory is left behind. Cells are the fake ones of tests/fake_cells.py.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from harness import store
from harness.environment import usable_cpus

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.every_core  # its runs take --jobs 2 where there are two cores (tests/conftest.py)
KILLS = 3


def _run(out: Path, tmp: Path) -> subprocess.Popen:
    env = dict(os.environ, HARNESS_PLUGINS="tests.fake_cells", TMPDIR=str(tmp),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    argv = [sys.executable, "-m", "harness.cli", "run", "--model", "test_tiny", "--method", "test_fake",
            "--option", "test_fake.sleep_s=0.7", "--seeds", "6", "--chains", "2", "--warmup", "0", "--samples", "20",
            "--out", str(out), "--resume", "--no-recheck", "--quiet", "--jobs", str(min(2, len(usable_cpus())))]
    return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def _workers_of(tmp: Path) -> list[int]:
    """Cell processes whose job lives under ``tmp`` (this test's runs only)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "harness.worker" in cmd and str(tmp) in cmd:
            pids.append(int(proc.name))
    return pids


# slow (about 50 s): a stress test of many kills; tests/test_runner.py's kill -9 and resume runs in CI
@pytest.mark.slow
def test_kill_nine_at_random_instants_then_resume_loses_nothing(tmp_path):
    out, tmp = tmp_path / "run", tmp_path / "tmp"
    tmp.mkdir()
    rng = random.Random(0)
    for i in range(KILLS):
        proc = _run(out, tmp)
        if i:  # once cells run (a job directory exists), at a random instant of their lives
            deadline = time.monotonic() + 120
            while not _workers_of(tmp) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _workers_of(tmp) or proc.poll() is not None, "no cell started within 120 s"
        time.sleep(rng.uniform(0.2, 2.5))  # the first kill lands while the runner starts up
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the runner only: its cells are in sessions of their own
        proc.wait()
    deadline = time.monotonic() + 10
    while _workers_of(tmp) and time.monotonic() < deadline:  # orphans notice within their 1 s poll
        time.sleep(0.2)
    assert not _workers_of(tmp), "cell processes outlived their killed runner"
    assert not list(tmp.glob("harness-cell-*")), "job directories left behind"
    final = _run(out, tmp)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unreadable line would warn: none may exist
        rows = store.read_rows(out)
    assert sorted({r["seed"] for r in rows if r["status"] == "ok"}) == list(range(6))
    assert not list(tmp.glob("harness-cell-*"))
