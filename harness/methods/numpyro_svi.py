"""NumPyro SVI with autoguides (family "vi"), timed apart from compile, then sampled from the guide.

Optimisation. ``SVI(model, guide, optax_to_numpyro(optax.adam(learning_rate)),
Trace_ELBO(num_particles))`` is initialised at the shared start position
(``Posterior.initial_positions``, chain 0, through ``init_to_value``). Steps run in
compiled chunks of ``window`` steps (one ``lax.scan`` of ``svi.update``, compiled
once ahead of time, data passed as arguments) that also average the guide's
parameters over their steps. The fit is the average of the iterates over a window
(Polyak-Ruppert averaging): at a fixed learning rate Adam's iterate jitters around
the optimum by about the posterior's own scale, and one window average still
carries an error of about 0.1 posterior sd whatever the learning rate or N, so
windows double: 1, 2, 4, 8, ... chunks (checks after 1, 3, 7, 15, 31, 63, 127
chunks: 500, 1500, ..., 63500 steps at the defaults), and each window's average is
the mean of the latter half of all steps so far.

Convergence rule, scale-free (it does not loosen as N grows, as the old relative
ELBO change did: at N = 1e5 every guide "converged" with means ~17 sds off). After
each window, compare its averaged guide with the previous window's:

- a guide with a spread (AutoNormal, AutoMultivariateNormal, AutoLowRank...), with
  m and s the mean and marginal sd of every unconstrained coordinate: stop when
  max_i |m_i - m'_i| / s_i < tol and max_i |log(s_i / s'_i)| < tol (default
  0.1): the fit's means moved less than a tenth of its sd, its sds less than 10 %;
- a point (AutoDelta, AutoLaplace's MAP phase), with L the window's mean loss: stop
  when |L - L'| < tol^2 / 2 nats, what a quadratic log density changes by when the
  point moves tol posterior sds.

The run also stops at ``max_steps`` (rounded down to whole chunks), or as soon as a
chunk's loss is not finite (the run diverged; its draws then are not finite either
and the row says so). The result's ``opt_converged`` says the rule fired, not the
cap; ``extra`` records ``opt_steps``, ``elbo`` (= minus the last window's mean
loss), ``opt_shift`` (the rule's last figure: sds, or nats for a point) and
``learning_rate``. The draws come from the last window's averaged guide (when the
cap cuts a window short, from the chunks of it that ran).

Sampling. ``guide.sample_posterior`` draws num_chains x num_samples independent
draws in one compiled call, reshaped to (chain, draw, ...) so every downstream
metric applies (ESS of independent draws is close to their number).

Timed loop. What produces a VI posterior is the optimisation, so the fit and the
draw together are the method's timed loop: every chunk and the draw are timed and
chained into ``RunResult.loop`` (:func:`harness.timing.chain`), and the cell's
replays (:func:`harness.timing.replay_paired`)
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
from typing import NamedTuple

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

from harness import prep
from harness.methods.base import Method, RunConfig, RunResult, positive
from harness.timing import TimedCall, chain, compile_timed, run_timed

OPTIONS = {"learning_rate": positive(float, 0.01), "num_particles": positive(int, 1),
           "max_steps": positive(int, 63500), "window": positive(int, 500), "tol": positive(float, 0.1)}


class Fit(NamedTuple):
    """One window's averaged guide as the rule sees it: mean loss, and (for a guide with a spread)
    the mean and marginal sd of every unconstrained coordinate (None for a point)."""

    loss: float
    loc: np.ndarray | None = None
    sd: np.ndarray | None = None


def shift(prev: Fit, now: Fit) -> float:
    """How far the fit moved between two windows: for a guide with a spread, the larger of
    max_i |change of mean_i| / sd_i (the newer sd) and max_i |change of log sd_i|; for a point,
    |change of the mean loss| in nats."""
    if now.sd is None:
        return abs(now.loss - prev.loss)
    return float(max(np.max(np.abs(now.loc - prev.loc) / now.sd, initial=0.0),
                     np.max(np.abs(np.log(now.sd / prev.sd)), initial=0.0)))


def bound(now: Fit, tol: float) -> float:
    """What :func:`shift` must stay under: tol sds, or for a point tol^2 / 2 nats (module docstring)."""
    return tol if now.sd is not None else tol**2 / 2


def converged(prev: Fit, now: Fit, tol: float) -> bool:
    """The stopping rule: the fit moved less than its bound between two windows."""
    return shift(prev, now) < bound(now, tol)


def window_fit(guide, params: dict, loss: float) -> Fit:
    """The rule's view of an averaged guide: AutoNormal's per-site locs and scales, an AutoContinuous
    guide's posterior in its unconstrained latent space, nothing for a point."""
    if isinstance(guide, (AutoDelta, AutoLaplaceApproximation)):
        return Fit(loss)
    if isinstance(guide, AutoNormal):
        sites = sorted(k[: -len("_auto_loc")] for k in params if k.endswith("_auto_loc"))
        loc = np.concatenate([np.ravel(params[f"{s}_auto_loc"]) for s in sites])
        sd = np.concatenate([np.ravel(params[f"{s}_auto_scale"]) for s in sites])
        return Fit(loss, loc, sd)
    post = guide.get_posterior(params)
    return Fit(loss, np.asarray(post.mean), np.sqrt(np.asarray(post.variance)))


