"""NumPyro MCMC adapters: moment recovery within a few MCSE, counts, chain methods, option errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.distributions import constraints

from harness import UsageError, methods, metrics
from harness.targets import ANY_N, Layout, Param, Posterior, Target
from tests.toys import GAUSS_COV, GAUSS_MEAN

PRIOR_SD, NOISE_SD = 10.0, 1.0


def _mean_model(y, subsample_size=None):
    """mu ~ N(0, PRIOR_SD^2), y_i ~ N(mu, NOISE_SD^2) in the subsampleable plate "obs"."""
    mu = numpyro.sample("mu", dist.Normal(0.0, PRIOR_SD))
    with numpyro.plate("obs", y.shape[0], subsample_size=subsample_size):
        numpyro.sample("y", dist.Normal(mu, NOISE_SD), obs=numpyro.subsample(y, event_dim=0))


def _mean_data(dataset, n, seed=0):
    return {"y": (1.5 + NOISE_SD * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)}


GAUSS_MEAN_PLATE = Target(
    name="test_gaussian_mean_plate",
    description="conjugate Gaussian mean with a data plate (tests only)",
    source="tests/methods/test_numpyro_mcmc.py",
    model=_mean_model,
    datasets={"synthetic": ANY_N},
    make_data=_mean_data,
    layout=lambda data: Layout((Param("mu", (), constraints.real),)),
    plate="obs",
)


def exact_mean_posterior(y):
    """Conjugate posterior of mu: precision 1/PRIOR_SD^2 + N/NOISE_SD^2."""
    prec = 1 / PRIOR_SD**2 + len(y) / NOISE_SD**2
    return float(np.sum(y) / NOISE_SD**2 / prec), float(prec**-0.5)


def _run(posterior, name, chains=2, warmup=300, samples=500, seed=1, **opts):
    """As the harness runs a method: options resolved and the combination checked, then run."""
    m = methods.get(name)
    config = methods.RunConfig(chains, warmup, samples, m.resolve_options(opts))
    if m.check:
        m.check(posterior.target, config)
    return m.run(posterior, config, jax.random.key(seed))


def _assert_moments(x, mean, sd, k=4.0):
    """Mean within k MCSE; sd within k times its approximate MCSE sd * sqrt(1 / (2 ESS))... plus slack."""
    ess = metrics.ess_bulk(x)
    assert abs(x.mean() - mean) < k * sd / np.sqrt(ess), (x.mean(), mean, ess)
    assert abs(x.std() - sd) < k * sd / np.sqrt(2 * ess) + 0.05 * sd, (x.std(), sd, ess)


@pytest.mark.parametrize(
    "name, warmup, opts",
    [
        ("numpyro_hmc", 300, {}),
        ("numpyro_barkermh", 500, {}),
        pytest.param("numpyro_sa", 1500, {}, marks=pytest.mark.slow),  # CI: test_sa_is_gradient_free
    ],
)
def test_recovers_gaussian_moments(gaussian_2d, name, warmup, opts):
    r = _run(gaussian_2d, name, warmup=warmup, samples=1000, **opts)
    x = r.draws["x"]
    assert x.shape == (2, 1000, 2)
    for i in range(2):
        _assert_moments(x[..., i], GAUSS_MEAN[i], np.sqrt(GAUSS_COV[i, i]))
    assert r.compile_s > 0 and r.warmup_s > 0 and r.sample_s > 0
    if name == "numpyro_barkermh":  # one gradient per step, and one per chain at init
        assert (r.grad_evals_warmup, r.grad_evals_sample) == (2 * (1 + warmup), 2 * 1000)


def test_hmc_counts_exactly_L_per_iteration(gaussian_2d):
    """L per transition; warmup adds one gradient per chain at init (kernel.init's potential and gradient)."""
    r = _run(gaussian_2d, "numpyro_hmc", warmup=50, samples=100, num_steps=7, adapt_step_size=False, step_size=0.3)
    assert r.grad_evals_warmup == 2 * (1 + 50 * 7) and r.grad_evals_sample == 2 * 100 * 7
    assert r.step_size == pytest.approx(0.3, rel=1e-5)  # both num_steps and trajectory_length passed


def test_sa_is_gradient_free(gaussian_2d):
    """BarkerMH's one gradient per step: test_recovers_gaussian_moments, and tests/methods/test_gradient_counts.py
    against the density's own count."""
    sa = _run(gaussian_2d, "numpyro_sa", warmup=20, samples=30)
    assert (sa.grad_evals_warmup, sa.grad_evals_sample) == (0, 0)


def test_hmcecs_counts_subsample_gradients_and_their_full_data_equivalent():
    """The counts on a short run; most of its seconds are HMCECS's eager init (op by op compiles)."""
    post = Posterior(GAUSS_MEAN_PLATE, "synthetic", 400)
    r = _run(post, "numpyro_hmcecs", warmup=30, samples=50, subsample_size=40)
    assert r.draws["mu"].shape == (2, 50)
    assert r.extra["subsample_size"] == 40 and r.extra["subsample_fraction"] == pytest.approx(0.1)
    # raw subsample gradients: leapfrog steps plus at most one refresh per iteration
    assert 2 * 50 <= r.grad_evals_sample
    assert r.grad_evals_full_equiv_sample == pytest.approx(0.1 * r.grad_evals_sample)
    proxy = r.extra["proxy_full_grad_evals"]  # Adam steps + gradient and Hessian at the reference
    assert proxy > 0
    assert r.grad_evals_full_equiv_warmup == pytest.approx(0.1 * r.grad_evals_warmup + proxy)
    assert r.grad_evals_warmup >= 2 * (1 + 30)  # init + at least one leapfrog step per warmup iteration


# slow: 300 + 1000 iterations cost twice the short run above, whose counts CI checks
@pytest.mark.slow
def test_hmcecs_recovers_conjugate_posterior():
    post = Posterior(GAUSS_MEAN_PLATE, "synthetic", 400)
    mean, sd = exact_mean_posterior(post.data["y"])
    r = _run(post, "numpyro_hmcecs", warmup=300, samples=1000, subsample_size=40)
    _assert_moments(r.draws["mu"], mean, sd)


def test_hmcecs_refuses_target_without_plate(gaussian_2d):
    with pytest.raises(UsageError, match="plate"):
        _run(gaussian_2d, "numpyro_hmcecs", warmup=10, samples=10)


@pytest.mark.slow  # two NumPyro HMC compiles (13 s); CI runs the vectorized chains everywhere and the fallback below
def test_chain_methods_give_the_same_kind_of_result(gaussian_2d):
    vec = _run(gaussian_2d, "numpyro_hmc", warmup=100, samples=200, num_steps=5)
    seq = _run(gaussian_2d, "numpyro_hmc", warmup=100, samples=200, num_steps=5, chain_method="sequential")
    assert seq.extra["chain_method_used"] == "sequential"
    assert (vec.grad_batch, seq.grad_batch) == (2, 1)  # chains per device gradient batch
    assert seq.draws["x"].shape == vec.draws["x"].shape == (2, 200, 2)
    assert seq.grad_evals_sample == vec.grad_evals_sample == 2 * 200 * 5
    for r in (vec, seq):
        assert np.all(np.abs(r.draws["x"].mean((0, 1)) - GAUSS_MEAN) < 0.5)
    # same keys, same starts, same kernel: vectorized and sequential draws agree to float rounding
    np.testing.assert_allclose(seq.draws["x"][:, :20], vec.draws["x"][:, :20], rtol=1e-3, atol=1e-3)


def test_parallel_without_enough_devices_falls_back_with_a_warning(gaussian_2d):
    with pytest.warns(UserWarning, match="sequentially"):
        r = _run(gaussian_2d, "numpyro_hmc", chains=jax.local_device_count() + 1, warmup=20, samples=20,
                 chain_method="parallel")
    assert r.extra["chain_method_used"] == "sequential" and "devices" in r.extra["chain_method_warning"]
    assert r.grad_batch == 1


@pytest.mark.slow
def test_parallel_on_two_host_devices_matches_vectorized():
    """pmap over 2 forced CPU devices (fresh process: XLA_FLAGS must precede jax's start)."""
    code = textwrap.dedent(
        """
        import jax, numpy as np
        from harness import methods
        from harness.targets import Posterior
        from tests.toys import GAUSSIAN_2D
        post, m = Posterior(GAUSSIAN_2D, "analytic", None), methods.get("numpyro_hmc")
        run = lambda cm: m.run(post, methods.RunConfig(2, 50, 100, m.resolve_options(
            {"chain_method": cm, "num_steps": 5})), jax.random.key(1))
        par, vec = run("parallel"), run("vectorized")
        assert jax.local_device_count() == 2 and par.extra["chain_method_used"] == "parallel"
        np.testing.assert_allclose(par.draws["x"], vec.draws["x"], rtol=1e-3, atol=1e-3)
        """
    )
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)


