"""Gradient counts checked against an independent count: the density counts its own evaluations.

A target whose model calls a host callback on every evaluation (``jax.debug.callback``,
once per point: per chain under ``vmap``) is run by each method; its sampling loop
(``RunResult.loop``) is then replayed once with the counter reset, and the evaluations the host saw must equal
the gradients the method reports for sampling. NUTS pays the sum of its tree sizes, the
seed HMC L + 1 per iteration: a method that miscounts fails here, whatever its own bookkeeping.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness import methods
from harness.targets import Posterior
from tests import toys

EVALS = [0]


def _tick(x):
    EVALS[0] += int(np.size(x))  # one per point, whether vmap calls back per point or once per batch


def _counting_model(mean, cov):
    jax.debug.callback(_tick, toys.gaussian_model(mean, cov)[0])


COUNTING = toys.gaussian_target("test_counting_gaussian", "the toy 2-D Gaussian, its every evaluation counted on "
                                "the host (tests only)", "tests/methods/test_gradient_counts.py", _counting_model)

METHODS = {
    "numpyro_nuts": {}, "numpyro_hmc": {}, "numpyro_barkermh": {},
    "handrolled_hmc": {"step_size": 0.3}, "handrolled_hmc_tuned": {},
    "blackjax_hmc": {}, "blackjax_nuts": {}, "blackjax_mala": {},
}


NUTS = ("numpyro_nuts", "blackjax_nuts")


def _replayed_evaluations(name: str, chains: int):
    method = methods.get(name)
    config = methods.RunConfig(chains, 100, 50, method.resolve_options(METHODS[name]))
    result = method.run(Posterior(COUNTING, "analytic", None), config, jax.random.key(3))
    EVALS[0] = 0
    result.loop()
    jax.effects_barrier()
    return EVALS[0], result


@pytest.mark.parametrize("name", sorted(METHODS))
def test_reported_sampling_gradients_equal_the_evaluations_the_density_saw(name):
    """Fixed-length methods with two vmapped chains; NUTS with one chain (see the next test)."""
    chains = 1 if name in NUTS else 2
    evaluations, result = _replayed_evaluations(name, chains)
    assert result.grad_evals_sample >= chains * 50
    assert evaluations == result.grad_evals_sample, f"{name}: density evaluated {evaluations} times, " \
                                                    f"reported {result.grad_evals_sample} gradients"


# slow: BlackJAX's (7 s); CI checks NumPyro's, and BlackJAX NUTS's count with one chain above
@pytest.mark.parametrize("name", [NUTS[0], pytest.param(NUTS[1], marks=pytest.mark.slow)])
def test_vmapped_nuts_pays_for_the_longest_tree_of_its_chains(name):
    """Chains through ``vmap`` step together: every chain evaluates the density until the longest tree
    of the iteration is done. The reported count is the useful steps (the sum of tree sizes, the
    convention every NUTS figure uses); the density sees more, which the overhead ratio then carries."""
    evaluations, result = _replayed_evaluations(name, 2)
    assert result.grad_evals_sample < evaluations <= 2 * result.grad_evals_sample


def test_the_counter_counts_one_per_point_under_vmap():
    log_density = toys.gaussian_log_density(toys.gaussian_data("analytic", None))
    density = jax.jit(jax.vmap(jax.value_and_grad(lambda z: (jax.debug.callback(_tick, z[0]), log_density(z))[1])))
    EVALS[0] = 0
    jax.block_until_ready(density(jnp.ones((3, 2))))
    jax.effects_barrier()
    assert EVALS[0] == 3
