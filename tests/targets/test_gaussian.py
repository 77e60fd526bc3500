import jax
import numpy as np
import pytest

from harness import targets
from tests.targets.helpers import assert_density_matches_model


@pytest.mark.parametrize("dataset", ["d1_c1", "d10_c100", "d50_c10000"])
def test_flat_density_matches_numpyro_model(dataset):
    assert_density_matches_model("ill_conditioned_gaussian", dataset, None, rtol=2e-5)


@pytest.mark.parametrize("d,c", [(10, 100), (30, 1000)])
def test_reference_and_condition_number_are_the_math(d, c):
    """From the density alone: the Hessian is -Sigma^-1 (condition number K), the gradient vanishes at the mean."""
    t = targets.get("ill_conditioned_gaussian")
    dataset = f"d{d}_c{c}"
    post = targets.Posterior(t, dataset, None)
    ref = t.reference(dataset, None)
    H = np.asarray(jax.hessian(post.log_density)(np.asarray(ref.mean["x"], np.float32)), np.float64)
    cov = np.linalg.inv(-H)
    eig = np.linalg.eigvalsh(cov)
    assert eig.max() / eig.min() == pytest.approx(c, rel=0.02)
    np.testing.assert_allclose(ref.sd["x"], np.sqrt(np.diag(cov)), rtol=0.02)
    grad = np.asarray(jax.grad(post.log_density)(np.asarray(ref.mean["x"], np.float32)))
    assert np.max(np.abs(grad)) < 1e-2 * np.max(np.abs(H))
