"""Typed options and Method.check: every registered method refuses, before any run, what it cannot run."""

from __future__ import annotations

import pytest

from harness import UsageError, methods
from harness.cell import Cell, validate
from harness.methods.base import Option
from tests.toys import GAUSSIAN_2D
from tests.methods.test_numpyro_mcmc import GAUSS_MEAN_PLATE


def _config(name, chains=2, warmup=100, samples=100, **options):
    return methods.RunConfig(chains, warmup, samples, methods.get(name).resolve_options(options))


@pytest.mark.parametrize("name", methods.names())
def test_every_registered_method_declares_typed_options_whose_defaults_pass(name):
    m = methods.get(name)
    assert all(isinstance(o, Option) for o in m.options.values()), name
    config = _config(name)
    assert config.options == m.defaults
    if m.check is not None:
        m.check(GAUSS_MEAN_PLATE, config)  # a plated target suits every method


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("blackjax_chees", dict(mass_matrix="dense"), "option mass_matrix must be one of diagonal, identity"),
        ("blackjax_hmc", dict(adapt="yes"), "option adapt must be true or false, got 'yes'"),
        ("blackjax_mala", dict(target_accept=1.5), r"target_accept must be in \(0, 1\), got 1.5"),
        ("handrolled_hmc", dict(num_steps=0), "num_steps must be a positive int, got 0"),
        ("handrolled_hmc", dict(num_steps=True), "num_steps must be a positive int, got True"),
        ("handrolled_hmc", dict(step_size=-1), "step_size must be null or a positive finite float"),
        ("handrolled_hmc_tuned", dict(target_accept=0), r"target_accept must be in \(0, 1\)"),
        ("numpyro_hmc", dict(num_steps=2.5), "num_steps must be a positive int"),
        ("numpyro_nuts", dict(chain_method="threads"), "must be one of vectorized, sequential, parallel"),
        ("numpyro_hmcecs", dict(proxy="exact"), "proxy must be one of taylor, none"),
        ("svi_autonormal", dict(max_steps=0), "max_steps must be a positive int"),
        ("svi_autonormal", dict(nope=1), "unknown option"),
    ],
)
def test_options_are_checked_once_against_their_declaration(name, options, message):
    with pytest.raises(UsageError, match=message):
        methods.get(name).resolve_options(options)


def test_a_checked_option_comes_out_normalised():
    assert methods.get("handrolled_hmc").resolve_options({"step_size": 1})["step_size"] == 1.0
    assert isinstance(methods.get("handrolled_hmc").resolve_options({"step_size": 1})["step_size"], float)


@pytest.mark.parametrize(
    "name, config, message",
    [
        ("blackjax_hmc", dict(warmup=0), "window adaptation needs num_warmup >= 1"),
        ("blackjax_nuts", dict(warmup=0), "window adaptation needs num_warmup >= 1"),
        ("blackjax_chees", dict(warmup=0), "num_warmup must be >= 1"),
        ("blackjax_chees", dict(num_chains=1), "num_chains must be >= 2, got 1"),
        ("blackjax_chees", dict(chains=1, num_chains=None), "num_chains must be >= 2, got 1"),
        ("numpyro_hmcecs", dict(subsample_size=10, num_blocks=20), "num_blocks must be"),
    ],
)
def test_check_refuses_a_bad_combination(name, config, message):
    counts = {k: config.pop(k) for k in ("chains", "warmup") if k in config}
    with pytest.raises(UsageError, match=message):
        methods.get(name).check(GAUSS_MEAN_PLATE, _config(name, **counts, **config))


def test_warmup_free_variants_accept_num_warmup_zero():
    """Fixed-step HMC and MALA need no adaptation window: num_warmup=0 is fine for them."""
    methods.get("blackjax_hmc").check(GAUSSIAN_2D, _config("blackjax_hmc", warmup=0, adapt=False))
    validate(Cell("sparse_logistic", "breast_cancer", None, "blackjax_mala", num_warmup=0))


def test_hmcecs_check_refuses_a_target_without_plate():
    with pytest.raises(UsageError, match="plate"):
        methods.get("numpyro_hmcecs").check(GAUSSIAN_2D, _config("numpyro_hmcecs"))