def test_unknown_option_and_chain_method_are_refused(gaussian_2d):
    with pytest.raises(UsageError, match="valid: .*num_steps"):
        methods.get("numpyro_hmc").resolve_options({"bogus": 1})
    with pytest.raises(UsageError, match="must be one of vectorized, sequential, parallel"):
        _run(gaussian_2d, "numpyro_sa", warmup=10, samples=10, chain_method="threads")


def test_hmcecs_proxy_map_takes_the_data_as_an_argument(monkeypatch):
    """The MAP fit for the Taylor proxy: data are a jit argument (not embedded constants); it finds the MAP."""
    from harness.methods import numpyro_mcmc

    post = Posterior(GAUSS_MEAN_PLATE, "synthetic", 2000)
    compiled_with = []
    real = numpyro_mcmc.compile_timed
    monkeypatch.setattr(numpyro_mcmc, "compile_timed", lambda f, *args: compiled_with.append(args) or real(f, *args))
    z, _, _ = numpyro_mcmc._map_estimate(post, post.initial_positions(jax.random.key(0), 1)[0], 300, 0.05)
    (args,) = compiled_with
    assert any(getattr(a, "shape", None) == (2000,) for a in jax.tree.leaves(args))
    assert float(z[0]) == pytest.approx(exact_mean_posterior(post.data["y"])[0], abs=1e-3)
