"""posteriordb targets: data and layout against the reference, density by hand, NUTS against the figures.

The independent densities below are written with scipy.stats from MODELS.md,
with the unconstraining transforms and their log-Jacobians by hand (log for
positive, logit for (0, 1), Stan's ordered transform), so they share nothing
with NumPyro's distributions or transforms but the coordinate order.

NUTS tolerance: for each reference coordinate,
|mean - ref mean| < K_TOL * sqrt(ref sd^2 / ESS + ref mcse^2), ESS our run's bulk ESS.
K_TOL = 4 keeps the false-alarm rate near 1e-4 per coordinate (a few hundred
coordinates over the suite) while a wrong model shifts means by far more.
CI runs NUTS (2 chains x 500 warmup / 500 draws) on two quick posteriors; the
other eight run with ``pytest -m slow tests/targets/test_posteriordb.py``
(diamonds alone takes minutes: NUTS saturates its tree depth there).
"""

from __future__ import annotations

import contextlib
import functools
from importlib import resources

import jax
import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, log_expit

from harness import methods, metrics, targets
from harness.targets import posteriordb

K_TOL = 4.0
NAMES = [s.name for s in posteriordb.SPECS]
NEEDS_X64 = {"gp_pois_regr-gp_pois_regr"}
CI_NUTS = ["eight_schools-eight_schools_noncentered"]  # the others: test_nuts_matches_reference_slow


def _precision(name):
    """float64 where the model needs it (gp_pois_regr's Cholesky), the default float32 elsewhere."""
    return jax.enable_x64(True) if name in NEEDS_X64 else contextlib.nullcontext()


@functools.cache
def _posterior(name):
    """One bound posterior per name (its data are float64 numpy: JAX casts them to the active precision)."""
    return targets.Posterior(targets.get(name), "posteriordb", None)


# ---------------------------------------------------------------------------
# Independent log densities from the raw data.json: u = unconstrained values by site name


def _pos(u):
    """x = exp(u) and log|dx/du|."""
    return np.exp(u), u


def _unit(u):
    """x = logistic(u) and log|dx/du|."""
    return expit(u), log_expit(u) + log_expit(-u)


def _normal_lik(y, mean, sigma):
    return stats.norm.logpdf(y, mean, sigma).sum()


def _a(raw, key):
    return np.asarray(raw[key], dtype=np.float64)


def _eight_schools(u, d):
    tau, jac = _pos(u["tau"])
    theta = u["mu"] + tau * u["theta_trans"]
    prior = stats.norm.logpdf(u["theta_trans"]).sum() + stats.norm.logpdf(u["mu"], 0, 5)
    prior += stats.halfcauchy.logpdf(tau, scale=5) + jac
    return prior + _normal_lik(_a(d, "y"), theta, _a(d, "sigma"))


def _sblrc(u, d):
    sigma, jac = _pos(u["sigma"])
    prior = stats.norm.logpdf(u["beta"], 0, 10).sum() + stats.halfnorm.logpdf(sigma, scale=10) + jac
    return prior + _normal_lik(_a(d, "y"), _a(d, "X") @ u["beta"], sigma)


def _kidiq(u, d):
    sigma, jac = _pos(u["sigma"])
    b = u["beta"]
    lik = _normal_lik(_a(d, "kid_score"), b[0] + b[1] * _a(d, "mom_iq"), sigma)
    return stats.halfcauchy.logpdf(sigma, scale=2.5) + jac + lik


def _earnings(u, d):
    sigma, jac = _pos(u["sigma"])
    b, h, m = u["beta"], _a(d, "height"), _a(d, "male")
    return jac + _normal_lik(np.log(_a(d, "earn")), b[0] + b[1] * h + b[2] * m + b[3] * h * m, sigma)


def _ark(u, d):
    sigma, jac = _pos(u["sigma"])
    y, K, beta = _a(d, "y"), int(d["K"]), u["beta"]
    mean = [u["alpha"] + sum(beta[k - 1] * y[t - k] for k in range(1, K + 1)) for t in range(K, len(y))]
    prior = stats.norm.logpdf(u["alpha"], 0, 10) + stats.norm.logpdf(beta, 0, 10).sum()
    return prior + stats.halfcauchy.logpdf(sigma, scale=2.5) + jac + _normal_lik(y[K:], np.array(mean), sigma)


