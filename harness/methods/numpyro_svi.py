"""NumPyro SVI with autoguides (family "vi"), timed apart from compile, then sampled from the guide.

Optimisation. ``SVI(model, guide, optax_to_numpyro(optax.adam(learning_rate)),
Trace_ELBO(num_particles))`` is initialised at the shared start position
(``Posterior.initial_positions``, chain 0, through ``init_to_value``). Steps run in
compiled chunks of ``window`` steps (one ``lax.scan`` of ``svi.update``, compiled
once ahead of time, data passed as arguments); between chunks the host checks the
convergence rule on the chunk's losses:

    ELBO_k = mean of -loss over chunk k (``window`` steps),
    stop when |ELBO_k - ELBO_{k-1}| / max(|ELBO_{k-1}|, 1) < tol,

or when ``max_steps`` (rounded down to whole chunks, at least one) is reached,
or as soon as a chunk's ELBO is not finite (the run diverged; its draws then
are not finite either and the row says so).
Averaging over a window damps the Monte Carlo noise of the per-step ELBO; the
floor of 1 in the denominator keeps the rule meaningful for an ELBO near 0 (a
normalised target). The result's ``opt_converged`` says the rule fired, not the cap;
``extra`` records ``opt_steps``, ``elbo`` (= ELBO of the last chunk) and ``learning_rate``.

Sampling. ``guide.sample_posterior`` draws num_chains x num_samples independent
draws in one compiled call, reshaped to (chain, draw, ...) so every downstream
metric applies (ESS of independent draws is close to their number).

Timed loop. What produces a VI posterior is the optimisation, so the fit and the
draw together are the method's timed loop: every chunk and the draw are timed with
``phase="sample"``, and the cell's replays (:func:`harness.timing.replay_paired`)
re-run all of them in order with their recorded inputs (the same steps, the same
work). A draw alone is a sub-millisecond call whose median flips between processes
(dispatch-bound); the fit is seconds of single-threaded steps.

RunResult fields for VI: ``compile_s`` = compile of the chunk and of the sampler;
``warmup_s`` = 0 (no warmup phase); ``sample_s`` = optimisation seconds (chunks
run, host checks excluded) + seconds drawing from the guide;
``grad_evals_warmup`` = 0; ``grad_evals_sample`` = steps x num_particles ELBO
gradients, plus, for the Laplace guide, the Hessian at the mode (dim
gradient-equivalents, forward over reverse); acceptance and step size do not
apply (NaN), divergences 0. ``grad_batch`` = num_particles: ``Trace_ELBO``
evaluates its particles' gradients together (vectorised), the batch of the
gradient floor the overhead ratio compares with (one ELBO gradient costs more
than one density gradient: the guide's own terms and its reparameterised draw).

AutoDelta is a point (MAP of the density of the *constrained* sites, no
Jacobian: it may not exist, e.g. a Gamma(1/2) scale whose density is unbounded
at 0, as in sparse_logistic): its draws are the point repeated, the result has
``point_estimate=True`` and the cell row leaves ESS / R-hat empty (harness.cell).
Any other guide whose draws all coincide is flagged the same way, with
``extra["degenerate_guide"]=True``: AutoLaplaceApproximation, when the Hessian at its mode
is not positive definite, has NumPyro zero the scale (it warns only outside
jit), e.g. on sparse_logistic with the default options. Its Hessian binds the
data at ``svi.init``.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import (
    AutoDelta,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from numpyro.infer.initialization import init_to_value
from numpyro.optim import optax_to_numpyro

from harness.methods.base import Method, RunConfig, RunResult, positive
from harness.timing import compile_timed, run_timed

OPTIONS = {"learning_rate": positive(float, 0.01), "num_particles": positive(int, 1),
           "max_steps": positive(int, 20000), "window": positive(int, 500), "tol": positive(float, 1e-3)}


def converged(elbo_prev: float, elbo_now: float, tol: float) -> bool:
    """The stopping rule: relative change of the window-mean ELBO below tol (denominator floored at 1)."""
    return abs(elbo_now - elbo_prev) / max(abs(elbo_prev), 1.0) < tol


def _run_svi(method: Method, make_guide, posterior, config: RunConfig, key) -> RunResult:
    opts = dict(config.options)
    guide_kwargs = {k: v for k, v in opts.items() if k not in OPTIONS}
    window, particles = int(opts["window"]), int(opts["num_particles"])
    num_chunks = max(1, int(opts["max_steps"]) // window)
    data, layout = jax.block_until_ready(jax.device_put(posterior.data)), posterior.layout  # no timed copy

    key_init, key_svi, key_draw = jax.random.split(key, 3)
    start = {k: jnp.asarray(v) for k, v in layout.constrain(posterior.initial_positions(key_init, 1)[0]).items()}
    guide = make_guide(posterior.target.model, init_loc_fn=init_to_value(values=start), **guide_kwargs)
    optim = optax_to_numpyro(optax.adam(float(opts["learning_rate"])))
    svi = SVI(posterior.target.model, guide, optim, Trace_ELBO(num_particles=particles))

    t0 = time.perf_counter()
    state = jax.block_until_ready(svi.init(key_svi, **data))
    init_s = time.perf_counter() - t0

    def chunk(state, data):
        return jax.lax.scan(lambda s, _: svi.update(s, **data), state, None, length=window)

    chunk_c, compile_s = compile_timed(chunk, state, data)
    opt_s, elbos, done = 0.0, [], False
    for _ in range(num_chunks):
        (state, losses), dt = run_timed(chunk_c, state, data, phase="sample")
        opt_s += dt
        elbos.append(-float(np.mean(losses)))
        if not np.isfinite(elbos[-1]):  # diverged (e.g. an unbounded MAP): more steps cannot help
            break
        if len(elbos) > 1 and converged(elbos[-2], elbos[-1], float(opts["tol"])):
            done = True
            break
    params = svi.get_params(state)
    total = config.num_chains * config.num_samples

    def draw(key, params):
        return guide.sample_posterior(key, params, sample_shape=(total,))

    draw_c, t_c = compile_timed(draw, key_draw, params)
    samples, draw_s = run_timed(draw_c, key_draw, params, phase="sample")
    draws = {
        p.name: np.asarray(samples[p.name]).reshape((config.num_chains, config.num_samples) + p.shape)
        for p in layout.params
    }
    steps = len(elbos) * window
    extra = {
        "opt_steps": steps,
        "elbo": elbos[-1],
        "learning_rate": float(opts["learning_rate"]),
        "num_particles": particles,
    }
    point = isinstance(guide, AutoDelta)
    if not point and all(np.ptp(v.reshape(total, -1), axis=0).max(initial=0.0) == 0 for v in draws.values()):
        # e.g. AutoLaplace whose Hessian at the mode is not positive definite: NumPyro then
        # zeroes the scale and every draw is the mode. Say so rather than report a fake ESS.
        point = extra["degenerate_guide"] = True
    return RunResult(
        draws=draws,
        grad_evals_warmup=0,
        grad_evals_sample=steps * particles + (posterior.dim if isinstance(guide, AutoLaplaceApproximation) else 0),
        compile_s=compile_s + t_c,
        warmup_s=0.0,
        sample_s=opt_s + draw_s,
        accept_rate=float("nan"),
        divergences=0,
        step_size=float("nan"),
        init_s=init_s,
        grad_batch=particles,
        opt_converged=bool(done),
        point_estimate=point,
        extra=extra,
    )


def _method(name: str, guide_cls, description: str, **guide_options) -> Method:
    def run(posterior, config: RunConfig, key) -> RunResult:
        return _run_svi(method, guide_cls, posterior, config, key)

    run.__doc__ = f"SVI with {guide_cls.__name__}: {description} (see the module docstring)."
    method = Method(
        name=name,
        library="numpyro",
        description=description,
        run=run,
        options={**OPTIONS, **guide_options},
        family="vi",
        density="model",
    )
    return method


SVI_AUTONORMAL = _method("svi_autonormal", AutoNormal, "NumPyro SVI, mean-field Normal guide (AutoNormal)")
SVI_AUTOMVN = _method(
    "svi_automvn", AutoMultivariateNormal, "NumPyro SVI, full-rank Normal guide (AutoMultivariateNormal)"
)
SVI_AUTOLOWRANK = _method(
    "svi_autolowrank",
    AutoLowRankMultivariateNormal,
    "NumPyro SVI, low-rank plus diagonal Normal guide (AutoLowRankMultivariateNormal)",
    rank=positive(int, None, nullable=True),
)
SVI_AUTODELTA = _method("svi_autodelta", AutoDelta, "NumPyro SVI, point estimate (AutoDelta, MAP): no ESS")
SVI_AUTOLAPLACE = _method(
    "svi_autolaplace", AutoLaplaceApproximation, "NumPyro SVI, Laplace approximation at the MAP (AutoLaplace)"
)
SVI_METHODS = (SVI_AUTONORMAL, SVI_AUTOMVN, SVI_AUTOLOWRANK, SVI_AUTODELTA, SVI_AUTOLAPLACE)
