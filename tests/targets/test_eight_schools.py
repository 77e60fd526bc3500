import jax
import numpy as np
import pytest

from harness import methods, targets
from tests.targets.helpers import assert_density_matches_model


@pytest.mark.parametrize("name", ["eight_schools_centered", "eight_schools_noncentered"])
def test_flat_density_matches_numpyro_model(name):
    post = assert_density_matches_model(name, "eight_schools", None, radius=3.0)
    assert post.dim == 10 and post.n == 8


def test_noncentered_is_a_reparametrisation_of_centered():
    """log p_nc(mu, log tau, eta) = log p_c(mu, log tau, mu + tau eta) + 8 log tau (Jacobian of theta)."""
    c = targets.Posterior(targets.get("eight_schools_centered"), "eight_schools", None)
    nc = targets.Posterior(targets.get("eight_schools_noncentered"), "eight_schools", None)
    z = np.asarray(nc.initial_positions(jax.random.key(3), 5))
    tau = np.exp(z[:, 1:2])
    zc = np.concatenate([z[:, :2], z[:, :1] + tau * z[:, 2:]], axis=1)
    lhs = np.asarray(jax.vmap(nc.log_density)(z))
    rhs = np.asarray(jax.vmap(c.log_density)(zc)) + 8 * z[:, 1]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5)


@pytest.mark.slow  # a statistical check (NUTS on the funnel-shaped centred form), long
def test_nuts_diverges_on_the_centered_form():
    post = targets.Posterior(targets.get("eight_schools_centered"), "eight_schools", None)
    nuts = methods.get("numpyro_nuts")
    config = methods.RunConfig(2, 300, 300, nuts.resolve_options({}))
    result = nuts.run(post, config, jax.random.key(0))
    assert result.divergences > 0


def test_centered_reference_is_the_noncentered_ones_theta():
    c, nc = targets.get("eight_schools_centered"), targets.get("eight_schools_noncentered")
    ref_nc = targets.Posterior(nc, "eight_schools", None).reference()
    ref_c = targets.Posterior(c, "eight_schools", None).reference()
    assert ref_nc is not None, "the eight_schools_noncentered reference ships with the package"
    assert set(ref_c.mean) == {"mu", "tau", "theta"} and ref_c.mean["theta"].shape == (8,)
    np.testing.assert_array_equal(ref_c.sd["theta"], ref_nc.sd["theta"])
