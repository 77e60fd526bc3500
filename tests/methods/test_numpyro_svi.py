"""NumPyro SVI adapters: each guide recovers what its family can of a known Gaussian; AutoDelta is a point."""

from __future__ import annotations

import math

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.distributions import constraints

from harness import UsageError, cell, methods, targets, worker
from harness.methods.numpyro_svi import Fit, converged, shift
from harness.targets import Layout, Param, Posterior, Target
from tests.toys import GAUSS_COV, GAUSS_MEAN, GAUSSIAN_2D

FAST = {"learning_rate": 0.02, "num_particles": 4, "window": 250, "max_steps": 5000, "tol": 0.1}
NUM_DRAWS = 2000  # 2 chains x 1000 independent draws: mean error sd <= sqrt(2 / 2000) = 0.03


def _run(posterior, name, **opts):
    m = methods.get(name)
    config = methods.RunConfig(2, 0, NUM_DRAWS // 2, m.resolve_options({**FAST, **opts}))
    return m.run(posterior, config, jax.random.key(3))


@pytest.mark.parametrize("name", ["svi_autonormal", "svi_automvn", "svi_autolowrank", "svi_autolaplace"])
def test_guide_recovers_mean_and_what_its_family_can_of_the_covariance(gaussian_2d, name):
    r = _run(gaussian_2d, name)
    x = r.draws["x"]
    assert x.shape == (2, NUM_DRAWS // 2, 2)
    np.testing.assert_allclose(x.mean((0, 1)), GAUSS_MEAN, atol=0.15)
    cov = np.cov(x.reshape(-1, 2).T)
    if name == "svi_autonormal":
        # mean-field KL(q||p) optimum: independent, var_i = 1 / (Sigma^-1)_ii (below the true variances)
        np.testing.assert_allclose(np.diag(cov), 1 / np.diag(np.linalg.inv(GAUSS_COV)), rtol=0.2)
        assert abs(cov[0, 1]) < 0.1
    else:
        np.testing.assert_allclose(cov, GAUSS_COV, rtol=0.2, atol=0.1)
    hessian = gaussian_2d.dim if name == "svi_autolaplace" else 0  # the Laplace covariance: dim gradient-equivalents
    assert r.grad_evals_sample == r.extra["opt_steps"] * FAST["num_particles"] + hessian and r.grad_evals_warmup == 0
    assert r.grad_batch == FAST["num_particles"]
    assert r.extra["opt_steps"] % FAST["window"] == 0 and r.extra["opt_steps"] <= FAST["max_steps"]
    assert math.isfinite(r.extra["elbo"]) and r.compile_s > 0 and r.warmup_s == 0 and r.sample_s > 0


def test_step_cap_stops_an_unconverged_run(gaussian_2d):
    r = _run(gaussian_2d, "svi_autonormal", tol=1e-12, max_steps=600, window=200)
    assert r.extra["opt_steps"] == 600 and r.opt_converged is False


def test_the_timed_loop_is_the_fit_and_the_draw(gaussian_2d):
    """sample_s is every optimisation chunk plus the draw, each carried in the result's loop for the replays."""
    r = _run(gaussian_2d, "svi_autonormal", tol=1e-12, max_steps=750, window=250)
    calls = r.loop.args  # the chained pieces, in order
    assert len(calls) == 3 + 1  # three chunks of 250 steps, then the draw
    assert math.isclose(sum(c.seconds for c in calls), r.sample_s, rel_tol=1e-9) and r.loop.seconds == r.sample_s
    assert r.grad_evals_sample == 750 * FAST["num_particles"]
    assert r.loop() > 0


def test_convergence_rule():
    """Means in sds of the newer fit, sds as log ratios, a point's loss in nats (tol^2 / 2)."""
    loc, sd = np.array([0.0, 10.0]), np.array([1.0, 0.01])
    assert converged(Fit(0.0, loc, sd), Fit(0.0, loc + [0.05, 0.0005], sd * 1.05), 0.1)
    assert not converged(Fit(0.0, loc, sd), Fit(0.0, loc + [0.0, 0.002], sd), 0.1)  # 0.2 of the small sd
    assert not converged(Fit(0.0, loc, sd), Fit(0.0, loc, sd * [1.0, 1.2]), 0.1)  # an sd still shrinking
    assert math.isclose(shift(Fit(0.0, loc, sd), Fit(0.0, loc + [0.3, 0.0], sd)), 0.3)
    assert converged(Fit(-1e6), Fit(-1e6 + 0.004), 0.1) and not converged(Fit(-1e6), Fit(-1e6 + 0.01), 0.1)
    # the loss's size does not matter: the rule does not loosen as N (and the ELBO) grows
    assert not converged(Fit(-1e8), Fit(-1e8 + 1.0), 0.1)


def _conjugate(n):
    post = Posterior(targets.get("linear_regression_conjugate"), "d10", n)
    return post, post.reference()


def test_automvn_ends_within_a_tenth_of_a_posterior_sd_of_the_exact_mean():
    """The conjugate regression: the full-rank Gaussian family holds the posterior, so a converged fit
    is within Monte Carlo error of it (issue: within 0.1 sd), at the defaults."""
    post, ref = _conjugate(2000)
    m = methods.get("svi_automvn")
    r = m.run(post, methods.RunConfig(4, 0, 1000, m.resolve_options({})), jax.random.key(0))
    assert r.opt_converged is True and r.extra["opt_shift"] < 0.1
    beta = r.draws["beta"].reshape(-1, 10)
    z_mean = np.abs(beta.mean(0) - ref.mean["beta"]) / ref.sd["beta"]
    z_sd = np.abs(beta.std(0) / ref.sd["beta"] - 1)
    assert z_mean.max() < 0.1 and z_sd.max() < 0.1, (z_mean, z_sd)


def test_the_rule_does_not_fire_early_at_large_n():
    """At N = 1e5 the guide's sds still shrink after 7,500 steps: not converged (the old relative-ELBO
    rule fired there with means many sds off)."""
    post, _ = _conjugate(100_000)
    m = methods.get("svi_autonormal")
    r = m.run(post, methods.RunConfig(2, 0, 100, m.resolve_options({"max_steps": 7500})), jax.random.key(0))
    assert r.opt_converged is False and r.extra["opt_steps"] == 7500 and r.extra["opt_shift"] > 0.1


def test_autodelta_row_reports_a_point_and_no_ess(monkeypatch):
    monkeypatch.setitem(targets.REGISTRY.entries, GAUSSIAN_2D.name, GAUSSIAN_2D)
    c = cell.validate(cell.Cell(GAUSSIAN_2D.name, "analytic", None, "svi_autodelta", dict(FAST),
                                num_chains=2, num_warmup=0, num_samples=50))
    row = worker.run_cell(c)
    assert row["status"] == "ok", row["error"]
    assert row["x_point_estimate"] is True and "point estimate" in row["no_ess_reason"]
    for col in ("min_ess_bulk", "min_ess_tail", "max_rhat", "ess_per_s", "ess_per_grad"):
        assert math.isnan(row[col]), col
    assert row["x_opt_steps"] > 0 and row["grad_evals"] == row["x_opt_steps"] * FAST["num_particles"]


def test_autodelta_draws_are_the_mode(gaussian_2d):
    r = _run(gaussian_2d, "svi_autodelta", learning_rate=0.05, num_particles=1)
    assert r.point_estimate is True
    np.testing.assert_allclose(r.draws["x"], np.broadcast_to(GAUSS_MEAN, r.draws["x"].shape), atol=0.02)


def _unbounded_model():
    numpyro.sample("s", dist.Gamma(0.5, 0.5))  # density s^(-1/2) e^(-s/2): no mode, MAP runs to 0


UNBOUNDED_MAP = Target(
    name="test_unbounded_map",
    description="Gamma(1/2, 1/2): its constrained density has no maximum (tests only)",
    source="tests/methods/test_numpyro_svi.py",
    model=_unbounded_model,
    datasets={"analytic": None},
    make_data=lambda dataset, n, seed=0: {},
    layout=lambda data: Layout((Param("s", (), constraints.positive),)),
)


def test_divergent_optimisation_stops_early_and_says_so():
    post = Posterior(UNBOUNDED_MAP, "analytic", None)
    r = _run(post, "svi_autodelta", learning_rate=1.0, num_particles=1, window=50, max_steps=20000)
    assert r.extra["opt_steps"] < 20000 and not math.isfinite(r.extra["elbo"])
    assert r.opt_converged is False


def test_unknown_option_is_refused():
    with pytest.raises(UsageError, match="valid: .*learning_rate.*window"):
        methods.get("svi_automvn").resolve_options({"lr": 0.1})
    assert methods.get("svi_autolowrank").family == "vi"
