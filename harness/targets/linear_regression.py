"""Conjugate linear regression: known noise, Gaussian prior, exact Gaussian posterior.

    beta ~ Normal(0, tau^2 I_D),   y_i ~ Normal(x_i . beta, sigma^2),   tau = 1, sigma = 1 (known),

sampled in z = beta (dim D). Datasets ``d<D>`` with any N: X ~ N(0, 1) and noise from the
data seed; the true beta is fixed per D (seed D, entries N(0, 1)). The likelihood plate
``data`` follows the subsample convention (``subsample_size``).

Exact posterior: precision A = X^T X / sigma^2 + I / tau^2, mean A^-1 X^T y / sigma^2,
covariance A^-1; the reference takes its mean and sqrt(diag A^-1), computed in float64
from the data of data seed 0 (the data every reference describes).
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from harness.targets.base import ANY_N, Layout, Param, Reference, Target
from harness.targets.parametric import ParametricDatasets

PRIOR_SD, NOISE_SD = 1.0, 1.0
DATASETS = ParametricDatasets(r"d(?P<d>\d+)", ANY_N, ("d10", "d100"), "d<D> (D >= 1)",
                              check=lambda p: None if p["d"] >= 1 else "D must be >= 1")


def model(X, y=None, subsample_size=None):
    n, d = X.shape
    beta = numpyro.sample("beta", dist.Normal(0.0, PRIOR_SD).expand([d]).to_event(1))
    with numpyro.plate("data", n, subsample_size=subsample_size):
        Xb = numpyro.subsample(X, event_dim=1)
        yb = numpyro.subsample(y, event_dim=0) if y is not None else None
        numpyro.sample("y", dist.Normal(Xb @ beta, NOISE_SD), obs=yb)


def layout(data) -> Layout:
    return Layout((Param("beta", (data["X"].shape[1],)),))


def log_density(data):
    """Hand-written flat log density of z = beta."""
    X, y = jnp.asarray(data["X"]), jnp.asarray(data["y"])
    n, d = X.shape
    c = -0.5 * jnp.log(2 * jnp.pi)
    const = d * (c - jnp.log(PRIOR_SD)) + n * (c - jnp.log(NOISE_SD))

    def logdensity(z):
        r = y - X @ z
        return const - 0.5 * jnp.sum((z / PRIOR_SD) ** 2) - 0.5 * jnp.sum((r / NOISE_SD) ** 2)

    return logdensity


def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
    d = DATASETS.params(dataset)["d"]
    rng = np.random.default_rng(seed)
    beta = np.random.default_rng(d).standard_normal(d)
    X = rng.standard_normal((int(n), d))
    y = X @ beta + NOISE_SD * rng.standard_normal(int(n))
    return {"X": X.astype(np.float32), "y": y.astype(np.float32)}


def posterior_moments(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Exact posterior (mean, covariance) in float64 by the conjugate update."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    precision = X.T @ X / NOISE_SD**2 + np.eye(X.shape[1]) / PRIOR_SD**2
    chol = np.linalg.cholesky(precision)
    cov = np.linalg.solve(chol.T, np.linalg.solve(chol, np.eye(X.shape[1])))
    return cov @ (X.T @ y) / NOISE_SD**2, cov


@functools.lru_cache(maxsize=8)
def reference(dataset: str, n: int | None) -> Reference:
    data = make_data(dataset, n, 0)
    mean, cov = posterior_moments(data["X"], data["y"])
    return Reference(mean={"beta": mean}, sd={"beta": np.sqrt(np.diag(cov))},
                     source="analytic: conjugate Gaussian posterior, data seed 0")


TARGET = Target(
    name="linear_regression_conjugate",
    description="Linear regression, known noise, Gaussian prior; synthetic N x D (dataset d<D>); exact posterior",
    source="harness synthetic target (conjugate Bayesian linear regression, BDA 14)",
    model=model,
    datasets=DATASETS,
    make_data=make_data,
    layout=layout,
    log_density=log_density,
    plate="data",
    reference=reference,
)
