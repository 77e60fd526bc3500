"""One short SVI run: the compiled optimisation (and draw) loops of svi_autonormal."""

from __future__ import annotations

import numpy as np
import pytest


def test_svi_short_run(benchmark, breast_cancer):
    import jax

    from harness import methods

    method = methods.get("svi_autonormal")
    config = methods.RunConfig(1, 200, 100, method.resolve_options({}))
    result = method.run(breast_cancer, config, jax.random.key(0))
    calls = result.loop.args  # the chained pieces: each chunk, then the draw
    # the replay is the run minus compile: one call per optimisation chunk the run took and one for the
    # draws, whose recorded seconds are the run's sampling seconds, no more and no less
    chunks = result.extra["opt_steps"] // config.options["window"]
    assert chunks >= 1 and len(calls) == chunks + 1
    assert sum(c.seconds for c in calls) == pytest.approx(result.sample_s, rel=1e-9)
    assert result.draws["beta"].shape[:2] == (1, 100) and np.isfinite(result.draws["beta"]).all()

    def replay():  # every compiled loop the method timed, same arguments: its run minus compile
        result.loop()

    benchmark.group = "svi"
    benchmark.extra_info.update(
        method=method.name, model="sparse_logistic", dataset="breast_cancer", n=breast_cancer.n,
        num_chains=1, num_warmup=200, num_samples=100, device=jax.default_backend(),
        work=1, work_unit="run (all timed loops)", compile_s=result.compile_s,
    )
    benchmark.pedantic(replay, rounds=3, iterations=1, warmup_rounds=1)
