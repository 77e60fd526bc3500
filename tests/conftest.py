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

import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
import pytest  # noqa: E402
from numpyro.distributions import constraints  # noqa: E402

from harness.targets import Layout, Param, Posterior, Target  # noqa: E402

GAUSS_MEAN = np.array([1.0, -2.0], dtype=np.float32)
GAUSS_COV = np.array([[1.0, 0.8], [0.8, 2.0]], dtype=np.float32)


def _gaussian_model(mean, cov):
    numpyro.sample("x", dist.MultivariateNormal(mean, covariance_matrix=cov))


def _gaussian_data(dataset, n, seed=0):
    return {"mean": GAUSS_MEAN, "cov": GAUSS_COV}


GAUSSIAN_2D = Target(
    name="test_gaussian_2d",
    description="2-D correlated Gaussian with known mean and covariance (tests only)",
    source="tests/conftest.py",
    model=_gaussian_model,
    datasets={"analytic": None},
    make_data=_gaussian_data,
    layout=lambda data: Layout((Param("x", (2,), constraints.real),)),
)


@pytest.fixture(scope="session")
def gaussian_2d() -> Posterior:
    """Posterior of the 2-D correlated Gaussian; truth in GAUSS_MEAN, GAUSS_COV."""
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
