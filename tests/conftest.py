"""Shared fixtures: small targets with known posteriors for fast, falsifiable tests."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.runner import BASE_XLA_FLAGS

# The tests time in-process (the perf budgets) with the XLA flags every cell process gets; set before
# JAX starts its backend.
os.environ["XLA_FLAGS"] = " ".join([*BASE_XLA_FLAGS, os.environ.get("XLA_FLAGS", "")]).strip()
# The roofline's bandwidth cache (harness.roofline) of the tests' cells: one per test session, not the user's.
os.environ["HARNESS_CACHE_DIR"] = tempfile.mkdtemp(prefix="harness-test-cache-")

# Each xdist worker runs on a core of its own where the run has a core per worker: a cell process a test
# starts is held to the last core its parent may use (harness.cell.pin), so unheld workers put every
# worker's cells on one core while another had none, and a test timing in-process shared its core with
# the other worker's cells. EVERY_CORE: the cores of the run before any worker took one; a test of several
# cores (--jobs 2, Dask's two workers) is marked ``every_core`` and gets them back (the fixture below).
EVERY_CORE = sorted(os.sched_getaffinity(0))
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw") and 1 < int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) <= len(EVERY_CORE):
    os.sched_setaffinity(0, {EVERY_CORE[int(_WORKER[2:]) % len(EVERY_CORE)]})

# The in-process tests compile the same small programs again and again (NumPyro compiles on every run):
# under xdist, the workers share one JAX persistent compilation cache for the test run, made here by
# the controller (which imports this file before it starts the workers, who inherit the variable) and
# removed when it exits. Only the workers read it: a cell process the tests start has its cache off
# (harness.runner.platform_env), and a run without xdist (pytest-benchmark's timings, -n 0) compiles
# everything itself, so its recorded compile times are real.
if "PYTEST_XDIST_WORKER" not in os.environ and "HARNESS_TEST_JAX_CACHE" not in os.environ:
    os.environ["HARNESS_TEST_JAX_CACHE"] = tempfile.mkdtemp(prefix="harness-test-jax-cache-")
    atexit.register(shutil.rmtree, os.environ["HARNESS_TEST_JAX_CACHE"], ignore_errors=True)
elif "PYTEST_XDIST_WORKER" in os.environ and "HARNESS_TEST_JAX_CACHE" in os.environ:
    import jax

    jax.config.update("jax_compilation_cache_dir", os.environ["HARNESS_TEST_JAX_CACHE"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

import pytest  # noqa: E402

from harness.targets import Posterior  # noqa: E402
from tests.toys import GAUSSIAN_2D  # noqa: E402


@pytest.fixture(autouse=True)
def _every_core(request, monkeypatch):
    """A test marked ``every_core`` runs on every core of the run, not its worker's one. It also sets a
    variable of its own, so that the cell launchers it starts (keyed on the environment,
    :func:`harness.launcher.launcher_for`) are not those of the held tests, whose cells inherit one core."""
    if request.node.get_closest_marker("every_core") is None or sorted(os.sched_getaffinity(0)) == EVERY_CORE:
        yield
        return
    held = os.sched_getaffinity(0)
    monkeypatch.setenv("HARNESS_TEST_EVERY_CORE", "1")
    os.sched_setaffinity(0, EVERY_CORE)
    try:
        yield
    finally:
        os.sched_setaffinity(0, held)


@pytest.fixture(scope="session")
def gaussian_2d() -> Posterior:
    """Posterior of the toy 2-D correlated Gaussian (tests/toys.py); truth in GAUSS_MEAN, GAUSS_COV."""
    return Posterior(GAUSSIAN_2D, "analytic", None)


@pytest.fixture(scope="session")
def breast_cancer() -> Posterior:
    from harness import targets

    return Posterior(targets.get("sparse_logistic"), "breast_cancer", None)


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs, to fill (disk-full tests); skipped where mounting is not permitted (needs root)."""
    where = tmp_path / "fs"
    where.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot mount a tmpfs here: {e}")
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False, timeout=20)


def fill_disk(where: Path, leave: int = 0) -> Path:
    """Fill the file system of directory ``where`` with one file, to its last byte less ``leave`` bytes;
    returns the file (unlink it to free the space)."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (4096, 1):
            try:
                while os.write(fd, b"x" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler
