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


def _normal_draws(mean, sd, chains=4, draws=2000, seed=0):
    rng = np.random.default_rng(seed)
    return mean + sd * rng.standard_normal((chains, draws, len(mean)))


REF_MEAN = {"a": np.array([1.0, -2.0, 0.5]), "b": np.array(3.0)}
REF_SD = {"a": np.array([1.0, 0.1, 5.0]), "b": np.array(2.0)}


def _draws(shift=0.0, scale=1.0, seed=0):
    a = _normal_draws(REF_MEAN["a"] + shift * REF_SD["a"], scale * REF_SD["a"], seed=seed)
    b = _normal_draws(np.atleast_1d(REF_MEAN["b"]), np.atleast_1d(REF_SD["b"]), seed=seed + 1)[..., 0]
    return {"a": a, "b": b}


def test_accuracy_of_exact_draws_is_small_and_not_flagged():
    acc = metrics.accuracy(_draws(), REF_MEAN, REF_SD)
    # 8000 iid draws: Monte Carlo error of each mean about 0.011 sd, of each sd about 0.008 sd
    assert acc["z_mean_max"] < 0.05 and acc["z_sd_max"] < 0.05
    assert acc["bias2_mean"] < 0.05**2 and acc["bias2_max"] == pytest.approx(acc["z_mean_max"] ** 2)
    assert acc["inaccurate"] is False


def test_accuracy_of_biased_draws_is_large_and_flagged():
    shifted = metrics.accuracy(_draws(shift=0.5), REF_MEAN, REF_SD)
    assert shifted["z_mean_max"] == pytest.approx(0.5, abs=0.05)
    # three of four coordinates shifted by 0.5 sd: mean squared bias about 3/4 * 0.25
    assert shifted["bias2_mean"] == pytest.approx(0.75 * 0.25, abs=0.03)
    assert shifted["inaccurate"] is True
    wide = metrics.accuracy(_draws(scale=1.5), REF_MEAN, REF_SD)
    assert wide["z_sd_max"] == pytest.approx(0.5, abs=0.05) and wide["z_mean_max"] < 0.1
    assert wide["inaccurate"] is True


def test_accuracy_without_reference_is_empty_never_zero():
    for acc in (metrics.accuracy(_draws(), None, None), metrics.accuracy(_draws(), {"zz": [0.0]}, {"zz": [1.0]})):
        assert all(np.isnan(acc[k]) for k in ("z_mean_max", "z_sd_max", "bias2_mean", "bias2_max"))
        assert acc["inaccurate"] is None


def test_accuracy_of_non_finite_draws_is_flagged():
    d = _draws()
    d["a"][0, 0, 0] = np.nan
    acc = metrics.accuracy(d, REF_MEAN, REF_SD)
    assert np.isnan(acc["z_mean_max"]) and acc["inaccurate"] is True


def test_accuracy_rejects_a_reference_of_the_wrong_size():
    with pytest.raises(ValueError, match="coordinates"):
        metrics.accuracy(_draws(), {"a": [0.0, 1.0]}, {"a": [1.0, 1.0]})


def test_moments_mean_sd_and_standard_error():
    z = _normal_draws(np.array([2.0, -1.0]), np.array([1.0, 3.0]), draws=3000)
    m = metrics.moments(z)
    np.testing.assert_allclose(m["mean"], z.reshape(-1, 2).mean(0))
    np.testing.assert_allclose(m["sd"], z.reshape(-1, 2).std(0, ddof=1))
    assert np.all(np.abs(m["ess_mean"] / 12000 - 1) < 0.15) and np.all(m["rhat"] < 1.01)
    # iid Gaussian draws: se(sd) = sd / sqrt(2 N)
    np.testing.assert_allclose(m["mcse_sd"], m["sd"] / np.sqrt(2 * 12000), rtol=0.15)


def test_the_sd_error_widens_for_skewed_draws():
    """Gamma(0.5) draws (kurtosis 15): se(sd) = sd sqrt((kurtosis - 1) / 4N), sqrt(7) = 2.65 times the
    Gaussian sd / sqrt(2N), with which an sd gate would refuse two correct samplers."""
    z = np.random.default_rng(3).gamma(0.5, 2.0, size=(4, 5000, 1))
    m = metrics.moments(z)
    gaussian = m["sd"] / np.sqrt(2 * 20000)
    assert np.all(m["mcse_sd"] > 2.2 * gaussian) and np.all(m["mcse_sd"] < 3.1 * gaussian)


def test_a_stuck_coordinate_is_not_dropped_from_the_summary():
    """A coordinate that never moves has an undefined R-hat: the run is not converged."""
    rng = np.random.default_rng(2)
    z = np.stack([rng.standard_normal((4, 1000)), np.full((4, 1000), 0.5)], axis=-1)
    s = metrics.summarize(z)
    assert np.isnan(s["max_rhat"]) and s["converged"] is False


def test_lockstep_factor_is_the_longest_trajectory_over_the_mean_per_iteration():
    # two chains, two transitions: (1, 3) then (3, 3) steps; lockstep pays 3 + 3 = 6 for 2 + 3 = 5 of mean work
    assert metrics.lockstep_factor(np.array([[1, 3], [3, 3]])) == pytest.approx(6 / 5)
    assert metrics.lockstep_factor(np.full((4, 10), 7)) == 1.0  # fixed L (HMC): nothing to wait for
    assert metrics.lockstep_factor(np.array([[2, 9, 4]])) == 1.0  # one chain waits for nobody
