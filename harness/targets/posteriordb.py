"""The ten posteriordb posteriors, as NumPyro models, with their reference figures.

posteriordb (github.com/stan-dev/posteriordb, Magnusson, Bürkner and Vehtari;
BSD-3, notice in ``harness/references/posteriordb/README.md``) pairs Stan
programs and data with reference draws. Each model here is written from
``harness/references/posteriordb/MODELS.md`` with Stan's parameterisation: the
same sampled parameters, priors and constraints, hence the same unconstrained
space (log for ``<lower=0>``, logit for intervals, Stan's ordered transform).
Stan's *flat* priors (no prior statement) are ``ImproperUniform`` on the
parameter's support; NumPyro adds the Jacobian, as Stan does.

Data come from the packaged ``data.json`` exactly as posteriordb stores it;
``make_data`` also computes the Stan program's *transformed data* (logs, lags,
the centred design) once, so the models only hold the ``model`` block.

Reference figures (``reference.json``: mean, sd and posteriordb's mcse of the
mean per parameter, from 10 x 1000 Stan NUTS draws) are used as they are. Two
posteriors report Stan *transformed parameters* (eight_schools ``theta``,
gp_pois_regr ``f``) and garch's ``beta1`` has a support that depends on
``alpha1``; these are NumPyro ``deterministic`` sites, and the layout's
``constrain`` returns them beside the sampled sites (:class:`ModelLayout`), so
every method's draws can be scored against the reference.

``gp_pois_regr-gp_pois_regr`` needs float64 (``jax.enable_x64``): its kernel
matrix has condition number near 5e8 with Stan's 1e-10 jitter, and its Cholesky
factor is NaN in float32 at typical posterior values.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.infer.util import constrain_fn

from harness.targets.base import Layout, Param, Reference, Target, initial_sites

DATASET = "posteriordb"
COMMIT = "28f8d3d6e975315f42aa274a8399f21e07a43b30"


def _flat(support=constraints.real, shape=()):
    """Stan's flat prior: constant density on the support (improper)."""
    return dist.ImproperUniform(support, (), shape)


# ---------------------------------------------------------------------------
# Models (the Stan ``model`` block; data arrive with transformed data computed)


def eight_schools_noncentered(y, sigma):
    theta_trans = numpyro.sample("theta_trans", dist.Normal(0.0, 1.0).expand([y.shape[0]]).to_event(1))
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    theta = numpyro.deterministic("theta", mu + tau * theta_trans)
    numpyro.sample("y", dist.Normal(theta, sigma).to_event(1), obs=y)


def sblrc_blr(X, y):
    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([X.shape[1]]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(10.0))
    numpyro.sample("y", dist.Normal(X @ beta, sigma).to_event(1), obs=y)


def kidscore_momiq(mom_iq, kid_score):
    beta = numpyro.sample("beta", _flat(shape=(2,)))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(2.5))
    numpyro.sample("kid_score", dist.Normal(beta[0] + beta[1] * mom_iq, sigma).to_event(1), obs=kid_score)


def logearn_interaction(height, male, inter, log_earn):
    beta = numpyro.sample("beta", _flat(shape=(4,)))
    sigma = numpyro.sample("sigma", _flat(constraints.positive))
    mean = beta[0] + beta[1] * height + beta[2] * male + beta[3] * inter
    numpyro.sample("log_earn", dist.Normal(mean, sigma).to_event(1), obs=log_earn)


def ark(y_lags, y_obs):
    """AR(K): y_lags[t, k] = y_{t-k-1} for the modelled y_obs[t] = y_{t+K} (0-based)."""
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 10.0))
    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([y_lags.shape[1]]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(2.5))
    numpyro.sample("y", dist.Normal(alpha + y_lags @ beta, sigma).to_event(1), obs=y_obs)


