import jax
import numpy as np

from harness import methods, metrics
from tests.conftest import GAUSS_COV, GAUSS_MEAN


def test_handrolled_hmc_recovers_correlated_gaussian(gaussian_2d):
    """Mean within 4 MCSE and covariance within 10 % of the truth."""
    m = methods.get("handrolled_hmc")
    cfg = methods.RunConfig(4, 300, 2000, m.resolve_options({"step_size": 0.3, "num_steps": 8}))
    r = m.run(gaussian_2d, cfg, jax.random.key(0))
    x = r.draws["x"]  # (chain, draw, 2)
    assert x.shape == (4, 2000, 2)
    for i in range(2):
        ess = metrics.ess_bulk(x[..., i])
        mcse = np.sqrt(GAUSS_COV[i, i] / ess)
        assert abs(x[..., i].mean() - GAUSS_MEAN[i]) < 4 * mcse
    cov = np.cov(x.reshape(-1, 2).T)
    np.testing.assert_allclose(cov, GAUSS_COV, rtol=0.1, atol=0.05)
    assert r.grad_evals_sample == 4 * 2000 * (8 + 1)  # L + 1 gradients per iteration
    assert r.grad_evals_warmup == 4 * 300 * 9
    assert r.compile_s > 0 and r.sample_s > 0 and 0.5 < r.accept_rate <= 1.0