def _garch(u, d):
    """Flat on the region; beta1 = (1 - alpha1) logistic(u4), Jacobian log(1 - alpha1) + logistic terms."""
    alpha0, j0 = _pos(u["alpha0"])
    alpha1, j1 = _unit(u["alpha1"])
    s, j2 = _unit(u["beta1_raw"])
    beta1 = (1 - alpha1) * s
    y, mu = _a(d, "y"), u["mu"]
    var = [float(d["sigma1"]) ** 2]
    for t in range(1, len(y)):
        var.append(alpha0 + alpha1 * (y[t - 1] - mu) ** 2 + beta1 * var[-1])
    return j0 + j1 + j2 + np.log1p(-alpha1) + _normal_lik(y, mu, np.sqrt(var))


def _diamonds(u, d):
    X = _a(d, "X")[:, 1:]
    Xc = X - X.mean(axis=0)  # centred by hand from the raw file
    sigma, jac = _pos(u["sigma"])
    prior = stats.norm.logpdf(u["b"]).sum() + stats.t.logpdf(u["Intercept"], 3, 8, 10)
    prior += np.log(2) + stats.t.logpdf(sigma, 3, 0, 10) + jac
    return prior + _normal_lik(_a(d, "Y"), u["Intercept"] + Xc @ u["b"], sigma)


def _gauss_mix(u, d):
    mu = np.array([u["mu"][0], u["mu"][0] + np.exp(u["mu"][1])])
    sigma, js = _pos(u["sigma"])
    theta, jt = _unit(u["theta"])
    prior = stats.norm.logpdf(mu, 0, 2).sum() + u["mu"][1]
    prior += stats.halfnorm.logpdf(sigma, scale=2).sum() + js.sum() + stats.beta.logpdf(theta, 5, 5) + jt
    y = _a(d, "y")
    lik = np.logaddexp(
        np.log(theta) + stats.norm.logpdf(y, mu[0], sigma[0]),
        np.log1p(-theta) + stats.norm.logpdf(y, mu[1], sigma[1]),
    )
    return prior + lik.sum()


def _gp(u, d):
    rho, jr = _pos(u["rho"])
    alpha, ja = _pos(u["alpha"])
    x = _a(d, "x")
    K = alpha**2 * np.exp(-np.subtract.outer(x, x) ** 2 / (2 * rho**2)) + 1e-10 * np.eye(len(x))
    f = np.linalg.cholesky(K) @ u["f_tilde"]
    prior = stats.gamma.logpdf(rho, 25, scale=1 / 4) + jr + stats.halfnorm.logpdf(alpha, scale=2) + ja
    return prior + stats.norm.logpdf(u["f_tilde"]).sum() + stats.poisson.logpmf(_a(d, "k"), np.exp(f)).sum()


def _mesquite(u, d):
    sigma, jac = _pos(u["sigma"])
    log_volume = np.log(_a(d, "diam1") * _a(d, "diam2") * _a(d, "canopy_height"))
    return jac + _normal_lik(np.log(_a(d, "weight")), u["beta"][0] + u["beta"][1] * log_volume, sigma)


HAND = {
    "eight_schools-eight_schools_noncentered": _eight_schools,
    "sblrc-blr": _sblrc,
    "kidiq-kidscore_momiq": _kidiq,
    "earnings-logearn_interaction": _earnings,
    "arK-arK": _ark,
    "garch-garch11": _garch,
    "diamonds-diamonds": _diamonds,
    "low_dim_gauss_mix-low_dim_gauss_mix": _gauss_mix,
    "gp_pois_regr-gp_pois_regr": _gp,
    "mesquite-logmesquite_logvolume": _mesquite,
}


def _near_reference(post, ref):
    """Unconstrained point at the reference means of the sampled sites (zeros for the others)."""
    u = {}
    for p in post.layout.params:
        if p.name in ref.mean:
            u[p.name] = np.asarray(p.transform.inv(ref.mean[p.name]))
        else:
            u[p.name] = np.zeros(p.unconstrained_shape)
    return post.layout.flatten(u)


# ---------------------------------------------------------------------------


def test_all_packaged_posteriors_are_registered_with_licence_notice():
    root = resources.files("harness").joinpath("references", "posteriordb")
    packaged = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert packaged == sorted(NAMES) and len(NAMES) == 10
    assert set(NAMES) <= set(targets.names())
    notice = root.joinpath("README.md").read_text(encoding="utf-8")
    assert "BSD 3-Clause" in notice and "posteriordb" in notice
    for name in NAMES:
        assert "posteriordb" in targets.get(name).source and name in targets.get(name).source