def garch11(y, sigma1):
    """Flat prior on {alpha0 > 0, 0 < alpha1 < 1, 0 < beta1 < 1 - alpha1}.

    beta1 = (1 - alpha1) * beta1_raw with beta1_raw ~ Uniform(0, 1) (logit
    unconstrained, as Stan's beta1 = (1 - alpha1) logistic(u)); the factor
    log(1 - alpha1) is d beta1 / d beta1_raw, which makes the density flat in beta1.
    """
    mu = numpyro.sample("mu", _flat())
    alpha0 = numpyro.sample("alpha0", _flat(constraints.positive))
    alpha1 = numpyro.sample("alpha1", dist.Uniform(0.0, 1.0))
    beta1_raw = numpyro.sample("beta1_raw", dist.Uniform(0.0, 1.0))
    beta1 = numpyro.deterministic("beta1", (1.0 - alpha1) * beta1_raw)
    numpyro.factor("beta1_jacobian", jnp.log1p(-alpha1))

    def step(var_prev, y_prev):
        var = alpha0 + alpha1 * (y_prev - mu) ** 2 + beta1 * var_prev
        return var, var

    var1 = jnp.square(jnp.asarray(sigma1))
    _, var = jax.lax.scan(step, var1, jnp.asarray(y)[:-1])
    scale = jnp.sqrt(jnp.concatenate([var1[None], var]))
    numpyro.sample("y", dist.Normal(mu, scale).to_event(1), obs=y)


def diamonds(Xc, Y):
    """brms regression on the centred design Xc (intercept column dropped)."""
    b = numpyro.sample("b", dist.Normal(0.0, 1.0).expand([Xc.shape[1]]).to_event(1))
    intercept = numpyro.sample("Intercept", dist.StudentT(3.0, 8.0, 10.0))
    sigma = numpyro.sample("sigma", dist.FoldedDistribution(dist.StudentT(3.0, 0.0, 10.0)))
    numpyro.sample("Y", dist.Normal(intercept + Xc @ b, sigma).to_event(1), obs=Y)


def low_dim_gauss_mix(y):
    """Ordered means with independent Normal(0, 2) statements (Stan: ordered[2] mu; mu ~ normal(0, 2))."""
    mu = numpyro.sample("mu", _flat(constraints.ordered_vector, (2,)))
    numpyro.factor("mu_prior", dist.Normal(0.0, 2.0).log_prob(mu).sum())
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0).expand([2]).to_event(1))
    theta = numpyro.sample("theta", dist.Beta(5.0, 5.0))
    mix = dist.MixtureSameFamily(
        dist.Categorical(probs=jnp.stack([theta, 1.0 - theta])), dist.Normal(mu, sigma)
    )
    numpyro.sample("y", mix.expand([y.shape[0]]).to_event(1), obs=y)


def gp_pois_regr(x, k):
    """Non-centred latent GP: f = chol(alpha^2 exp(-d^2 / (2 rho^2)) + 1e-10 I) f_tilde."""
    rho = numpyro.sample("rho", dist.Gamma(25.0, 4.0))
    alpha = numpyro.sample("alpha", dist.HalfNormal(2.0))
    f_tilde = numpyro.sample("f_tilde", dist.Normal(0.0, 1.0).expand([x.shape[0]]).to_event(1))
    sq_dist = jnp.square(x[:, None] - x[None, :])
    cov = alpha**2 * jnp.exp(-sq_dist / (2.0 * rho**2)) + 1e-10 * jnp.eye(x.shape[0])
    f = numpyro.deterministic("f", jnp.linalg.cholesky(cov) @ f_tilde)
    numpyro.sample("k", dist.Poisson(jnp.exp(f)).to_event(1), obs=k)


def logmesquite_logvolume(log_canopy_volume, log_weight):
    beta = numpyro.sample("beta", _flat(shape=(2,)))
    sigma = numpyro.sample("sigma", _flat(constraints.positive))
    mean = beta[0] + beta[1] * log_canopy_volume
    numpyro.sample("log_weight", dist.Normal(mean, sigma).to_event(1), obs=log_weight)


