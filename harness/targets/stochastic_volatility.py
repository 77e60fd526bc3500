"""Stochastic volatility (Kim, Shephard and Chib 1998; the Stan User's Guide form), non-centered.

    mu ~ Cauchy(0, 10),  phi ~ Uniform(-1, 1),  sigma ~ HalfCauchy(5),  h_std_t ~ Normal(0, 1),
    h_1 = mu + sigma h_std_1 / sqrt(1 - phi^2),  h_t = mu + phi (h_{t-1} - mu) + sigma h_std_t,
    y_t ~ Normal(0, exp(h_t / 2))   (t = 1..T),

sampled in z = [mu, logit((phi + 1) / 2), log sigma, h_std (T)] (dim T + 3). Dataset
``synthetic`` of any length: the cell's N is T. Returns are simulated from the data seed
with mu = -1, phi = 0.95, sigma = 0.25. A time series has no likelihood plate to subsample.
No analytic reference: compute one with ``harness reference stochastic_volatility --size T``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from harness.targets.base import ANY_N, Layout, Param, Target

MU_SCALE, SIGMA_SCALE = 10.0, 5.0
TRUE = {"mu": -1.0, "phi": 0.95, "sigma": 0.25}


def log_volatility(mu, phi, sigma, h_std):
    """h_t from the innovations h_std by the AR(1) recursion (a ``lax.scan``)."""
    h1 = mu + sigma * h_std[0] / jnp.sqrt(1.0 - phi**2)

    def step(prev, eps):
        h = mu + phi * (prev - mu) + sigma * eps
        return h, h

    _, rest = jax.lax.scan(step, h1, h_std[1:])
    return jnp.concatenate([h1[None], rest])


def model(y):
    mu = numpyro.sample("mu", dist.Cauchy(0.0, MU_SCALE))
    phi = numpyro.sample("phi", dist.Uniform(-1.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(SIGMA_SCALE))
    h_std = numpyro.sample("h_std", dist.Normal(0.0, 1.0).expand([y.shape[0]]).to_event(1))
    h = log_volatility(mu, phi, sigma, h_std)
    numpyro.sample("y", dist.Normal(0.0, jnp.exp(h / 2)).to_event(1), obs=y)


def layout(data) -> Layout:
    return Layout((
        Param("mu", ()),
        Param("phi", (), constraints.interval(-1.0, 1.0)),
        Param("sigma", (), constraints.positive),
        Param("h_std", (data["y"].shape[0],)),
    ))


def log_density(data):
    """Hand-written flat log density; Jacobians: phi = 2 sigmoid(u) - 1, sigma = exp(s)."""
    y = jnp.asarray(data["y"])
    c = -0.5 * jnp.log(2 * jnp.pi)

    def logdensity(z):
        mu, u, s, h_std = z[0], z[1], z[2], z[3:]
        phi, sigma = 2.0 * jax.nn.sigmoid(u) - 1.0, jnp.exp(s)
        lp = -jnp.log(jnp.pi * MU_SCALE) - jnp.log1p((mu / MU_SCALE) ** 2)
        lp += -jax.nn.softplus(u) - jax.nn.softplus(-u)  # log(1/2) + log|d phi / du|
        lp += jnp.log(2.0 / (jnp.pi * SIGMA_SCALE)) - jnp.log1p((sigma / SIGMA_SCALE) ** 2) + s
        lp += jnp.sum(c - 0.5 * h_std**2)
        h = log_volatility(mu, phi, sigma, h_std)
        return lp + jnp.sum(c - h / 2 - 0.5 * y**2 * jnp.exp(-h))

    return logdensity


def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    t = int(n)
    mu, phi, sigma = TRUE["mu"], TRUE["phi"], TRUE["sigma"]
    h = np.empty(t)
    h[0] = mu + sigma * rng.standard_normal() / np.sqrt(1 - phi**2)
    for i in range(1, t):
        h[i] = mu + phi * (h[i - 1] - mu) + sigma * rng.standard_normal()
    return {"y": (np.exp(h / 2) * rng.standard_normal(t)).astype(np.float32)}


TARGET = Target(
    name="stochastic_volatility",
    description="Stochastic volatility (AR(1) log-variance, non-centered); synthetic returns, N = length T",
    source="Kim, Shephard and Chib (1998); Stan User's Guide, stochastic volatility models",
    model=model,
    datasets={"synthetic": ANY_N},
    make_data=make_data,
    layout=layout,
    log_density=log_density,
)
