"""Dense logistic regression with a Normal prior: the classic large-N target for HMCECS and SVI.

    beta_j ~ Normal(0, 1)  (j = 1..D),   y_i ~ Bernoulli(logits = x_i . beta)  (i = 1..N),

sampled in z = beta (dim D). Datasets ``d<D>`` (e.g. ``d10``, ``d100``) with any N:
X ~ N(0, 1) (N x D, float32) from the data seed, and a true beta fixed per D
(seed D, entries N(0, 1) * 1.5 / sqrt(D), so logits have sd about 1.5).
The likelihood plate ``data`` follows the subsample convention (``subsample_size``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from harness.targets.base import ANY_N, Layout, Param, Target
from harness.targets.sparse_logistic import bernoulli_logit, logits_of_data
from harness.targets.parametric import ParametricDatasets

DATASETS = ParametricDatasets(r"d(?P<d>\d+)", ANY_N, ("d10", "d100"), "d<D> (D >= 1)",
                              check=lambda p: None if p["d"] >= 1 else "D must be >= 1")


def model(X, y=None, subsample_size=None):
    n, d = X.shape
    beta = numpyro.sample("beta", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
    with numpyro.plate("data", n, subsample_size=subsample_size):
        Xb = numpyro.subsample(X, event_dim=1)
        yb = numpyro.subsample(y, event_dim=0) if y is not None else None
        numpyro.sample("y", dist.Bernoulli(logits=Xb @ beta), obs=yb)


def layout(data) -> Layout:
    return Layout((Param("beta", (data["X"].shape[1],)),))


def log_density(data):
    """Hand-written flat log density of z = beta (the seed target's softplus and logits product:
    :func:`harness.targets.sparse_logistic.logits_of_data`)."""
    X = jnp.asarray(data["X"])
    y = jnp.asarray(data["y"], X.dtype)
    const = -0.5 * X.shape[1] * jnp.log(2 * jnp.pi)

    logits_of = logits_of_data(X)

    def logdensity(z):
        logits = logits_of(z)
        return const - 0.5 * z @ z + bernoulli_logit(y, logits)

    return logdensity


def true_beta(d: int) -> np.ndarray:
    return (np.random.default_rng(d).standard_normal(d) * 1.5 / np.sqrt(d)).astype(np.float32)


def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
    d = DATASETS.params(dataset)["d"]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((int(n), d), dtype=np.float32)
    p = 1.0 / (1.0 + np.exp(-(X @ true_beta(d))))
    y = (rng.random(int(n), dtype=np.float32) < p).astype(np.int32)
    return {"X": X, "y": y}


TARGET = Target(
    name="logistic",
    description="Dense logistic regression, Normal(0, 1) prior; synthetic N x D (dataset d<D>)",
    source="harness synthetic target (Bayesian logistic regression, e.g. Inference Gym's GermanCreditNumericLogisticRegression form)",
    model=model,
    datasets=DATASETS,
    make_data=make_data,
    layout=layout,
    log_density=log_density,
    plate="data",
)
