"""Neal's funnel (Neal 2003, "Slice sampling", section 8), dimension configurable.

    v ~ Normal(0, 3),   x_i ~ Normal(0, exp(v / 2))   (i = 1..D-1),

sampled in z = [v, x] (dim D). Datasets ``d<D>`` (``d10`` is Neal's 10-D funnel);
no data: the model's only argument ``x_loc`` (zeros, shape D-1) fixes the shape.

Analytic marginals: v has mean 0 and sd 3; each x_i has mean 0 and variance
E[exp(v)] = exp(9/2) (the log-normal mean), so sd exp(9/4) = 9.4877.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from harness.targets.base import Layout, Param, Reference, Target
from harness.targets.parametric import ParametricDatasets

V_SCALE = 3.0
DATASETS = ParametricDatasets(r"d(?P<d>\d+)", None, ("d10", "d100"), "d<D> (D >= 2)",
                              check=lambda p: None if p["d"] >= 2 else "D must be >= 2")


def model(x_loc):
    v = numpyro.sample("v", dist.Normal(0.0, V_SCALE))
    numpyro.sample("x", dist.Normal(x_loc, jnp.exp(v / 2)).to_event(1))


def layout(data) -> Layout:
    return Layout((Param("v", ()), Param("x", (data["x_loc"].shape[0],))))


def log_density(data):
    """log N(v; 0, 3) + sum_i log N(x_i; 0, exp(v/2))."""
    k = data["x_loc"].shape[0]
    c = -0.5 * jnp.log(2 * jnp.pi)

    def logdensity(z):
        v, x = z[0], z[1:]
        lp_v = c - jnp.log(V_SCALE) - 0.5 * (v / V_SCALE) ** 2
        return lp_v + k * (c - v / 2) - 0.5 * jnp.sum(x**2) * jnp.exp(-v)

    return logdensity


def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
    return {"x_loc": np.zeros(DATASETS.params(dataset)["d"] - 1, dtype=np.float32)}


def reference(dataset: str, n: int | None) -> Reference:
    k = DATASETS.params(dataset)["d"] - 1
    return Reference(
        mean={"v": np.zeros(()), "x": np.zeros(k)},
        sd={"v": np.full((), V_SCALE), "x": np.full(k, math.exp(V_SCALE**2 / 4))},
        source="analytic: v ~ N(0, 3); x_i has mean 0, sd sqrt(E exp(v)) = exp(9/4)",
    )


TARGET = Target(
    name="neals_funnel",
    description="Neal's funnel, v ~ N(0, 3), x ~ N(0, exp(v/2)); dimension D (dataset d<D>); analytic truth",
    source="Neal (2003), Slice sampling, Annals of Statistics 31(3), section 8",
    model=model,
    datasets=DATASETS,
    make_data=make_data,
    layout=layout,
    log_density=log_density,
    reference=reference,
)
