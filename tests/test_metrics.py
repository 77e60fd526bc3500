import numpy as np
import pytest

from harness import metrics


def _ar1(rho, chains=4, draws=5000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.empty((chains, draws))
    x[:, 0] = rng.standard_normal(chains) / np.sqrt(1 - rho**2)
    eps = rng.standard_normal((chains, draws))
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + eps[:, t]
    return x


def test_ess_bulk_of_iid_draws_is_close_to_their_number():
    x = np.random.default_rng(0).standard_normal((4, 2000))
    assert 0.85 * 8000 < metrics.ess_bulk(x) < 1.15 * 8000
    assert 0.85 * 8000 < metrics.ess_tail(x) < 1.2 * 8000


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_ess_bulk_of_ar1_matches_theory(rho):
    x = _ar1(rho)
    expected = x.size * (1 - rho) / (1 + rho)
    assert abs(metrics.ess_bulk(x) / expected - 1) < 0.15


def test_rhat_flags_chains_that_disagree():
    x = np.random.default_rng(0).standard_normal((4, 1000))
    assert metrics.rhat(x) < 1.01
    x[0] += 3.0
    assert metrics.rhat(x) > 1.1


def test_summarize_takes_min_ess_and_max_rhat_over_coordinates():
    rng = np.random.default_rng(1)
    z = np.stack([rng.standard_normal((4, 1000)), _ar1(0.9, draws=1000)], axis=-1)
    s = metrics.summarize(z)
    assert s["min_ess_bulk"] == pytest.approx(metrics.ess_bulk(z[..., 1]))
    assert s["max_rhat"] == pytest.approx(max(metrics.rhat(z[..., 0]), metrics.rhat(z[..., 1])))
    assert s["converged"] is False  # ESS of the AR(1) coordinate is below 400


def test_summarize_gives_nan_not_numbers_for_non_finite_draws():
    z = np.zeros((2, 50, 3))
    z[0, 3, 1] = np.nan
    s = metrics.summarize(z)
    assert np.isnan(s["min_ess_bulk"]) and s["converged"] is False


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(chain, draw\)"):
        metrics.ess_bulk(np.zeros(10))
