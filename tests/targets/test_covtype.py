"""The covtype stand-in: NumPyro's benchmark shape (N x 55, intercept), its density the model's."""

from __future__ import annotations

import jax
import numpy as np

from harness import targets


def test_data_have_the_covtype_shape_an_intercept_and_binary_labels():
    data = targets.get("covtype_synthetic").make_data("synthetic", 3000, seed=0)
    assert data["X"].shape == (3000, 55) and data["X"].dtype == np.float32
    assert np.all(data["X"][:, -1] == 1.0) and abs(float(data["X"][:, 0].std()) - 1.0) < 0.1
    assert set(np.unique(data["y"])) == {0, 1}
    again = targets.get("covtype_synthetic").make_data("synthetic", 3000, seed=0)
    assert np.array_equal(again["X"], data["X"]) and np.array_equal(again["y"], data["y"])  # a fixed seed


def test_the_hand_written_density_is_the_models_potential():
    post = targets.Posterior(targets.get("covtype_synthetic"), "synthetic", 2000)
    z = post.initial_positions(jax.random.key(0), 2)
    grads = {s: np.asarray(jax.vmap(jax.grad(post.density_and_data(s)[0](post.density_and_data(s)[1])))(z))
             for s in ("target", "model")}
    np.testing.assert_allclose(grads["model"], grads["target"], rtol=2e-4, atol=2e-2)
