import jax
import numpy as np
import pytest

from harness import targets
from harness.targets.base import model_log_density


@pytest.mark.parametrize("dataset,n", [("breast_cancer", None), ("synthetic", 300)])
def test_flat_density_matches_numpyro_model(dataset, n):
    """The hand-written density equals NumPyro's -potential_energy at random points."""
    post = targets.Posterior(targets.get("sparse_logistic"), dataset, n)
    derived = model_log_density(post.target.model, post.data, post.layout)
    z = post.initial_positions(jax.random.key(1), 8)
    hand, ref = jax.vmap(post.log_density)(z), jax.vmap(derived)(z)
    diff = np.asarray(hand - ref)
    # equal up to a constant; and here the constants are included too
    assert np.ptp(diff) < 1e-3 * np.max(np.abs(ref))
    np.testing.assert_allclose(hand, ref, rtol=1e-5)


def test_breast_cancer_data_is_standardised_float32():
    data = targets.get("sparse_logistic").make_data("breast_cancer", None, 0)
    X, y = data["X"], data["y"]
    assert X.shape == (569, 30) and X.dtype == np.float32
    np.testing.assert_allclose(X.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(X.std(0), 1, atol=1e-4)
    assert set(np.unique(y)) == {0, 1}


def test_synthetic_data_is_fixed_by_seed_and_sized():
    t = targets.get("sparse_logistic")
    a, b = t.make_data("synthetic", 1000, 0), t.make_data("synthetic", 1000, 0)
    np.testing.assert_array_equal(a["X"], b["X"])
    assert a["X"].shape == (1000, 30)
    assert not np.array_equal(a["X"], t.make_data("synthetic", 1000, 1)["X"])


def test_layout_round_trip_and_order(breast_cancer):
    lay = breast_cancer.layout
    assert lay.dim == 61 and lay.names == ("tau", "lambda", "beta")
    z = np.asarray(breast_cancer.initial_positions(jax.random.key(0), 3))[None]  # (1, 3, 61)
    named = lay.constrain(z)
    assert named["tau"].shape == (1, 3) and named["beta"].shape == (1, 3, 30)
    np.testing.assert_allclose(named["tau"], np.exp(z[..., 0]), rtol=1e-6)
    np.testing.assert_allclose(lay.unconstrain(named), z, atol=1e-5)


def test_fixed_dataset_refuses_other_size():
    with pytest.raises(ValueError, match="fixed size 569"):
        targets.get("sparse_logistic").resolve_size("breast_cancer", 1000)
