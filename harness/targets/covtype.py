"""A stand-in with the shape of NumPyro's covtype benchmark: logistic regression, 581,012 x 55.

NumPyro's large-data benchmark (UCI covertype, binarised: the most frequent cover type
against the rest; 54 standardised features plus an intercept column, N = 581,012) times HMC
and NUTS per leapfrog step. The real data cannot be downloaded here, so this target keeps
its shape and model on synthetic data of a fixed seed:

    beta_j ~ Normal(0, 1)  (j = 1..55),   y_i ~ Bernoulli(logits = x_i . beta),

x_i = (54 draws of N(0, 1), 1), beta's truth ``logistic.true_beta(55)``. A gradient reads X
twice (X beta, then X^T r), as on the real data; the posterior differs (so do ESS and step
sizes: only per-step costs compare with the published figures, see
:mod:`harness.report.published`). Dataset ``synthetic`` takes any N (the ``covtype`` suite
runs 581,012; tests run it small). No reference posterior: accuracy is not scored.
"""

from __future__ import annotations

import numpy as np

from harness.targets import logistic
from harness.targets.base import ANY_N, Target

COVTYPE_N, COVTYPE_D = 581_012, 55


def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = np.empty((int(n), COVTYPE_D), np.float32)
    X[:, :-1] = rng.standard_normal((int(n), COVTYPE_D - 1), dtype=np.float32)
    X[:, -1] = 1.0  # the intercept column
    p = 1.0 / (1.0 + np.exp(-(X @ logistic.true_beta(COVTYPE_D))))
    y = (rng.random(int(n), dtype=np.float32) < p).astype(np.int32)
    return {"X": X, "y": y}


TARGET = Target(
    name="covtype_synthetic",
    description="Logistic regression with the covtype benchmark's shape (N x 55, intercept), synthetic data",
    source="harness synthetic stand-in for UCI covertype as NumPyro's benchmark notebook used it "
           "(581,012 x 55, standardised features + intercept)",
    model=logistic.model,
    datasets={"synthetic": ANY_N},
    make_data=make_data,
    layout=logistic.layout,
    log_density=logistic.log_density,
    plate="data",
)
