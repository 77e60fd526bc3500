"""Every registered target works with its data as a jit argument (Posterior.density_and_data).

Samplers and the gradient floor pass the data as an argument, never as a closure
constant, so a target's log density must be traceable in its data.
"""

import jax
import numpy as np
import pytest

from harness import targets

#: a small (dataset, n) per target whose default dataset needs one
SMALL = {
    "sparse_logistic": ("breast_cancer", None), "logistic": ("d5", 100), "neals_funnel": ("d3", None),
    "ill_conditioned_gaussian": ("d5_c100", None), "linear_regression_conjugate": ("d3", 50),
    "stochastic_volatility": ("synthetic", 50), "covtype_synthetic": ("synthetic", 100),
}
NEEDS_FLOAT64 = {"gp_pois_regr-gp_pois_regr"}  # its Cholesky is unstable in float32 (MODELS.md)


@pytest.mark.parametrize("name", targets.names())
def test_density_with_data_as_jit_argument_equals_the_bound_density(name):
    target = targets.get(name)
    dataset, n = SMALL.get(name, (target.default_dataset, None))
    with jax.enable_x64(name in NEEDS_FLOAT64):
        post = targets.Posterior(target, dataset, n)
        log_density_of, data = post.density_and_data()
        z = post.initial_positions(jax.random.key(0), 3)
        traced = jax.jit(lambda z, d: jax.vmap(log_density_of(d))(z))(z, data)
        bound = jax.vmap(post.log_density)(z)
    assert np.all(np.isfinite(bound))
    np.testing.assert_allclose(traced, bound, rtol=1e-5)
