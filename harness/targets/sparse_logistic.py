"""The seed target: sparse (horseshoe-like) logistic regression.

    tau ~ Gamma(0.5, 0.5),  lambda_j ~ Gamma(0.5, 0.5),  beta_j ~ Normal(0, 1),
    logits = X @ (tau * lambda * beta),  y_i ~ Bernoulli(logits_i),

sampled in z = [log tau, log lambda (D), beta (D)] (dim 2D + 1 = 61 for D = 30).
With u = log x and x ~ Gamma(a, b) the density of u (Jacobian e^u included) is
a log b - lgamma(a) + a u - b e^u.

Data: scikit-learn's breast-cancer set (569 x 30, standardised, float32), or
synthetic data of any N with D = 30 from a fixed seed: X ~ N(0, 1), a sparse
true beta (5 non-zero of 30) and y ~ Bernoulli(sigmoid(X beta)).

``sparse_logistic_xt`` is the same posterior on the same data plus a contiguous copy of
X's transpose, which its hand-written density reads, logits and gradient (:func:`_matvec`): the
same sampler can be timed on both densities (the NumPyro methods evaluate the model's
potential either way), and it is scored against sparse_logistic's references.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import gammaln
from numpyro.distributions import constraints

from harness.targets.base import ANY_N, Layout, Param, Target
from harness.targets.reference import stored

A, B = 0.5, 0.5  # Gamma(concentration, rate) of tau and lambda
D_SYNTHETIC = 30
TRUE_BETA = np.zeros(D_SYNTHETIC, dtype=np.float32)
TRUE_BETA[:5] = [2.0, -1.5, 1.0, -0.75, 0.5]


def model(X, y=None, subsample_size=None):
    """The NumPyro model; ``subsample_size`` subsamples the "data" plate (Target.plate convention)."""
    n, d = X.shape
    tau = numpyro.sample("tau", dist.Gamma(A, B))
    with numpyro.plate("features", d):
        lam = numpyro.sample("lambda", dist.Gamma(A, B))
        beta = numpyro.sample("beta", dist.Normal(0.0, 1.0))
    with numpyro.plate("data", n, subsample_size=subsample_size):
        X_batch = numpyro.subsample(X, event_dim=1)
        y_batch = None if y is None else numpyro.subsample(y, event_dim=0)
        numpyro.sample("y", dist.Bernoulli(logits=X_batch @ (tau * lam * beta)), obs=y_batch)


def layout(data) -> Layout:
    d = data["X"].shape[1]
    return Layout(
        (
            Param("tau", (), constraints.positive),
            Param("lambda", (d,), constraints.positive),
            Param("beta", (d,), constraints.real),
        )
    )


def _flat_density(d: int, y, logits_of):
    """Flat log density of z = [log tau, log lambda (d), beta (d)], the logits computed by ``logits_of(w)``."""
    gamma_const = A * jnp.log(B) - gammaln(A)
    normal_const = -0.5 * jnp.log(2 * jnp.pi)

    def logdensity(z):
        log_tau, log_lam, beta = z[0], z[1 : 1 + d], z[1 + d :]
        lp = gamma_const + A * log_tau - B * jnp.exp(log_tau)
        lp += jnp.sum(gamma_const + A * log_lam - B * jnp.exp(log_lam))
        lp += jnp.sum(normal_const - 0.5 * beta**2)
        logits = logits_of(jnp.exp(log_tau) * jnp.exp(log_lam) * beta)
        return lp + bernoulli_logit(y, logits)

    return logdensity


def softplus(x):
    """log(1 + e^x) as max(x, 0) + log1p(e^-|x|): stable, and cheaper to differentiate than
    ``jnp.logaddexp(0, x)`` (whose special-value handling cost the seed density 2x at N = 569)."""
    return jnp.maximum(x, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


@jax.custom_jvp
def bernoulli_logit(y, logits):
    """sum_i y_i l_i - log(1 + e^l_i), the Bernoulli log likelihood of y at logits l, with its derivative
    written out: d/dl_i = y_i - sigmoid(l_i), sigmoid from the same e^-|l| as the value. Autodiff of
    :func:`softplus` differentiates max, abs, exp and log1p one by one (about 2x the elementwise work
    at N = 569); the rule below is one division. A JVP rule, so higher derivatives (Hessians) work.

    The y term is a product, ``logits @ y``: written inside the sum (``y * logits - ...``), XLA's CPU
    backend fused the whole sum into one reduction that took y broadcast over the chains as a
    materialised (chains, N) array, every gradient, and the density ran 8 % slower than NumPyro's
    potential at N = 1e5 (paired floors, README "The memory roofline")."""
    return logits @ y - jnp.sum(softplus(logits))


def _bernoulli_logit_jvp(primals, tangents):
    y, logits = primals
    dy, dlogits = tangents
    e = jnp.exp(-jnp.abs(logits))
    value = logits @ y - jnp.sum(jnp.maximum(logits, 0.0) + jnp.log1p(e))
    sigmoid = jnp.where(logits >= 0, 1.0, e) / (1.0 + e)
    zero = lambda t: isinstance(t, jax.custom_derivatives.SymbolicZero)  # noqa: E731 (data: no tangent)
    tangent = 0.0 if zero(dlogits) else jnp.sum((y - sigmoid) * dlogits)
    return value, tangent + (0.0 if zero(dy) else jnp.sum(dy * logits))


bernoulli_logit.defjvp(_bernoulli_logit_jvp, symbolic_zeros=True)


def logits_of_data(X):
    """w -> the logits X w, written ``w @ X.T``: vmapped over chains, its gradient is then one plain
    product (chains, N) x (N, D); ``X @ w`` made XLA contract X over its rows against a (N, chains)
    cotangent, 2x slower at N = 1e4 on CPU (paired floors, README "The memory roofline")."""
    return lambda w: w @ X.T


def log_density(data):
    """Hand-written flat log density of z = [log tau, log lambda, beta]."""
    X = jnp.asarray(data["X"])
    return _flat_density(X.shape[1], jnp.asarray(data["y"], X.dtype), logits_of_data(X))


@jax.custom_vjp
def _matvec(XT, w):
    """The logits ``w @ XT`` (= X w) from XT, a contiguous copy of X's transpose, both passes.

    Forward, ``w @ XT`` reads XT's rows in order, accumulating the N logits; the gradient with
    respect to w is ``XT @ g``, again XT's rows in order. Autodiff of ``w @ XT`` produces the same
    product but, vmapped over 4 chains, XLA's CPU backend contracts it as (chains, N) x (N, D)
    against XT transposed, several times slower at N = 1e6. So the backward pass is written out.
    The paired floors of this density, the plain one and NumPyro's potential, at 1 and 4 chains:
    ``harness run --suite roofline`` (committed rows and reading command: results/roofline).
    XT is data (never differentiated): its cotangent is None, a zero nothing computes.
    """
    return w @ XT


def _matvec_fwd(XT, w):
    return w @ XT, XT


def _matvec_bwd(XT, g):
    return None, XT @ g


_matvec.defvjp(_matvec_fwd, _matvec_bwd)


def log_density_xt(data):
    """:func:`log_density` with the logits and their gradient read from the transposed copy ``XT`` only
    (:func:`_matvec`)."""
    XT = jnp.asarray(data["XT"])
    return _flat_density(XT.shape[0], jnp.asarray(data["y"], XT.dtype), lambda w: _matvec(XT, w))


def model_xt(X, XT=None, y=None, subsample_size=None):
    """:func:`model`, taking (and ignoring) the transposed copy the fast density reads."""
    model(X, y, subsample_size)


def make_data_xt(dataset: str, n: int | None, seed: int = 0) -> dict:
    data = make_data(dataset, n, seed)
    return {**data, "XT": np.ascontiguousarray(data["X"].T)}


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return {"X": X.astype(np.float32), "y": y.astype(np.int32)}


def _synthetic(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D_SYNTHETIC), dtype=np.float32)
    p = 1.0 / (1.0 + np.exp(-(X @ TRUE_BETA)))
    y = (rng.random(n, dtype=np.float32) < p).astype(np.int32)
    return {"X": X, "y": y}


def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
    if dataset == "breast_cancer":
        return _breast_cancer()
    if dataset == "synthetic":
        return _synthetic(int(n), seed)
    raise ValueError(f"unknown dataset {dataset!r}; valid: breast_cancer, synthetic")


TARGET = Target(
    name="sparse_logistic",
    description="Sparse logistic regression (Gamma scales), breast-cancer data or synthetic N x 30",
    source="harness seed target; data: scikit-learn load_breast_cancer (UCI WDBC), standardised",
    model=model,
    datasets={"breast_cancer": 569, "synthetic": ANY_N},
    make_data=make_data,
    layout=layout,
    log_density=log_density,
    plate="data",
)

TARGET_XT = Target(
    name="sparse_logistic_xt",
    description="sparse_logistic with a contiguous copy of X's transpose for the gradient (same posterior, 2x memory)",
    source=TARGET.source + "; density: harness (logits and their custom VJP read X^T contiguously)",
    model=model_xt,
    datasets=TARGET.datasets,
    make_data=make_data_xt,
    layout=layout,
    log_density=log_density_xt,
    plate=None,
    reference=lambda dataset, n: stored(TARGET, dataset, n),  # the same posterior: sparse_logistic's references
)
