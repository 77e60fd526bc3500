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


def test_the_transposed_copy_density_has_the_same_value_and_gradient():
    plain = targets.Posterior(targets.get("sparse_logistic"), "synthetic", 2000)
    fast = targets.Posterior(targets.get("sparse_logistic_xt"), "synthetic", 2000)
    assert fast.data["XT"].flags["C_CONTIGUOUS"] and np.array_equal(fast.data["XT"], plain.data["X"].T)
    z = plain.initial_positions(jax.random.key(2), 4)
    v0, g0 = jax.vmap(jax.value_and_grad(plain.log_density))(z)
    v1, g1 = jax.vmap(jax.value_and_grad(fast.log_density))(z)
    np.testing.assert_allclose(v1, v0, rtol=1e-6)
    np.testing.assert_allclose(g1, g0, rtol=1e-4, atol=1e-3 * float(np.abs(g0).max()))
    plain569 = targets.Posterior(targets.get("sparse_logistic"), "breast_cancer", None)
    fast569 = targets.Posterior(targets.get("sparse_logistic_xt"), "breast_cancer", None)
    assert fast569.reference() is not None and fast569.reference().mean.keys() == plain569.reference().mean.keys()


def test_the_transposed_copy_density_moves_no_more_bytes_than_the_plain_one():
    """The data's zero cotangents of the custom VJP are dropped by XLA: the gradient reads X forward and
    XT backward, as many bytes as autodiff's X and X transposed (:mod:`harness.roofline`)."""
    from harness import roofline

    plain = targets.Posterior(targets.get("sparse_logistic"), "synthetic", 20000)
    fast = targets.Posterior(targets.get("sparse_logistic_xt"), "synthetic", 20000)
    z = plain.initial_positions(jax.random.key(0), 4)
    b_plain, _ = roofline.grad_bytes(*plain.density_and_data(), z)
    b_fast, _ = roofline.grad_bytes(*fast.density_and_data(), z)
    assert b_fast <= 1.1 * b_plain


def test_the_same_sampler_draws_alike_on_both_densities():
    from harness import methods

    m = methods.get("handrolled_hmc")
    config = methods.RunConfig(2, 20, 30, m.resolve_options({"step_size": 0.02, "num_steps": 5}))
    draws = [m.run(targets.Posterior(targets.get(name), "breast_cancer", None), config, jax.random.key(5)).draws
             for name in ("sparse_logistic", "sparse_logistic_xt")]
    for site in draws[0]:
        np.testing.assert_allclose(draws[1][site], draws[0][site], rtol=1e-3, atol=1e-4)


def test_bernoulli_logit_rule_matches_autodiff_of_the_plain_formula():
    """The hand-written derivative (y - sigmoid) against autodiff of y l - logaddexp(0, l): value,
    gradient in the logits and in y, and the Hessian (a JVP rule: second derivatives work), over
    logits from -60 to 60 (both branches of the stable sigmoid)."""
    import jax
    import jax.numpy as jnp

    from harness.targets.sparse_logistic import bernoulli_logit

    rng = np.random.default_rng(0)
    y = jnp.asarray(rng.integers(0, 2, 64), jnp.float32)
    logits = jnp.asarray(np.concatenate([rng.normal(0, 3, 60), [-60.0, -1e-3, 0.0, 60.0]]), jnp.float32)
    plain = lambda y, l: jnp.sum(y * l - jnp.logaddexp(0.0, l))  # noqa: E731
    np.testing.assert_allclose(bernoulli_logit(y, logits), plain(y, logits), rtol=1e-6)
    for arg in (0, 1):
        np.testing.assert_allclose(jax.grad(bernoulli_logit, arg)(y, logits), jax.grad(plain, arg)(y, logits),
                                   rtol=1e-5, atol=1e-6)  # float32: y - sigmoid near 0
    np.testing.assert_allclose(jax.hessian(bernoulli_logit, 1)(y, logits), jax.hessian(plain, 1)(y, logits),
                               rtol=1e-4, atol=1e-7)
