"""The gradient floor times the program the method differentiates (``Method.density``)."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from harness import methods, targets
from harness.cell import Cell, floor_density


def test_numpyro_methods_floor_on_the_model_potential_the_others_on_the_target_density():
    for name in methods.names():
        expected = "model" if name.startswith(("numpyro_", "svi_")) else "target"
        assert methods.get(name).density == expected, name
    nuts, hmc = (Cell("sparse_logistic", "breast_cancer", None, m) for m in ("numpyro_nuts", "handrolled_hmc"))
    assert nuts.floor_group(4) != hmc.floor_group(4)  # never share (or cache) one floor
    assert json.loads(nuts.floor_group(4))["density"] == "model" == floor_density("numpyro_nuts")
    assert floor_density("no_such_method") == "target"


def test_a_resolved_density_is_taken_as_given_and_the_host_group_is_the_floor_group_less_it():
    """The worker passes the density it resolved once: no registry lookup, the same group as a lookup gives."""
    nuts = Cell("sparse_logistic", "breast_cancer", None, "numpyro_nuts")
    assert nuts.floor_group(4, "model") == nuts.floor_group(4)
    unknown = Cell("sparse_logistic", "breast_cancer", None, "no_such")
    assert json.loads(unknown.floor_group(4, "model"))["density"] == "model"
    group = json.loads(nuts.floor_group(4))
    del group["density"]
    assert json.loads(nuts.ref_group(4)) == group


def test_both_density_sources_are_the_same_posterior():
    post = targets.Posterior(targets.get("sparse_logistic"), "breast_cancer", None)
    z = post.initial_positions(jax.random.key(3), 3)
    grads = {}
    for source in ("target", "model"):
        log_density_of, data = post.density_and_data(source)
        grads[source] = np.asarray(jax.vmap(jax.grad(log_density_of(data)))(z))
    np.testing.assert_allclose(grads["model"], grads["target"], rtol=2e-4, atol=2e-3)
    with pytest.raises(ValueError, match="valid: target, model"):
        post.density_and_data("numpyro")


def test_parallel_chains_need_a_device_each_on_cpu():
    from harness import UsageError
    from harness.cell import validate

    cell = lambda **kw: Cell("sparse_logistic", "synthetic", 200, "numpyro_nuts", {"chain_method": "parallel"},
                             num_chains=4, **kw)
    with pytest.raises(UsageError, match="4 chains need xla_devices .* >= 4 on CPU, got 1"):
        validate(cell())
    with pytest.raises(UsageError, match="got 2"):
        validate(cell(xla_devices=2))
    assert validate(cell(xla_devices=4)).options["chain_method"] == "parallel"
    with pytest.raises(UsageError, match="must be one of vectorized, sequential, parallel"):
        validate(Cell("sparse_logistic", "synthetic", 200, "numpyro_nuts", {"chain_method": "pmap"}))