# ---------------------------------------------------------------------------
# Data (Stan ``data`` + ``transformed data`` blocks) from the packaged data.json


def _f(x):
    return np.asarray(x, dtype=np.float64)


def _ark_data(raw):
    y, K = _f(raw["y"]), int(raw["K"])
    lags = np.stack([y[K - k : len(y) - k] for k in range(1, K + 1)], axis=1)
    return {"y_lags": lags, "y_obs": y[K:]}


def _earnings_data(raw):
    height, male = _f(raw["height"]), _f(raw["male"])
    return {"height": height, "male": male, "inter": height * male, "log_earn": np.log(_f(raw["earn"]))}


def _diamonds_data(raw):
    X = _f(raw["X"])[:, 1:]
    return {"Xc": X - X.mean(axis=0), "Y": _f(raw["Y"])}


def _mesquite_data(raw):
    volume = _f(raw["diam1"]) * _f(raw["diam2"]) * _f(raw["canopy_height"])
    return {"log_canopy_volume": np.log(volume), "log_weight": np.log(_f(raw["weight"]))}


@dataclass(frozen=True)
class _Spec:
    name: str
    model: Callable
    prepare: Callable[[dict], dict]
    size_field: str
    description: str


SPECS = (
    _Spec(
        "eight_schools-eight_schools_noncentered",
        eight_schools_noncentered,
        lambda r: {"y": _f(r["y"]), "sigma": _f(r["sigma"])},
        "J",
        "Eight schools, non-centred hierarchical Normal (funnel), J = 8, dim 10",
    ),
    _Spec(
        "sblrc-blr",
        sblrc_blr,
        lambda r: {"X": _f(r["X"]), "y": _f(r["y"])},
        "N",
        "Bayesian linear regression, 5 correlated predictors, N = 100, dim 6 (very tight posterior)",
    ),
    _Spec(
        "kidiq-kidscore_momiq",
        kidscore_momiq,
        lambda r: {"mom_iq": _f(r["mom_iq"]), "kid_score": _f(r["kid_score"])},
        "N",
        "Kid score on mother's IQ, flat coefficients, uncentred (corr -0.99), N = 434, dim 3",
    ),
    _Spec(
        "earnings-logearn_interaction",
        logearn_interaction,
        _earnings_data,
        "N",
        "Log earnings on height x sex, flat priors, uncentred (corr -0.999), N = 1192, dim 5",
    ),
    _Spec(
        "arK-arK",
        ark,
        _ark_data,
        "T",
        "AR(5) time series, T = 200, dim 7",
    ),
    _Spec(
        "garch-garch11",
        garch11,
        lambda r: {"y": _f(r["y"]), "sigma1": _f(r["sigma1"])},
        "T",
        "GARCH(1,1) volatility recursion, flat prior on the stationary region, T = 200, dim 4",
    ),
    _Spec(
        "diamonds-diamonds",
        diamonds,
        _diamonds_data,
        "N",
        "brms linear regression, 24 correlated predictors (cond 715), N = 5000, dim 26",
    ),
    _Spec(
        "low_dim_gauss_mix-low_dim_gauss_mix",
        low_dim_gauss_mix,
        lambda r: {"y": _f(r["y"])},
        "N",
        "Two-component 1-D Gaussian mixture, ordered means, N = 1000, dim 5",
    ),
    _Spec(
        "gp_pois_regr-gp_pois_regr",
        gp_pois_regr,
        lambda r: {"x": _f(r["x"]), "k": np.asarray(r["k"], dtype=np.int32)},
        "N",
        "Latent GP Poisson regression, non-centred, N = 11, dim 13 (needs float64)",
    ),
    _Spec(
        "mesquite-logmesquite_logvolume",
        logmesquite_logvolume,
        _mesquite_data,
        "N",
        "Log leaf weight on log canopy volume, flat priors, N = 46, dim 3",
    ),
)


def _path(name: str, filename: str):
    return resources.files("harness").joinpath("references", "posteriordb", name, filename)


