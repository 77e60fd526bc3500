"""The layout's pieces shared by every target: the model's sites (traced abstractly where it can be) and
the maps between constrained and unconstrained draws (jitted programs)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro import handlers
from numpyro.infer.initialization import init_to_uniform

from harness import targets
from harness.targets.base import initial_sites
from harness.targets.posteriordb import TARGETS


def _eager_sites(model, data) -> dict:
    seeded = handlers.substitute(handlers.seed(model, 0), substitute_fn=init_to_uniform)
    return handlers.trace(seeded).get_trace(**data)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_abstract_sites_are_the_eager_traces(target):
    """Traced abstractly, every posteriordb model gives the sites, shapes and supports of running it eagerly
    at NumPyro's uniform initial values."""
    data = target.make_data("posteriordb", None)
    sites, eager = initial_sites(target.model, data), _eager_sites(target.model, data)
    assert list(sites) == list(eager)
    for name, site in sites.items():
        assert site["type"] == eager[name]["type"] and site["shape"] == tuple(np.shape(eager[name]["value"]))
        if site["type"] == "sample":
            assert type(site["support"]) is type(eager[name]["fn"].support)


def test_a_support_computed_from_a_parameter_is_read_at_the_initial_values():
    """A support that holds a traced value abstractly (here an upper bound drawn before it) is read by running
    the model eagerly instead: concrete, as a Param's transform needs it."""

    def model():
        upper = numpyro.sample("upper", dist.Uniform(1.0, 2.0))
        numpyro.sample("x", dist.Uniform(0.0, upper))

    sites = initial_sites(model, {})
    bound = sites["x"]["support"].upper_bound
    assert not isinstance(bound, jax.core.Tracer) and 0.0 < float(bound) < 2.0
    layout = targets.Layout((targets.Param("x", (), sites["x"]["support"]),))
    assert 0.0 < layout.constrain(np.zeros((1, 1)))["x"][0] < float(bound)


def test_a_model_that_needs_concrete_values_is_traced_eagerly():
    """Python control flow on a drawn value cannot be traced abstractly; such a model is run eagerly."""

    def model():
        a = numpyro.sample("a", dist.Normal(0.0, 1.0))
        if float(a) > 100.0:  # never, but needs a concrete value
            numpyro.sample("never", dist.Normal(0.0, 1.0))
        numpyro.sample("b", dist.HalfNormal(1.0))

    assert list(initial_sites(model, {})) == ["a", "b"]


@pytest.mark.parametrize("name", ["sparse_logistic", "eight_schools-eight_schools_noncentered",
                                  "gp_pois_regr-gp_pois_regr"])
def test_constrain_and_unconstrain_are_the_eager_transforms(name):
    """The layout's jitted maps give the values of applying each site's transform eagerly, and invert."""
    target = targets.get(name)
    posterior = targets.Posterior(target, next(iter(target.datasets)), None)
    layout = posterior.layout
    z = np.random.default_rng(0).normal(size=(2, 5, layout.dim)).astype(np.float32)
    u = layout.unflatten(jnp.asarray(z))
    values = layout.constrain(z)
    for p in layout.params:
        np.testing.assert_array_equal(values[p.name], np.asarray(p.transform(u[p.name])))
    np.testing.assert_allclose(layout.unconstrain(values), z, atol=1e-5)