def _run_svi(method: Method, make_guide, posterior, config: RunConfig, key) -> RunResult:
    opts = dict(config.options)
    guide_kwargs = {k: v for k, v in opts.items() if k not in OPTIONS}
    window, particles = int(opts["window"]), int(opts["num_particles"])
    num_chunks = max(1, int(opts["max_steps"]) // window)
    data, layout = jax.block_until_ready(jax.device_put(posterior.data)), posterior.layout  # no timed copy

    @prep.jit  # one program, not one per split and draw (harness.prep); the same bits
    def split(key):
        key_init, key_svi, key_draw = jax.random.split(key, 3)
        return posterior.initial_positions(key_init, 1)[0], key_svi, key_draw

    z0, key_svi, key_draw = split(key)
    start = {k: jnp.asarray(v) for k, v in layout.constrain(z0).items()}
    guide = make_guide(posterior.target.model, init_loc_fn=init_to_value(values=start), **guide_kwargs)
    optim = optax_to_numpyro(optax.adam(float(opts["learning_rate"])))
    svi = SVI(posterior.target.model, guide, optim, Trace_ELBO(num_particles=particles))

    t0 = time.perf_counter()
    state = jax.block_until_ready(svi.init(key_svi, **data))
    init_s = time.perf_counter() - t0

    def chunk(state, data):
        def step(carry, _):
            s, acc = carry
            s, loss = svi.update(s, **data)
            return (s, jax.tree.map(jnp.add, acc, svi.get_params(s))), loss

        zero = jax.tree.map(jnp.zeros_like, svi.get_params(state))
        (state, acc), losses = jax.lax.scan(step, (state, zero), None, length=window)
        return state, jax.tree.map(lambda a: a / window, acc), losses

    chunk_c, compile_s = compile_timed(chunk, state, data)
    opt_s, chunks, done, moved, tol = 0.0, 0, False, float("nan"), float(opts["tol"])
    prev, size, acc, losses_acc, count, calls = None, 1, None, 0.0, 0, []
    while chunks < num_chunks:
        args = (state, data)
        (state, chunk_params, losses), dt = run_timed(chunk_c, *args)
        calls.append(TimedCall(chunk_c, args, dt))
        opt_s += dt
        chunks += 1
        loss = float(np.mean(losses))
        if not np.isfinite(loss):  # diverged (e.g. an unbounded MAP): more steps cannot help
            params, last_loss = chunk_params, loss
            break
        acc = chunk_params if acc is None else jax.tree.map(jnp.add, acc, chunk_params)
        losses_acc, count = losses_acc + loss, count + 1
        params, last_loss = jax.tree.map(lambda a: a / count, acc), losses_acc / count
        if count == size:  # a window (1, 2, 4, ... chunks) is complete: compare it with the last
            fit = window_fit(guide, params, last_loss)
            if prev is not None:
                moved = shift(prev, fit)
                if moved < bound(fit, tol):
                    done = True
                    break
            prev, size, acc, losses_acc, count = fit, 2 * size, None, 0.0, 0
    total = config.num_chains * config.num_samples

    def draw(key, params):
        return guide.sample_posterior(key, params, sample_shape=(total,))

    draw_c, t_c = compile_timed(draw, key_draw, params)
    samples, draw_s = run_timed(draw_c, key_draw, params)
    calls.append(TimedCall(draw_c, (key_draw, params), draw_s))
    draws = {
        p.name: np.asarray(samples[p.name]).reshape((config.num_chains, config.num_samples) + p.shape)
        for p in layout.params
    }
    steps = chunks * window
    extra = {
        "opt_steps": steps,
        "elbo": -last_loss,
        "opt_shift": moved,
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
        loop=chain(calls),
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
