"""Shared fixtures: small targets with known posteriors for fast, falsifiable tests."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from harness.runner import BASE_XLA_FLAGS

# The tests time in-process (the perf budgets) with the XLA flags every cell process gets; set before
# JAX starts its backend.
os.environ["XLA_FLAGS"] = " ".join([*BASE_XLA_FLAGS, os.environ.get("XLA_FLAGS", "")]).strip()
# The roofline's bandwidth cache (harness.roofline) of the tests' cells: one per test session, not the user's.
os.environ["HARNESS_CACHE_DIR"] = tempfile.mkdtemp(prefix="harness-test-cache-")

import pytest  # noqa: E402

from harness.targets import Posterior  # noqa: E402
from tests.toys import GAUSSIAN_2D  # noqa: E402


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
