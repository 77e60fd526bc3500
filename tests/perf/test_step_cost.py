"""Per-gradient step cost of each MCMC family, and the CI budgets on it.

The benchmarks time the method's own compiled sampling loop (compile and warmup
happen in the session fixture, outside any timed region; every call is blocked
on). ``extra_info`` carries what a report needs beside the time: gradient
evaluations per call (divide the time by it for seconds per gradient), compile
seconds, min bulk ESS of the run and the overhead ratio over the gradient floor.

Budgets are ratios measured in this run, never absolute times: a method's
seconds per gradient over the gradient-floor loop's (``harness.timing.floor_loop``)
at the same batch shape (4 vmapped chains), the same positions, and the method's
own gradient count (the seed HMC pays L + 1 per iteration), by the one procedure
behind every overhead ratio (``harness.timing.replay_paired``, as a cell's row):
the two loops are timed alternately and the median of the per-pair ratios is
compared, so load that comes and goes on a shared machine hits both sides of most pairs.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.perf.conftest import NUM_CHAINS, NUM_SAMPLES, _LOOPS, _sampling_loop, floor_for

#: method -> largest allowed (seconds per gradient) / (floor seconds per gradient). Re-based with the
#: replay protocol, whose floor runs are sized to the loop (no longer 100 iterations whose per-call
#: cost padded the floor): at N = 569 with 4 chains both now measure 1.1-1.35x (per-pair medians,
#: 2026-11-25), the leapfrog and accept step being a visible share of a 3 us gradient.
BUDGETS = {"handrolled_hmc": 1.5, "blackjax_hmc": 1.5}


def test_sampling_step_cost(benchmark, sampling_loop):
    import jax

    from harness import timing

    loop = sampling_loop
    paired = timing.replay_paired(loop.call, floor_for(loop))
    benchmark.group = "mcmc step"
    benchmark.extra_info.update(
        method=loop.method, model="sparse_logistic", dataset="breast_cancer", n=loop.posterior.n,
        num_chains=NUM_CHAINS, num_samples=NUM_SAMPLES, device=jax.default_backend(),
        work=loop.call.work, work_unit="gradient evaluation",
        compile_s=loop.result.compile_s, min_ess_bulk=loop.min_ess_bulk,
        overhead_ratio=paired.ratio, floor_seconds_per_grad=paired.floor,
    )
    benchmark.pedantic(loop.call, rounds=5, iterations=1, warmup_rounds=1)
    # what is re-timed is the run's sampling (not its warmup): the call's first timing is the row's
    # sample_s; the work per call is the method's own count, checked against the density's own
    # evaluations in tests/methods/test_gradient_counts.py
    assert loop.call.seconds == pytest.approx(loop.result.sample_s, rel=1e-9)
    assert loop.call.work >= NUM_CHAINS * NUM_SAMPLES  # every draw of every chain takes a gradient or more
    # a report divides the benchmark's time by the work and the floor: both must be real figures
    assert paired.ratio > 0 and np.isfinite(paired.ratio) and paired.floor > 0


@pytest.mark.parametrize("method", sorted(BUDGETS))
def test_per_gradient_cost_within_budget_of_floor(method, breast_cancer):
    from harness import timing

    if method not in _LOOPS:
        _LOOPS[method] = _sampling_loop(method, breast_cancer)
    loop = _LOOPS[method]
    # another process on the loop's core slows the pairs it overlaps, never speeds them: up to three
    # measurements, the lowest median judged (a real regression is over budget in all three)
    tries = []
    for _ in range(3):
        tries.append(timing.replay_paired(loop.call, floor_for(loop)))
        if tries[-1].ratio <= BUDGETS[method]:
            break
    paired = min(tries, key=lambda p: p.ratio)
    ratios = ", ".join(f"{r:.2f}" for r in paired.ratios)
    assert paired.ratio <= BUDGETS[method], (
        f"{method}: {paired.per_work * 1e6:.2f} us per gradient is {paired.ratio:.2f}x the floor's "
        f"{paired.floor * 1e6:.2f} us (budget {BUDGETS[method]}x, lowest of {len(tries)} measurements; "
        f"its per-pair ratios {ratios})"
    )


def test_replayed_loop_repeats_the_methods_work(sampling_loop):
    """The recorded sampling loop is deterministic: two re-runs agree bit for bit.

    Same executable and arguments give the same output twice (draws, tree sizes),
    hence the same gradient count on every timed call: what the timings rely on.
    """
    import jax
    import numpy as np

    def as_numpy(leaf):  # PRNG key arrays (NumPyro's state) compare through their raw data
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        return np.asarray(leaf)

    call = sampling_loop.call
    first, second = (jax.block_until_ready(call.compiled(*call.args)) for _ in range(2))
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(as_numpy(a), as_numpy(b))
