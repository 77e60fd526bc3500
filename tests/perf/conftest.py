"""Fixtures of the pytest-benchmark suite: each method's compiled sampling loop, ready to re-time.

A method runs once per session through ``harness.methods`` (compile, warmup,
sampling) and returns its compiled sampling loop (``RunResult.loop``); benchmarks then
re-run only that loop with the same arguments, so compile is
never inside a timed region and the work (gradient count) is the method's own.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest


def _matrix() -> dict:
    """The pytest-benchmark matrix, in the suites' language: harness/suites/perf.toml."""
    from harness import suites

    return suites.load("perf")


#: One method per MCMC library whose per-gradient step is benchmarked (SVI: test_svi.py), and run lengths.
STEP_METHODS = _matrix()["methods"]
NUM_CHAINS, NUM_WARMUP, NUM_SAMPLES = _matrix()["chains"][0], _matrix()["num_warmup"], _matrix()["num_samples"]


class Loop(NamedTuple):
    """A method's recorded sampling loop and what the run around it measured."""

    method: str
    posterior: object
    call: object  # harness.timing.TimedCall, work = gradient evaluations per call
    result: object  # harness.methods.RunResult
    min_ess_bulk: float


def _sampling_loop(method_name: str, posterior) -> Loop:
    import jax

    from harness import methods, metrics

    method = methods.get(method_name)
    config = methods.RunConfig(NUM_CHAINS, NUM_WARMUP, NUM_SAMPLES, method.resolve_options({}))
    result = method.run(posterior, config, jax.random.key(0))
    summary = metrics.summarize(posterior.layout.unconstrain(result.draws))
    return Loop(method_name, posterior, result.loop._replace(work=result.grad_evals_sample), result,
                summary["min_ess_bulk"])


_LOOPS: dict[str, Loop] = {}


#: Benchmarked only under ``pytest -m slow``: NumPyro NUTS's run on the seed target (compile, and a warmup
#: whose trees run to hundreds of steps on the horseshoe) costs 25-30 s here, CI's largest single item; its
#: per-gradient step stays in the asv history and in every default-suite row.
SLOW_STEP = {"numpyro_nuts"}


@pytest.fixture(params=[pytest.param(m, marks=pytest.mark.slow) if m in SLOW_STEP else m for m in STEP_METHODS])
def sampling_loop(request, breast_cancer) -> Loop:
    """The method's sampling loop on the seed target (breast cancer, N = 569), cached per session."""
    name = request.param
    if name not in _LOOPS:
        _LOOPS[name] = _sampling_loop(name, breast_cancer)
    return _LOOPS[name]


def floor_for(loop: Loop):
    """Gradient-floor loop at the chains' final positions: same batch shape, same region of z."""
    import jax.numpy as jnp

    from harness import timing

    z = jnp.asarray(loop.posterior.layout.unconstrain(loop.result.draws)[:, -1, :])
    from harness.cell import floor_density

    return timing.floor_loop(*loop.posterior.density_and_data(floor_density(loop.method)), z,
                             seconds=timing.floor_call_seconds(loop.call.seconds))
