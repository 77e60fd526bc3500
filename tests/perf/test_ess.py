"""ESS and R-hat of a run-sized draw array through harness.metrics (ArviZ underneath)."""

from __future__ import annotations

import numpy as np

CHAINS, DRAWS, DIM, RHO = 4, 1000, 8, 0.5


def ar1_draws(seed: int = 0) -> np.ndarray:
    """(chain, draw, dim) AR(1) draws with coefficient RHO: bulk ESS is about N (1 - RHO) / (1 + RHO)."""
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((CHAINS, DRAWS, DIM))
    x = np.empty_like(eps)
    x[:, 0] = eps[:, 0]
    for t in range(1, DRAWS):
        x[:, t] = RHO * x[:, t - 1] + np.sqrt(1 - RHO**2) * eps[:, t]
    return x


def test_summarize_ess(benchmark):
    from harness import metrics

    draws = ar1_draws()
    benchmark.group = "metrics"
    out = benchmark.pedantic(metrics.summarize, args=(draws,), rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(work=1, work_unit="summary of (4, 1000, 8) draws", min_ess_bulk=out["min_ess_bulk"])
    expected = CHAINS * DRAWS * (1 - RHO) / (1 + RHO)
    assert 0.6 * expected < out["min_ess_bulk"] < 1.2 * expected  # the min over coordinates sits below the mean
