"""The seed target: sparse (horseshoe-like) logistic regression.

    tau ~ Gamma(0.5, 0.5),  lambda_j ~ Gamma(0.5, 0.5),  beta_j ~ Normal(0, 1),
    logits = X @ (tau * lambda * beta),  y_i ~ Bernoulli(logits_i),

sampled in z = [log tau, log lambda (D), beta (D)] (dim 2D + 1 = 61 for D = 30).
With u = log x and x ~ Gamma(a, b) the density of u (Jacobian e^u included) is
a log b - lgamma(a) + a u - b e^u.

Data: scikit-learn's breast-cancer set (569 x 30, standardised, float32), or
synthetic data of any N with D = 30 from a fixed seed: X ~ N(0, 1), a sparse
true beta (5 non-zero of 30) and y ~ Bernoulli(sigmoid(X beta)).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import gammaln
from numpyro.distributions import constraints

from harness.targets.base import ANY_N, Layout, Param, Target

A, B = 0.5, 0.5  # Gamma(concentration, rate) of tau and lambda
D_SYNTHETIC = 30
TRUE_BETA = np.zeros(D_SYNTHETIC, dtype=np.float32)
TRUE_BETA[:5] = [2.0, -1.5, 1.0, -0.75, 0.5]


def model(X, y=None, subsample_size=None):
    """The NumPyro model; ``subsample_size`` subsamples the "data" plate (Target.plate convention)."""
    n, d = X.shape
    tau = numpyro.sample("tau", dist.Gamma(A, B))
    with numpyro.plate("features", d):
        lam = numpyro.sample("lambda", dist.Gamma(A, B))
        beta = numpyro.sample("beta", dist.Normal(0.0, 1.0))
    with numpyro.plate("data", n, subsample_size=subsample_size):
        X_batch = numpyro.subsample(X, event_dim=1)
        y_batch = None if y is None else numpyro.subsample(y, event_dim=0)
        numpyro.sample("y", dist.Bernoulli(logits=X_batch @ (tau * lam * beta)), obs=y_batch)


def layout(data) -> Layout:
    d = data["X"].shape[1]
    return Layout(
        (
            Param("tau", (), constraints.positive),
            Param("lambda", (d,), constraints.positive),
            Param("beta", (d,), constraints.real),
        )
    )


def log_density(data):
    """Hand-written flat log density of z = [log tau, log lambda, beta]."""
    X = jnp.asarray(data["X"])
    y = jnp.asarray(data["y"], X.dtype)
    d = X.shape[1]
    gamma_const = A * jnp.log(B) - gammaln(A)
    normal_const = -0.5 * jnp.log(2 * jnp.pi)

    def logdensity(z):
        log_tau, log_lam, beta = z[0], z[1 : 1 + d], z[1 + d :]
        lp = gamma_const + A * log_tau - B * jnp.exp(log_tau)
        lp += jnp.sum(gamma_const + A * log_lam - B * jnp.exp(log_lam))
        lp += jnp.sum(normal_const - 0.5 * beta**2)
        logits = X @ (jnp.exp(log_tau) * jnp.exp(log_lam) * beta)
        return lp + jnp.sum(y * logits - jnp.logaddexp(0.0, logits))

    return logdensity


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return {"X": X.astype(np.float32), "y": y.astype(np.int32)}


def _synthetic(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D_SYNTHETIC), dtype=np.float32)
    p = 1.0 / (1.0 + np.exp(-(X @ TRUE_BETA)))
    y = (rng.random(n, dtype=np.float32) < p).astype(np.int32)
    return {"X": X, "y": y}


def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
    if dataset == "breast_cancer":
        return _breast_cancer()
    if dataset == "synthetic":
        return _synthetic(int(n), seed)
    raise ValueError(f"unknown dataset {dataset!r}; valid: breast_cancer, synthetic")


TARGET = Target(
    name="sparse_logistic",
    description="Sparse logistic regression (Gamma scales), breast-cancer data or synthetic N x 30",
    source="harness seed target; data: scikit-learn load_breast_cancer (UCI WDBC), standardised",
    model=model,
    datasets={"breast_cancer": 569, "synthetic": ANY_N},
    make_data=make_data,
    layout=layout,
    log_density=log_density,
    plate="data",
)
