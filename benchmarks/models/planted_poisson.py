"""A second planted per-gradient slowdown, on a model no suite runs: the same posterior, 1.25x the data to read.

Poisson regression, D = 20 features (fixed seed, scaled 0.3 so rates stay moderate), no intercept,
beta ~ Normal(0, 1), y ~ Poisson(rate = exp(X @ beta)). With ``HARNESS_PLANTED_PAD=0.25`` in the
environment, ``make_data`` appends 0.25 N rows with x = 0 and y = 0: each has rate exp(0) = 1 whatever
beta is, so it adds the constant log Poisson(0 | 1) = -1 to the log density and nothing to its gradient.
The posterior is exactly the same, the cell's configuration (this file, N, method, seed) unchanged, and
every gradient reads 1.25x the rows: what ``harness compare`` must call slower
(docs/methodology.md, "Noise", has the commands and results/noise/README.md the outcome).
"""

import os

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

D = 20


def make_data(n, seed):
    n = 2000 if n is None else int(n)
    rng = np.random.default_rng(2000 + seed)
    X = (0.3 * rng.standard_normal((n, D))).astype(np.float32)
    beta = np.zeros(D, np.float32)
    beta[:5] = [1.0, -0.8, 0.6, -0.4, 0.3]
    y = rng.poisson(np.exp(X @ beta)).astype(np.float32)
    pad = int(round(float(os.environ.get("HARNESS_PLANTED_PAD", "0")) * n))
    if pad:
        X = np.concatenate([X, np.zeros((pad, D), np.float32)])
        y = np.concatenate([y, np.zeros(pad, np.float32)])
    return {"X": X, "y": y}


def model(X, y):
    beta = numpyro.sample("beta", dist.Normal(np.zeros(D, np.float32), 1.0).to_event(1))
    numpyro.sample("y", dist.Poisson(jnp.exp(X @ beta)), obs=y)
