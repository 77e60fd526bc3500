import numpy as np
import pytest

from harness import targets
from tests.targets.helpers import assert_density_matches_model


def test_flat_density_matches_numpyro_model():
    assert_density_matches_model("linear_regression_conjugate", "d6", 80)


@pytest.mark.parametrize("dataset,n", [("d3", 20), ("d12", 500)])
def test_reference_is_the_exact_posterior(dataset, n):
    """Against an independent computation: ridge least squares on the augmented system, SVD covariance."""
    t = targets.get("linear_regression_conjugate")
    data = t.make_data(dataset, n, 0)
    X, y = data["X"].astype(np.float64), data["y"].astype(np.float64)
    d = X.shape[1]
    # y = X b + e (sd 1) and 0 = I b + f (sd 1, the prior) stacked: posterior = least-squares solution
    A = np.vstack([X, np.eye(d)])
    b = np.concatenate([y, np.zeros(d)])
    mean = np.linalg.lstsq(A, b, rcond=None)[0]
    pinv = np.linalg.pinv(A)
    sd = np.sqrt(np.diag(pinv @ pinv.T))
    ref = t.reference(dataset, n)
    np.testing.assert_allclose(ref.mean["beta"], mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ref.sd["beta"], sd, rtol=1e-8)


def test_reference_only_for_data_seed_zero():
    t = targets.get("linear_regression_conjugate")
    assert targets.Posterior(t, "d3", 20, data_seed=0).reference() is not None
    assert targets.Posterior(t, "d3", 20, data_seed=1).reference() is None