@functools.cache
def load_json(name: str, filename: str) -> dict:
    """A packaged posteriordb file (``data.json`` or ``reference.json``), parsed."""
    return json.loads(_path(name, filename).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# Layout from the model's sites, with its deterministic sites on constrain


@dataclass(frozen=True)
class ModelLayout(Layout):
    """A layout whose ``constrain`` also returns the model's deterministic sites.

    The deterministic sites (Stan transformed parameters) are computed by running
    the model on the constrained sampled values (NumPyro's ``constrain_fn``),
    vectorised over the leading batch shape; the data go in as a jit argument.
    """

    model: Callable | None = field(default=None, compare=False)
    data: Mapping | None = field(default=None, compare=False)
    deterministic: tuple[str, ...] = ()

    @functools.cached_property
    def _constrain_batch(self):
        """Jitted (points, dim), data -> {site: (points, *shape)}, built once per layout."""

        def one(zi, data):
            return constrain_fn(self.model, (), data, self.unflatten(zi), return_deterministic=True)

        return jax.jit(jax.vmap(one, in_axes=(0, None)))

    def constrain(self, z) -> dict:
        out = super().constrain(z)
        z = jnp.asarray(z)
        batch = z.shape[:-1]
        values = self._constrain_batch(z.reshape(-1, self.dim), self.data)
        for name in self.deterministic:
            v = np.asarray(values[name])
            out[name] = v.reshape(batch + v.shape[1:])
        return out


def model_layout(model: Callable, data: dict) -> Layout:
    """Latent sample sites of ``model(**data)`` in model order, with shape and support.

    The model is traced once at NumPyro's uniform initial values (which also
    handles improper priors; :func:`harness.targets.base.initial_sites`, abstractly where it can);
    observed sites and factors are not coordinates.
    A support is read at those values, so it must not depend on other
    parameters (garch's beta1 is therefore deterministic, from beta1_raw).
    """
    params, det = [], []
    for name, site in initial_sites(model, data).items():
        if site["type"] == "sample" and not site["is_observed"]:
            params.append(Param(name, site["shape"], site["support"]))
        elif site["type"] == "deterministic":
            det.append(name)
    if not det:
        return Layout(tuple(params))
    return ModelLayout(tuple(params), model=model, data=data, deterministic=tuple(det))


# ---------------------------------------------------------------------------
# Targets


def reference(name: str) -> Reference:
    """posteriordb's reference mean, sd and mcse of the mean per constrained site, as they are."""
    ref = load_json(name, "reference.json")
    mean, sd, se = {}, {}, {}
    for site, p in ref["parameters"].items():
        shape = tuple(p["shape"])
        mean[site] = np.asarray(p["mean"], dtype=np.float64).reshape(shape)
        sd[site] = np.asarray(p["sd"], dtype=np.float64).reshape(shape)
        se[site] = np.asarray(p["mcse_mean"], dtype=np.float64).reshape(shape)
    source = (
        f"posteriordb {ref['posterior']} @ {COMMIT[:12]}: {ref['source']}; "
        "mcse from posteriordb summary_statistics"
    )
    return Reference(mean=mean, sd=sd, source=source, se_mean=se)


def _target(spec: _Spec) -> Target:
    size = int(load_json(spec.name, "data.json")[spec.size_field])

    def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
        if dataset != DATASET:
            raise ValueError(f"unknown dataset {dataset!r}; valid: {DATASET}")
        return spec.prepare(load_json(spec.name, "data.json"))

    return Target(
        name=spec.name,
        description=spec.description,
        source=(
            f"posteriordb (github.com/stan-dev/posteriordb @ {COMMIT[:12]}), posterior {spec.name}; "
            "BSD-3, see harness/references/posteriordb/README.md"
        ),
        model=spec.model,
        datasets={DATASET: size},
        make_data=make_data,
        layout=functools.partial(model_layout, spec.model),
        reference=lambda dataset, n: reference(spec.name),
    )


TARGETS = tuple(_target(s) for s in SPECS)