@pytest.mark.parametrize("name", NAMES)
def test_loads_and_layout_matches_reference(name):
    ref_json = posteriordb.load_json(name, "reference.json")
    with _precision(name):
        post = _posterior(name)
        ref = post.target.reference("posteriordb", None)
        assert post.layout.dim == ref_json["unconstrained_dim"]
        z = post.initial_positions(jax.random.key(0), 4)
        assert np.all(np.isfinite(np.asarray(jax.jit(jax.vmap(post.log_density))(z))))
        draws = post.layout.constrain(np.asarray(z)[None])  # (chain 1, draw 4, dim)
    flat_names = []
    for site, p in ref_json["parameters"].items():
        shape = tuple(p["shape"])
        assert draws[site].shape == (1, 4) + shape, site
        assert np.all(np.isfinite(draws[site])), site
        for record in (ref.mean, ref.sd, ref.se_mean):
            assert record[site].shape == shape
        flat_names += [site] if shape == () else [f"{site}[{i + 1}]" for i in range(shape[0])]
    assert flat_names == ref_json["flat_names_posteriordb_order"]
    assert set(ref.mean) == set(ref_json["parameters"])
    np.testing.assert_array_equal(ref.mean[site], np.reshape(p["mean"], shape))
    np.testing.assert_array_equal(ref.se_mean[site], np.reshape(p["mcse_mean"], shape))
    # constrain / unconstrain round trip over the sampled sites
    np.testing.assert_allclose(post.layout.unconstrain(draws), np.asarray(z)[None], atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_log_density_matches_independent_scipy(name):
    raw = posteriordb.load_json(name, "data.json")
    with jax.enable_x64(True):
        post = _posterior(name)
        ref = post.target.reference("posteriordb", None)
        random = np.asarray(post.initial_positions(jax.random.key(3), 2))
        zs = np.concatenate([random, _near_reference(post, ref)[None]])
        got = np.asarray(jax.jit(jax.vmap(post.log_density))(zs))
    for z, value in zip(zs, got):
        u = {k: np.asarray(v, np.float64) for k, v in post.layout.unflatten(z).items()}
        expected = HAND[name](u, raw)
        np.testing.assert_allclose(value, expected, rtol=1e-9, atol=1e-6)


def test_constrained_supports():
    """garch: 0 < beta1 < 1 - alpha1; the mixture's means come out ordered."""
    garch = _posterior("garch-garch11")
    d = garch.layout.constrain(6.0 * np.asarray(garch.initial_positions(jax.random.key(1), 50)))
    assert np.all(d["beta1"] > 0) and np.all(d["beta1"] < 1 - d["alpha1"])
    mix = _posterior("low_dim_gauss_mix-low_dim_gauss_mix")
    mu = mix.layout.constrain(np.asarray(mix.initial_positions(jax.random.key(1), 50)))["mu"]
    assert np.all(mu[:, 0] < mu[:, 1])


def test_unknown_dataset_and_size_refused():
    t = targets.get("arK-arK")
    with pytest.raises(ValueError, match="fixed size 200"):
        t.resolve_size("posteriordb", 1000)
    with pytest.raises(ValueError, match="valid: posteriordb"):
        t.make_data("synthetic", None, 0)


# ---------------------------------------------------------------------------
# NUTS against the reference figures


def _nuts_z_scores(name, num_warmup=500, num_samples=500, seed=0):
    """Per reference coordinate z = (mean - ref) / sqrt(ref_sd^2 / ESS + mcse^2), after 2 NUTS chains."""
    m = methods.get("numpyro_nuts")
    with _precision(name):
        post = _posterior(name)
        config = methods.RunConfig(2, num_warmup, num_samples, m.resolve_options({}))
        r = m.run(post, config, jax.random.key(seed))
    ref = post.target.reference("posteriordb", None)
    z = {}
    for site in ref.mean:
        draws = r.draws[site].reshape(r.draws[site].shape[:2] + (-1,))
        moments = zip(ref.mean[site].ravel(), ref.sd[site].ravel(), ref.se_mean[site].ravel())
        for i, (mean, sd, se) in enumerate(moments):
            ess = metrics.ess_bulk(draws[..., i])
            z[f"{site}[{i}]"] = (draws[..., i].mean() - mean) / np.sqrt(sd**2 / ess + se**2)
    return z


def _check_within_tolerance(name):
    z = _nuts_z_scores(name)
    bad = {k: round(float(v), 2) for k, v in z.items() if not abs(v) < K_TOL}
    assert not bad, f"{name}: |z| >= {K_TOL} at {bad}"


@pytest.mark.parametrize("name", CI_NUTS)
def test_nuts_matches_reference_ci_subset(name):
    _check_within_tolerance(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if n not in CI_NUTS])
def test_nuts_matches_reference_slow(name):
    _check_within_tolerance(name)
