import jax
import numpy as np
import pytest

from harness import UsageError, methods
from tests.methods.test_handrolled import _check_gaussian

BLACKJAX = ["blackjax_hmc", "blackjax_nuts", "blackjax_mala", "blackjax_chees"]


def _run(posterior, name, chains, warmup, samples, seed=0, **options):
    """As the harness runs a method: options resolved and the combination checked, then run."""
    m = methods.get(name)
    config = methods.RunConfig(chains, warmup, samples, m.resolve_options(options))
    if m.check:
        m.check(posterior.target, config)
    return m.run(posterior, config, jax.random.key(seed))


def _check_timings(r):
    assert r.compile_s > 0 and r.warmup_s > 0 and r.sample_s > 0
    assert np.isfinite(r.step_size) and r.step_size > 0


def test_blackjax_hmc_window_adaptation_recovers_gaussian(gaussian_2d):
    """Fixed L = 5: one gradient per chain at init, then exactly L per transition in warmup and sampling."""
    r = _run(gaussian_2d, "blackjax_hmc", 4, 200, 1000, num_steps=5)
    assert r.draws["x"].shape == (4, 1000, 2)
    _check_gaussian(r.draws["x"])
    assert r.grad_evals_warmup == 4 * (1 + 200 * 5)
    assert r.grad_evals_sample == 4 * 1000 * 5
    assert r.divergences == 0 and 0.5 < r.accept_rate <= 1.0 and r.grad_batch == 4
    _check_timings(r)


def test_blackjax_hmc_fixed_step_keeps_the_step(gaussian_2d):
    r = _run(gaussian_2d, "blackjax_hmc", 2, 50, 300, adapt=False, step_size=0.3, num_steps=4)
    assert r.step_size == pytest.approx(0.3)
    assert r.grad_evals_warmup == 2 * (1 + 50 * 4) and r.grad_evals_sample == 2 * 300 * 4
    assert np.all(np.abs(r.draws["x"].mean(axis=(0, 1)) - [1.0, -2.0]) < 1.0)


def test_blackjax_nuts_recovers_gaussian(gaussian_2d):
    """Per transition a tree of at most 2^depth - 1 leapfrog steps; the counts are BlackJAX's own."""
    depth = 4
    r = _run(gaussian_2d, "blackjax_nuts", 4, 200, 1000, max_tree_depth=depth)
    _check_gaussian(r.draws["x"])
    per_chain_iter = r.grad_evals_sample / (4 * 1000)
    assert 1 <= per_chain_iter <= 2**depth - 1 and per_chain_iter == pytest.approx(r.extra["mean_num_steps"])
    assert 4 * (1 + 200) <= r.grad_evals_warmup <= 4 * (1 + 200 * (2**depth - 1))
    assert r.divergences == 0 and 0.6 < r.accept_rate <= 1.0
    _check_timings(r)


def test_blackjax_mala_recovers_gaussian(gaussian_2d):
    """Dual averaging brings acceptance near 0.574; one gradient per transition plus one per chain at init."""
    r = _run(gaussian_2d, "blackjax_mala", 4, 300, 3000)
    _check_gaussian(r.draws["x"], cov_rtol=0.15)
    assert r.grad_evals_warmup == 4 * (1 + 300) and r.grad_evals_sample == 4 * 3000
    assert 0.45 < r.accept_rate < 0.7 and r.extra["adapted"]
    _check_timings(r)


def test_blackjax_chees_uses_128_chains_by_default_and_recovers_gaussian(gaussian_2d):
    """RunConfig asks for 4 chains; ChEES's num_chains option (128) decides the ensemble, and says so."""
    r = _run(gaussian_2d, "blackjax_chees", 4, 150, 150)
    x = r.draws["x"]
    assert x.shape == (128, 150, 2) and r.extra["num_chains"] == 128
    assert r.grad_batch == 128  # the floor the overhead ratio uses is at the ensemble's batch
    _check_gaussian(x)
    # Every chain takes the same jittered L in a transition: counts are multiples of the ensemble.
    assert r.grad_evals_sample % 128 == 0 and r.grad_evals_sample >= 128 * 150
    assert r.grad_evals_warmup % 128 == 0 and r.grad_evals_warmup >= 128 * (1 + 150)
    _check_timings(r)


def test_blackjax_chees_follows_run_config_when_num_chains_is_null(gaussian_2d):
    """num_chains=null: the ensemble is RunConfig.num_chains (here 1, refused before any compile)."""
    with pytest.raises(UsageError, match="num_chains must be >= 2, got 1"):
        _run(gaussian_2d, "blackjax_chees", 1, 10, 10, num_chains=None)


@pytest.mark.parametrize("name", BLACKJAX)
def test_unknown_option_names_the_valid_ones(name):
    m = methods.get(name)
    with pytest.raises(UsageError, match=f"valid: {', '.join(sorted(m.options))}"):
        m.resolve_options({"bogus": 1})


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("blackjax_hmc", {"adapt": "yes"}, "adapt must be true or false"),
        ("blackjax_nuts", {"target_accept": 1.5}, r"target_accept must be in \(0, 1\)"),
        ("blackjax_mala", {"step_size": -1}, "step_size must be null or a positive finite float"),
        ("blackjax_chees", {"mass_matrix": "dense"}, "mass_matrix must be one of diagonal, identity"),
        ("blackjax_chees", {"num_chains": 1}, "num_chains must be >= 2"),
    ],
)
def test_bad_option_value_is_a_usage_error(gaussian_2d, name, options, message):
    with pytest.raises(UsageError, match=message):
        _run(gaussian_2d, name, 2, 10, 10, **options)
