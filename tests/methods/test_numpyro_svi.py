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
from harness.methods.numpyro_svi import converged
from harness.targets import Layout, Param, Posterior, Target
from tests.conftest import GAUSS_COV, GAUSS_MEAN, GAUSSIAN_2D

FAST = {"learning_rate": 0.02, "num_particles": 4, "window": 250, "max_steps": 5000, "tol": 2e-3}
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
    """sample_s is every optimisation chunk plus the draw, each recorded for the replays."""
    from harness import timing

    with timing.recording_runs() as runs:
        r = _run(gaussian_2d, "svi_autonormal", tol=1e-12, max_steps=750, window=250)
    calls = [c for c in runs if c.phase == "sample"]
    assert len(calls) == 3 + 1  # three chunks of 250 steps, then the draw
    assert math.isclose(sum(c.seconds for c in calls), r.sample_s, rel_tol=1e-9)
    assert r.grad_evals_sample == 750 * FAST["num_particles"]
    replay = timing.sampling_call(runs)
    assert replay() > 0 and len(calls) == len([c for c in runs if c.phase == "sample"])


def test_convergence_rule():
    assert converged(-100.0, -100.05, 1e-3) and not converged(-100.0, -100.5, 1e-3)
    assert converged(0.0, 5e-4, 1e-3) and not converged(0.0, 5e-2, 1e-3)  # floor of 1 near 0


def test_autodelta_row_reports_a_point_and_no_ess(monkeypatch):
    monkeypatch.setitem(targets._REGISTRY, GAUSSIAN_2D.name, GAUSSIAN_2D)
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
