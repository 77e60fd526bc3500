import jax
import numpy as np

from harness import methods, metrics
from tests.toys import GAUSS_COV, GAUSS_MEAN


def test_numpyro_nuts_recovers_correlated_gaussian(gaussian_2d):
    m = methods.get("numpyro_nuts")
    r = m.run(gaussian_2d, methods.RunConfig(2, 300, 1000, m.resolve_options({})), jax.random.key(1))
    x = r.draws["x"]
    assert x.shape == (2, 1000, 2)
    for i in range(2):
        mcse = np.sqrt(GAUSS_COV[i, i] / metrics.ess_bulk(x[..., i]))
        assert abs(x[..., i].mean() - GAUSS_MEAN[i]) < 4 * mcse
    np.testing.assert_allclose(np.cov(x.reshape(-1, 2).T), GAUSS_COV, rtol=0.15, atol=0.1)
    # gradient count is the sum of NUTS tree sizes: at least one per iteration and chain
    assert 2 * 1000 <= r.grad_evals_sample <= 2 * 1000 * 2**10
    assert r.grad_evals_warmup >= 2 * (1 + 300)  # one per chain at init, then at least one per iteration
    assert r.compile_s > 0 and r.warmup_s > 0 and r.sample_s > 0
