"""Eight schools (Rubin 1981; Gelman et al., BDA 5.5), centered and non-centered.

    mu ~ Normal(0, 5),  tau ~ HalfCauchy(5),  theta_j ~ Normal(mu, tau),  y_j ~ Normal(theta_j, sigma_j).

Centered: z = [mu, log tau, theta (8)]; the funnel between log tau and theta makes
NUTS diverge. Non-centered: theta_j = mu + tau * theta_tilde_j with theta_tilde_j ~
Normal(0, 1), z = [mu, log tau, theta_tilde (8)], and ``theta`` a deterministic site.
Both have dim 10 and the same posterior of (mu, tau, theta).

Reference: long NUTS runs on the non-centered form (``harness reference
eight_schools_noncentered --target-accept 0.99``), stored with its deterministic
``theta``; the centered target reads the same file's mu, tau and theta.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from harness.targets.base import Layout, Param, Reference, Target

Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], dtype=np.float32)
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0], dtype=np.float32)
MU_SCALE, TAU_SCALE = 5.0, 5.0
SOURCE = "Rubin (1981); Gelman et al., Bayesian Data Analysis, 3rd ed., section 5.5 (same data as posteriordb eight_schools)"


def model_centered(y, sigma):
    mu = numpyro.sample("mu", dist.Normal(0.0, MU_SCALE))
    tau = numpyro.sample("tau", dist.HalfCauchy(TAU_SCALE))
    with numpyro.plate("schools", y.shape[0]):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def model_noncentered(y, sigma):
    mu = numpyro.sample("mu", dist.Normal(0.0, MU_SCALE))
    tau = numpyro.sample("tau", dist.HalfCauchy(TAU_SCALE))
    with numpyro.plate("schools", y.shape[0]):
        theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * theta_tilde)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def _normal_lp(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - jnp.log(scale) - 0.5 * jnp.log(2 * jnp.pi)


def _mu_tau_lp(mu, log_tau):
    """log N(mu; 0, 5) + log HalfCauchy(tau; 5) + log tau (Jacobian of tau = exp(log_tau))."""
    tau = jnp.exp(log_tau)
    half_cauchy = jnp.log(2.0 / (jnp.pi * TAU_SCALE)) - jnp.log1p((tau / TAU_SCALE) ** 2)
    return _normal_lp(mu, 0.0, MU_SCALE) + half_cauchy + log_tau


def log_density_centered(data):
    y, sigma = jnp.asarray(data["y"]), jnp.asarray(data["sigma"])

    def logdensity(z):
        mu, log_tau, theta = z[0], z[1], z[2:]
        lp = _mu_tau_lp(mu, log_tau) + jnp.sum(_normal_lp(theta, mu, jnp.exp(log_tau)))
        return lp + jnp.sum(_normal_lp(y, theta, sigma))

    return logdensity


def log_density_noncentered(data):
    y, sigma = jnp.asarray(data["y"]), jnp.asarray(data["sigma"])

    def logdensity(z):
        mu, log_tau, eta = z[0], z[1], z[2:]
        lp = _mu_tau_lp(mu, log_tau) + jnp.sum(_normal_lp(eta, 0.0, 1.0))
        return lp + jnp.sum(_normal_lp(y, mu + jnp.exp(log_tau) * eta, sigma))

    return logdensity


def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
    return {"y": Y, "sigma": SIGMA}


def _layout(theta_name):
    def layout(data) -> Layout:
        j = data["y"].shape[0]
        return Layout((Param("mu", ()), Param("tau", (), constraints.positive), Param(theta_name, (j,))))

    return layout


def reference_centered(dataset: str, n: int | None) -> Reference | None:
    """mu, tau and theta from the non-centered target's stored reference (same posterior)."""
    from harness.targets.reference import stored

    ref = stored(NONCENTERED, dataset, n)
    if ref is None:
        return None
    keep = ("mu", "tau", "theta")
    return Reference(
        mean={k: ref.mean[k] for k in keep}, sd={k: ref.sd[k] for k in keep},
        se_mean={k: ref.se_mean[k] for k in keep} if ref.se_mean else None,
        source=ref.source + " (eight_schools_noncentered; same posterior of mu, tau, theta)",
    )


CENTERED = Target(
    name="eight_schools_centered",
    description="Eight schools, centered: funnel between tau and theta (NUTS diverges)",
    source=SOURCE,
    model=model_centered,
    datasets={"eight_schools": 8},
    make_data=make_data,
    layout=_layout("theta"),
    log_density=log_density_centered,
    reference=reference_centered,
)

NONCENTERED = Target(
    name="eight_schools_noncentered",
    description="Eight schools, non-centered: theta = mu + tau * theta_tilde",
    source=SOURCE,
    model=model_noncentered,
    datasets={"eight_schools": 8},
    make_data=make_data,
    layout=_layout("theta_tilde"),
    log_density=log_density_noncentered,
)
