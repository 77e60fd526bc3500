"""Ill-conditioned Gaussian, dimension and condition number configurable; analytic truth.

    x ~ Normal(m, Sigma),   Sigma = Q diag(lambda) Q^T,   lambda_i = K^(-(i-1)/(D-1)),

eigenvalues log-spaced from 1 down to 1/K, so the condition number of Sigma (and of the
Hessian of -log p) is exactly K; Q is a random rotation (QR of a Gaussian matrix, Haar) and
m ~ N(0, 1), both from a seed fixed by (D, K), not by the data seed. Datasets
``d<D>_c<K>``, e.g. ``d100_c1000``; no data. Sampled in z = x (dim D).

Analytic reference: mean m, sd sqrt(diag Sigma).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from harness.targets.base import Layout, Param, Reference, Target
from harness.targets.parametric import ParametricDatasets


def _check(p):
    if p["d"] < 1:
        return "D must be >= 1"
    if p["c"] < 1:
        return "condition number K must be >= 1"
    return None


DATASETS = ParametricDatasets(r"d(?P<d>\d+)_c(?P<c>\d+)", None, ("d10_c100", "d100_c1000", "d100_c10000"),
                              "d<D>_c<K> (D, K >= 1)", check=_check)


@functools.lru_cache(maxsize=8)
def _moments(d: int, c: int):
    """(mean, Sigma) in float64 from the fixed seed of (D, K)."""
    rng = np.random.default_rng([d, c])
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))  # Haar-distributed rotation
    lam = float(c) ** (-np.arange(d) / max(d - 1, 1))
    return rng.standard_normal(d), (q * lam) @ q.T


def model(mean, scale_tril):
    numpyro.sample("x", dist.MultivariateNormal(mean, scale_tril=scale_tril))


def layout(data) -> Layout:
    return Layout((Param("x", (data["mean"].shape[0],)),))


def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
    p = DATASETS.params(dataset)
    mean, cov = _moments(p["d"], p["c"])
    return {"mean": mean.astype(np.float32), "scale_tril": np.linalg.cholesky(cov).astype(np.float32)}


def log_density(data):
    """-(x - m)^T Sigma^-1 (x - m) / 2 - log det(Sigma) / 2 - D log(2 pi) / 2, via the Cholesky factor L.

    Traceable in the data (jnp only), so samplers can pass the data as a jit argument:
    w = L^-1 (x - m) by a triangular solve, as NumPyro's MultivariateNormal does.
    """
    mean, L = jnp.asarray(data["mean"]), jnp.asarray(data["scale_tril"])
    const = -jnp.sum(jnp.log(jnp.diag(L))) - 0.5 * L.shape[0] * jnp.log(2 * jnp.pi)

    def logdensity(z):
        w = jax.scipy.linalg.solve_triangular(L, z - mean, lower=True)
        return const - 0.5 * w @ w

    return logdensity


def reference(dataset: str, n: int | None) -> Reference:
    p = DATASETS.params(dataset)
    mean, cov = _moments(p["d"], p["c"])
    return Reference(mean={"x": mean}, sd={"x": np.sqrt(np.diag(cov))},
                     source="analytic: mean m, sd sqrt(diag(Q diag(lambda) Q^T))")


TARGET = Target(
    name="ill_conditioned_gaussian",
    description="Rotated Gaussian with condition number K in D dims (dataset d<D>_c<K>); analytic truth",
    source="harness synthetic target (after Inference Gym's IllConditionedGaussian)",
    model=model,
    datasets=DATASETS,
    make_data=make_data,
    layout=layout,
    log_density=log_density,
    reference=reference,
)
