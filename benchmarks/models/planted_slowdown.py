"""A planted per-gradient slowdown: the same posterior, 1.3x the data to read (``harness run --model-file``).

Logistic regression, D = 30 standardised synthetic features (fixed seed), beta ~ Normal(0, 1),
y ~ Bernoulli(logits = X @ beta). With ``HARNESS_PLANTED_PAD=0.3`` in the environment,
``make_data`` appends 0.3 N rows of zeros: each has logit 0 whatever beta is, so it adds a
constant to the log density and nothing to its gradient. The posterior is exactly the same,
but every gradient reads 1.3x the rows, so every cell's configuration (this file, N, method,
seed) is unchanged while its cost per gradient grows about 1.3x: what ``harness compare``
must call slower. README ("Noise, measured") has the commands.
"""

import os

import numpy as np
import numpyro
import numpyro.distributions as dist

D = 30


def make_data(n, seed):
    n = 2000 if n is None else int(n)
    rng = np.random.default_rng(1000 + seed)
    X = rng.standard_normal((n, D)).astype(np.float32)
    beta = np.zeros(D, np.float32)
    beta[:5] = [1.5, -1.0, 0.8, -0.6, 0.4]
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ beta))).astype(np.float32)
    pad = int(round(float(os.environ.get("HARNESS_PLANTED_PAD", "0")) * n))
    if pad:
        X = np.concatenate([X, np.zeros((pad, D), np.float32)])
        y = np.concatenate([y, np.zeros(pad, np.float32)])
    return {"X": X, "y": y}


def model(X, y):
    beta = numpyro.sample("beta", dist.Normal(np.zeros(D, np.float32), 1.0).to_event(1))
    numpyro.sample("y", dist.Bernoulli(logits=X @ beta), obs=y)
