"""Shared check for target tests: the hand-written flat density equals the model's."""

import jax
import numpy as np

from harness import targets
from harness.targets.base import model_log_density


def assert_density_matches_model(name, dataset, n, num_points=8, radius=2.0, rtol=1e-5):
    """log_density(z) == -potential_energy(model) at random z, constants included."""
    post = targets.Posterior(targets.get(name), dataset, n)
    assert post.target.log_density is not None, "target has no hand-written density to check"
    derived = model_log_density(post.target.model, post.data, post.layout)
    z = post.initial_positions(jax.random.key(7), num_points, radius=radius)
    hand, ref = np.asarray(jax.vmap(post.log_density)(z)), np.asarray(jax.vmap(derived)(z))
    assert np.all(np.isfinite(hand)) and np.all(np.isfinite(ref))
    np.testing.assert_allclose(hand, ref, rtol=rtol, atol=1e-4)
    return post
