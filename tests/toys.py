"""The tests' toy target: a 2-D correlated Gaussian whose mean and covariance are known.

One definition for every test that needs a posterior with a known answer: the ``gaussian_2d``
fixture (tests/conftest.py), the runner's fake cells (tests/fake_cells.py, loaded in cell
processes as a plugin, so this module imports nothing from conftest) and the gradient counter
(tests/methods/test_gradient_counts.py, which adds a host callback to the model).

The Gaussian's correlation (0.8 / sqrt(2), unequal variances) makes a sampler with an identity
mass matrix and a wrong covariance both visible; two dimensions keep every run fast.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from harness.targets import Layout, Param, Target

GAUSS_MEAN = np.array([1.0, -2.0], dtype=np.float32)
GAUSS_COV = np.array([[1.0, 0.8], [0.8, 2.0]], dtype=np.float32)


def gaussian_model(mean, cov):
    """x ~ N(mean, cov); returns x (a model built on this one may use it)."""
    return numpyro.sample("x", dist.MultivariateNormal(mean, covariance_matrix=cov))


def gaussian_data(dataset, n, seed=0) -> dict:
    return {"mean": GAUSS_MEAN, "cov": GAUSS_COV}


def gaussian_log_density(data) -> Callable:
    """The log density of ``x`` written out (up to its constant): -(x - m)' C^-1 (x - m) / 2."""
    precision = jnp.linalg.inv(jnp.asarray(data["cov"]))
    return lambda z: -0.5 * (z - data["mean"]) @ precision @ (z - data["mean"])


def exact_draws(key, shape: tuple) -> np.ndarray:
    """Independent draws of ``x`` of ``shape`` + (2,): the mean plus the covariance's Cholesky factor times N(0, I)."""
    eps = np.asarray(jax.random.normal(key, (*shape, 2), jnp.float32))
    return GAUSS_MEAN + eps @ np.linalg.cholesky(GAUSS_COV).T


def gaussian_target(name: str = "test_gaussian_2d", description: str = "", source: str = "tests/toys.py",
                    model: Callable = gaussian_model, log_density: Callable | None = None) -> Target:
    """The toy as a registrable Target, under ``name`` (a model may add to ``gaussian_model``, e.g. a counter)."""
    return Target(
        name=name,
        description=description or "2-D correlated Gaussian with known mean and covariance (tests only)",
        source=source,
        model=model,
        datasets={"analytic": None},
        make_data=gaussian_data,
        layout=lambda data: Layout((Param("x", (2,), constraints.real),)),
        log_density=log_density,
    )


GAUSSIAN_2D = gaussian_target()
