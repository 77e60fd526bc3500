"""The toy target itself (tests/toys.py): its hand-written density is the model's, its exact draws have its moments."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from harness.targets import Posterior
from tests import toys


def test_the_hand_written_density_is_the_models_up_to_a_constant():
    hand = Posterior(toys.gaussian_target("toy_hand", log_density=toys.gaussian_log_density), "analytic", None)
    model = Posterior(toys.GAUSSIAN_2D, "analytic", None)
    z = np.array([[1.0, -2.0], [0.0, 0.0], [2.5, -4.0], [-1.0, 1.0]], np.float32)
    a, b = (np.array([float(p.log_density(x)) for x in z]) for p in (hand, model))
    np.testing.assert_allclose(a - a[0], b - b[0], rtol=1e-5, atol=1e-5)
    # at the mean the quadratic form is zero; at (0, 0), with det C = 2 - 0.64 = 1.36 and
    # C^-1 = [[2, -0.8], [-0.8, 1]] / 1.36: (1, -2) C^-1 (1, -2)' / 2 = (2 + 3.2 + 4) / 1.36 / 2
    assert a[0] == 0.0 and a[1] == pytest.approx(-9.2 / 1.36 / 2, rel=1e-6)


def test_exact_draws_have_the_toys_mean_and_covariance():
    x = toys.exact_draws(jax.random.key(0), (4, 50_000)).reshape(-1, 2)
    np.testing.assert_allclose(x.mean(0), toys.GAUSS_MEAN, atol=0.02)
    np.testing.assert_allclose(np.cov(x.T), toys.GAUSS_COV, atol=0.03)
