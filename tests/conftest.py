"""Shared fixtures: small targets with known posteriors for fast, falsifiable tests."""

from __future__ import annotations

import os
import tempfile

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
