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


@pytest.mark.parametrize("method, opts", [("handrolled_hmc_tuned", TUNED), ("handrolled_hmc", {"step_size": 0.3}),
                                          ("blackjax_nuts", {}), ("blackjax_mala", {}), ("numpyro_nuts", {})])
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

    def third_passes(summary, target):
        seen.append(summary)
        return len(seen) == 3

    monkeypatch.setattr(to_target, "passes", third_passes)
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
        before = metrics.summarize(z[:, : 100 * schedule[schedule.index(draws // 100) - 1]])
        assert not to_target.passes(before, ToTarget(400, 3200))


@pytest.mark.parametrize("cap", [1, 2, 4, 5, 9, 32, 100, 1000])
def test_the_check_schedule_grows_by_at_most_a_quarter_after_four_chunks_and_ends_at_the_cap(cap):
    s = to_target.check_schedule(cap)
    assert s[0] == 1 and s[-1] == cap and s == sorted(set(s))
    assert s[:4] == list(range(1, min(cap, 4) + 1))  # every one of the first four chunks is checked
    assert all(b / a <= to_target.CHECK_GROWTH for a, b in zip(s, s[1:]) if a >= 4)
    if cap >= 100:  # far fewer checks than chunks
        assert len(s) < cap / 4


def test_passes_needs_rhat_bulk_and_tail():
    t = ToTarget(ess=400, max_draws=1000)
    good = {"max_rhat": 1.005, "min_ess_bulk": 450.0, "min_ess_tail": 410.0}
    assert to_target.passes(good, t)
    for bad in ({"max_rhat": 1.02}, {"min_ess_bulk": 399.0}, {"min_ess_tail": 100.0}):
        assert not to_target.passes({**good, **bad}, t)


def test_cells_validate_their_target():
    base = dict(model="sparse_logistic", dataset="breast_cancer", n=None, num_samples=100)
    cell = validate(Cell(method="handrolled_hmc", target_ess=400, **base))
    assert cell.max_draws == to_target.DEFAULT_MAX_CHUNKS * 100 and "ess400" in cell.label()
    plain = Cell(method="handrolled_hmc", **base)
    assert "target_ess" not in plain.key() and "target_ess" in cell.key()  # fixed-budget keys unchanged
    with pytest.raises(UsageError, match="cannot run to a target"):
        validate(Cell(method="svi_autonormal", target_ess=400, **base))
    with pytest.raises(UsageError, match="give target_ess"):
        validate(Cell(method="handrolled_hmc", max_draws=1000, **base))
    with pytest.raises(UsageError, match="max_draws must be"):
        validate(Cell(method="handrolled_hmc", target_ess=400, max_draws=50, **base))


def test_numpyro_runs_to_a_target_only_with_vectorized_chains(gaussian_2d):
    with pytest.raises(UsageError, match="vectorized"):
        _run("numpyro_nuts", gaussian_2d, 2, 50, 50, ToTarget(400, 200), {"chain_method": "sequential"})


def test_a_suite_gives_its_target_to_the_methods_that_can_run_to_one():
    from harness import suites

    suite = {"methods": ["handrolled_hmc", "svi_autonormal"], "target_ess": 400, "num_samples": 100,
             "data": [{"model": "sparse_logistic", "dataset": "breast_cancer"}]}
    cells = {c.method: c for c in suites.expand(suite)}
    assert cells["handrolled_hmc"].target_ess == 400 and cells["svi_autonormal"].target_ess is None
