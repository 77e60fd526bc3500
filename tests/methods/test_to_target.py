"""Run to a target (harness.methods.to_target): chunks that leave the draws as one run's, a check
schedule growing by at most 1.25x that stops at the first passing check or at the cap, and cells that refuse what cannot run."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from harness import UsageError, methods, metrics
from harness.cell import Cell, validate
from harness.methods import to_target
from harness.methods.to_target import ToTarget

TUNED = {"num_steps": 5}


def _run(method, posterior, chains, warmup, samples, target=None, opts=TUNED, seed=3):
    m = methods.get(method)
    config = methods.RunConfig(chains, warmup, samples, m.resolve_options(opts), target)
    return m.run(posterior, config, jax.random.key(seed))


# the two NUTS are slow (pytest -m slow); CI keeps the three kernels whose chunks run the same driver
@pytest.mark.parametrize("method, opts", [("handrolled_hmc_tuned", TUNED), ("handrolled_hmc", {"step_size": 0.3}),
                                          pytest.param("blackjax_nuts", {}, marks=pytest.mark.slow),
                                          ("blackjax_mala", {}),
                                          pytest.param("numpyro_nuts", {}, marks=pytest.mark.slow)])
def test_chunks_draw_exactly_what_one_run_of_the_same_length_draws(gaussian_2d, method, opts):
    """An unreachable target runs to its cap, 4 chunks of 50 = one fixed run of 200 on the same keys."""
    chunked = _run(method, gaussian_2d, 2, 100, 50, ToTarget(ess=1e9, max_draws=200), opts)
    whole = _run(method, gaussian_2d, 2, 100, 200, None, opts)
    assert chunked.reached_target is False and whole.reached_target is None
    assert chunked.extra["target_draws"] == 200 and chunked.extra["target_checks"] == 4  # after 1, 2, 3 and 4 chunks
    for site in whole.draws:
        np.testing.assert_array_equal(chunked.draws[site], whole.draws[site])
    assert chunked.grad_evals_sample == whole.grad_evals_sample


def test_the_run_stops_at_the_first_passing_check(gaussian_2d, monkeypatch):
    seen = []

    def third_passes(z, target):
        seen.append(z)
        return len(seen) == 3

    monkeypatch.setattr(to_target, "check", third_passes)
    r = _run("handrolled_hmc_tuned", gaussian_2d, 2, 100, 25, ToTarget(ess=100, max_draws=25 * 32))
    assert r.reached_target is True and r.extra["target_checks"] == 3
    assert r.extra["target_draws"] == 75 and r.draws["x"].shape[:2] == (2, 75)  # checks after 1, 2, 3 chunks


def test_a_reachable_target_is_reached_and_the_draws_pass_the_check(gaussian_2d):
    r = _run("handrolled_hmc_tuned", gaussian_2d, 4, 300, 100, ToTarget(ess=400, max_draws=3200))
    z = gaussian_2d.layout.unconstrain(r.draws)
    s = metrics.summarize(z)
    assert r.reached_target is True and s["max_rhat"] < 1.01 and s["min_ess_bulk"] >= 400 and s["min_ess_tail"] >= 400
    draws = z.shape[1]
    schedule = to_target.check_schedule(32)
    assert draws in [100 * k for k in schedule]
    if draws > 100:  # the check before the passing one did not pass
        before = z[:, : 100 * schedule[schedule.index(draws // 100) - 1]]
        assert not to_target.check(before, ToTarget(400, 3200))


@pytest.mark.parametrize("cap", [1, 2, 4, 5, 9, 32, 100, 1000])
def test_the_check_schedule_grows_by_at_most_a_quarter_after_four_chunks_and_ends_at_the_cap(cap):
    s = to_target.check_schedule(cap)
    assert s[0] == 1 and s[-1] == cap and s == sorted(set(s))
    assert s[:4] == list(range(1, min(cap, 4) + 1))  # every one of the first four chunks is checked
    assert all(b / a <= to_target.CHECK_GROWTH for a, b in zip(s, s[1:]) if a >= 4)
    if cap >= 100:  # far fewer checks than chunks
        assert len(s) < cap / 4


def _summary_passes(z, t: ToTarget) -> bool:
    s = metrics.summarize(z)
    return s["max_rhat"] < t.max_rhat and s["min_ess_bulk"] >= t.ess and s["min_ess_tail"] >= t.ess


def test_the_check_needs_rhat_bulk_and_tail_and_agrees_with_the_full_summary():
    rng = np.random.default_rng(0)
    t = ToTarget(ess=400, max_draws=1000)
    good = rng.standard_normal((4, 500, 3))
    walk = np.cumsum(rng.standard_normal((4, 500, 3)), axis=1)  # autocorrelated: bulk ESS far below 400
    split = good + np.array([0.0, 0.0, 0.0, 0.5])[:, None, None]  # one chain off: R-hat fails, ESS may not
    cases = {"good": good, "walk": walk, "split": split, "nan": np.where(good > 3, np.nan, good)}
    got = {k: to_target.check(z, t) for k, z in cases.items()}
    assert got["good"] and not got["walk"] and not got["split"] and not got["nan"]
    for k, z in cases.items():
        if k != "nan":
            assert got[k] == _summary_passes(z, t), k
    assert not to_target.check(good, ToTarget(ess=10_000, max_draws=1000))  # the target itself counts


def test_a_failing_check_stops_at_the_first_figure_that_fails(monkeypatch):
    calls = []
    real = metrics._per_coordinate

    def counted(fn, z, **kw):
        calls.append(kw["method"])
        return real(fn, z, **kw)

    monkeypatch.setattr(metrics, "_per_coordinate", counted)
    walk = np.cumsum(np.random.default_rng(1).standard_normal((4, 200, 2)), axis=1)
    assert not to_target.check(walk, ToTarget(ess=400, max_draws=1000))
    assert calls == ["bulk"]
