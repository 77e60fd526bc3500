"""Method.check: every registered method refuses, before any run, what it cannot run."""

from __future__ import annotations

import pytest

from harness import UsageError, methods
from tests.conftest import GAUSSIAN_2D
from tests.methods.test_numpyro_mcmc import GAUSS_MEAN_PLATE


def _config(name, chains=2, warmup=100, samples=100, **options):
    return methods.RunConfig(chains, warmup, samples, methods.get(name).resolve_options(options))


@pytest.mark.parametrize("name", methods.names())
def test_every_registered_method_has_a_check_that_passes_its_defaults(name):
    m = methods.get(name)
    assert m.check is not None
    m.check(GAUSS_MEAN_PLATE, _config(name))  # a plated target suits every method


@pytest.mark.parametrize(
    "name, config, message",
    [
        ("blackjax_hmc", dict(warmup=0), "window adaptation needs num_warmup >= 1"),
        ("blackjax_nuts", dict(warmup=0), "window adaptation needs num_warmup >= 1"),
        ("blackjax_chees", dict(warmup=0), "num_warmup must be >= 1"),
        ("blackjax_chees", dict(num_chains=1), "num_chains must be >= 2, got 1"),
        ("blackjax_chees", dict(chains=1, num_chains=None), "num_chains must be >= 2, got 1"),
        ("blackjax_chees", dict(mass_matrix="dense"), "mass_matrix must be 'diagonal' or 'identity'"),
        ("blackjax_hmc", dict(adapt="yes"), "adapt must be true or false"),
        ("blackjax_mala", dict(target_accept=1.5), r"target_accept must be in \(0, 1\)"),
        ("handrolled_hmc", dict(num_steps=0), "num_steps must be a positive int"),
        ("handrolled_hmc_tuned", dict(target_accept=0), r"target_accept must be in \(0, 1\)"),
        ("numpyro_hmc", dict(num_steps=0), "num_steps must be a positive integer"),
        ("numpyro_nuts", dict(chain_method="threads"), "valid: vectorized, sequential, parallel"),
        ("numpyro_hmcecs", dict(proxy="exact"), "unknown proxy"),
        ("numpyro_hmcecs", dict(subsample_size=10, num_blocks=20), "num_blocks must be"),
        ("svi_autonormal", dict(max_steps=0), "max_steps must be a positive integer"),
    ],
)
def test_check_refuses_a_bad_combination(name, config, message):
    counts = {k: config.pop(k) for k in ("chains", "warmup") if k in config}
    with pytest.raises(UsageError, match=message):
        methods.get(name).check(GAUSS_MEAN_PLATE, _config(name, **counts, **config))


def test_warmup_free_variants_accept_num_warmup_zero():
    """Fixed-step HMC and MALA need no adaptation window: num_warmup=0 is fine for them."""
    methods.get("blackjax_hmc").check(GAUSSIAN_2D, _config("blackjax_hmc", warmup=0, adapt=False))
    methods.get("blackjax_mala").check(GAUSSIAN_2D, _config("blackjax_mala", warmup=0))


def test_hmcecs_check_refuses_a_target_without_plate():
    with pytest.raises(UsageError, match="plate"):
        methods.get("numpyro_hmcecs").check(GAUSSIAN_2D, _config("numpyro_hmcecs"))
