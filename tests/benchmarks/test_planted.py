"""The planted slowdowns change the cost of a gradient and nothing else: padded, the log density moves by a
constant and its gradient not at all, while the data to read grows by the pad."""

import importlib.util
from pathlib import Path

import jax
import numpy as np
import pytest
from numpyro.infer.util import log_density

MODELS = Path(__file__).parents[2] / "benchmarks" / "models"


@pytest.mark.parametrize("name, pad", [("planted_slowdown", 0.3), ("planted_poisson", 0.25)])
def test_the_pad_adds_rows_and_a_constant_and_leaves_the_gradient(monkeypatch, name, pad):
    spec = importlib.util.spec_from_file_location(name, MODELS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.delenv("HARNESS_PLANTED_PAD", raising=False)
    plain = mod.make_data(400, 0)
    monkeypatch.setenv("HARNESS_PLANTED_PAD", str(pad))
    padded = mod.make_data(400, 0)
    assert padded["X"].shape[0] == round(400 * (1 + pad)) and np.array_equal(padded["X"][:400], plain["X"])

    def logp(beta, data):
        return log_density(mod.model, (), data, {"beta": beta})[0]

    grad = jax.jit(jax.value_and_grad(logp))
    shifts = []
    for b in np.random.default_rng(0).normal(size=(3, mod.D)).astype(np.float32):
        (lp, g), (lq, h) = grad(b, plain), grad(b, padded)
        np.testing.assert_allclose(h, g, rtol=1e-4, atol=1e-3)
        shifts.append(float(lq - lp))
    assert np.ptp(shifts) < 1e-2 * max(1.0, abs(shifts[0]))  # the same constant at every point
