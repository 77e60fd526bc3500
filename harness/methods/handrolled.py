"""Hand-rolled HMC: the seed's kernel, and what a careful user adds to it.

One leapfrog kernel (velocity Verlet in ``lax.fori_loop``, Gaussian momentum
p ~ N(0, M) with a diagonal inverse mass M^-1, Metropolis accept on
H(z, p) = -log p(z) + p^T M^-1 p / 2), in the BlackJAX style: NamedTuple state
and info, pure ``init`` / ``build_kernel``, the caller jits. Two methods use it:

``handrolled_hmc``, faithful to the seed: fixed step size, identity mass, L
leapfrog steps, no adaptation (warmup is plain burn-in), and the gradient at
the current point recomputed every iteration, so one iteration costs L + 1
gradients. Its float operations, key splits and momentum draw are those of
``blackjax.hmc`` with an identity inverse mass matrix, so with the same keys the
draws are bit-identical (tested).

``handrolled_hmc_tuned``: the same kernel with the state carrying log p and its
gradient (L gradients per iteration, one more per chain at init), and a Stan-
style warmup per chain: dual averaging of log step size (Hoffman & Gelman 2014,
Algorithm 5) towards a target acceptance, and a diagonal inverse mass set to a
regularised Welford variance at the end of each doubling slow window.

Both methods hand their warmup and sampling loops to the driver
(:mod:`harness.methods.driver`), which compiles, times and runs them.
Data enter the compiled loops as arguments (``Posterior.density_and_data``), never
as closure constants, so chains through ``vmap`` share one read of the data;
they are placed on the device once, before any timed call, so no timed call
copies them from the host.

Every adaptation quantity takes the dtype of the position z, so the methods
run unchanged under float64 (``jax_enable_x64``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from harness.methods import driver
from harness.methods.base import Method, RunConfig, RunResult, positive, probability

DIVERGENCE_THRESHOLD = 1000.0  # energy error above which a transition counts as divergent (BlackJAX's)
SEED_STEP_SIZE, SEED_N = 0.05, 569  # the seed's step at N = 569; scaled like 1/sqrt(N)
# Dual averaging constants of Hoffman & Gelman (2014) and Stan.
DA_GAMMA, DA_T0, DA_KAPPA = 0.05, 10.0, 0.75
# Stan's warmup windows: initial fast buffer, first slow window, terminal fast buffer.
INIT_BUFFER, BASE_WINDOW, TERM_BUFFER = 75, 25, 50


class HMCState(NamedTuple):
    """Position z with log p(z) and its gradient, so a transition need not recompute them."""

    position: jax.Array
    logdensity: jax.Array
    logdensity_grad: jax.Array


class HMCInfo(NamedTuple):
    accept_prob: jax.Array
    is_accepted: jax.Array
    is_divergent: jax.Array


def init(position, logdensity_fn) -> HMCState:
    return HMCState(position, *jax.value_and_grad(logdensity_fn)(position))


def build_kernel(logdensity_fn, num_steps: int):
    """``kernel(key, state, step_size, inverse_mass) -> (state, HMCInfo)``: L leapfrog steps + MH.

    Costs exactly ``num_steps`` gradients. ``inverse_mass`` is a scalar (1.0:
    identity) or the diagonal of M^-1.
    """
    value_and_grad = jax.value_and_grad(logdensity_fn)

    def kernel(key, state: HMCState, step_size, inverse_mass):
        key_momentum, key_accept = jax.random.split(key)
        z, logp0, g0 = state
        p0 = jax.random.normal(key_momentum, z.shape, z.dtype) / jnp.sqrt(inverse_mass)

        def leapfrog(_, carry):
            z, p, logp, g = carry
            p = p + 0.5 * step_size * g
            z = z + step_size * (inverse_mass * p)
            logp, g = value_and_grad(z)
            p = p + 0.5 * step_size * g
            return z, p, logp, g

        z1, p1, logp1, g1 = jax.lax.fori_loop(0, num_steps, leapfrog, (z, p0, logp0, g0))
        kinetic = lambda p: 0.5 * jnp.dot(inverse_mass * p, p)
        delta = (-logp0 + kinetic(p0)) - (-logp1 + kinetic(p1))
        delta = jnp.where(jnp.isnan(delta), -jnp.inf, delta)
        p_accept = jnp.clip(jnp.exp(delta), max=1.0)
        accept = jax.random.bernoulli(key_accept, p_accept)
        new = jax.tree.map(lambda a, b: jnp.where(accept, a, b), HMCState(z1, logp1, g1), state)
        return new, HMCInfo(p_accept, accept, -delta > DIVERGENCE_THRESHOLD)

    return kernel


def build_seed_kernel(logdensity_fn, step_size: float, num_steps: int):
    """The seed's ``kernel(key, z) -> (z, HMCInfo)``: recomputes log p and gradient at z (L + 1 gradients)."""
    kernel = build_kernel(logdensity_fn, num_steps)

    def seed_kernel(key, z):
        state, info = kernel(key, init(z, logdensity_fn), step_size, 1.0)
        return state.position, info

    return seed_kernel


def default_step_size(n: int | None) -> float:
    """The seed's step 0.05 at N = 569, scaled like 1/sqrt(N) for other sizes."""
    return SEED_STEP_SIZE * math.sqrt(SEED_N / n) if n else SEED_STEP_SIZE


def or_default(value, default):
    """An option's value, or ``default`` where it is null (options are checked: :class:`harness.methods.base.Option`)."""
    return default if value is None else value


def _result(posterior, config: RunConfig, driven: driver.Driven, grads_per_iter: int, grads_init: int, step_size,
            extra: dict) -> RunResult:
    """Every transition pays ``grads_per_iter`` gradients; warmup ``grads_init`` per chain more."""
    zs, info = driven.outs[0]
    z = driver.swap(zs)
    transitions = driver.Transitions(np.full(z.shape[:2], grads_per_iter), info.accept_prob, info.is_divergent)
    grads_warmup = config.num_chains * (grads_init + config.num_warmup * grads_per_iter)
    return driver.result(posterior, driven, z, transitions, grads_warmup, step_size, extra, count_steps=False)


def run(posterior, config: RunConfig, key) -> RunResult:
    """The seed's sampler: burn-in then sampling, both with the fixed-step kernel, chains by vmap."""
    opts = config.options
    step_size = or_default(opts["step_size"], default_step_size(posterior.n))
    num_steps = opts["num_steps"]
    log_density_of, data = posterior.density_and_data()

    def kernel(data):
        return jax.vmap(build_seed_kernel(log_density_of(data), step_size, num_steps))

    def burn_in(z, keys, data):
        step = kernel(data)
        return jax.lax.scan(lambda z, k: (step(k, z)[0], None), z, keys)[0], None

    def sample(z, keys, data):
        step = kernel(data)

        def body(z, k):
            z, info = step(k, z)
            return z, (z, info)

        return jax.lax.scan(body, z, keys)

    z0, warm_keys, sample_keys = driver.starts(posterior, key, config)

    driven = driver.drive(driver.Plan(burn_in, sample, ((z0, warm_keys),), data, sample_keys), config)
    return _result(posterior, config, driven, num_steps + 1, 0, step_size, {"num_steps": num_steps})


# ----------------------------------------------------------------------------- tuned


class AdaptState(NamedTuple):
    """Per-chain warmup state: dual averaging of log step size, Welford variance, inverse mass."""

    log_step: jax.Array
    log_step_avg: jax.Array
    h_bar: jax.Array
    mu: jax.Array  # shrinkage target of log step, log(10 * step) at each (re)start
    t: jax.Array  # dual-averaging iteration count since the last restart
    inverse_mass: jax.Array
    count: jax.Array  # Welford: number of draws in the current slow window
    mean: jax.Array
    m2: jax.Array


def window_schedule(num_warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """Stan's warmup windows: per iteration, (collect draws for the variance, window ends here).

    A fast buffer (75) adapts only the step; slow windows (25, 50, 100, ...;
    the last stretched to the terminal buffer) also collect draws; the
    terminal fast buffer (50) re-tunes the step for the final mass. Warmups
    under 20 iterations adapt the step only; short ones shrink the buffers to
    15 % / 10 % as Stan does.
    """
    collect, end = np.zeros(num_warmup, bool), np.zeros(num_warmup, bool)
    if num_warmup < 20:
        return collect, end
    init_buf, base, term = INIT_BUFFER, BASE_WINDOW, TERM_BUFFER
    if init_buf + base + term > num_warmup:
        init_buf, term = int(0.15 * num_warmup), int(0.1 * num_warmup)
        base = num_warmup - init_buf - term
    start, size, last = init_buf, base, num_warmup - term
    while start < last:
        if start + 3 * size > last:  # the next (doubled) window would not fit: stretch this one
            size = last - start
        collect[start : start + size] = True
        end[start + size - 1] = True
        start, size = start + size, 2 * size
    return collect, end


def _adapt_init(step_size, dim, dtype) -> AdaptState:
    """Fresh adaptation state; every field has ``dtype`` (the position's) so ``lax.scan``'s carry is stable."""
    log_step = jnp.log(jnp.asarray(step_size, dtype))
    zero, zeros = jnp.zeros((), dtype), jnp.zeros(dim, dtype)
    mu = log_step + jnp.log(jnp.asarray(10.0, dtype))
    return AdaptState(log_step, log_step, zero, mu, zero, jnp.ones(dim, dtype), zero, zeros, zeros)


def _adapt_update(s: AdaptState, accept_prob, z, collect, window_end, target) -> AdaptState:
    """One warmup iteration: dual-averaging step on log step; Welford update; mass at a window end."""
    t = s.t + 1.0
    h_bar = (1.0 - 1.0 / (t + DA_T0)) * s.h_bar + (target - accept_prob) / (t + DA_T0)
    log_step = s.mu - jnp.sqrt(t) / DA_GAMMA * h_bar
    eta = t**-DA_KAPPA
    log_step_avg = eta * log_step + (1.0 - eta) * s.log_step_avg
    count = s.count + collect
    delta = z - s.mean
    mean = s.mean + collect * delta / jnp.maximum(count, 1.0)
    m2 = s.m2 + collect * delta * (z - mean)
    s = AdaptState(log_step, log_step_avg, h_bar, s.mu, t, s.inverse_mass, count, mean, m2)
    # Window end: Stan's regularised variance becomes M^-1; dual averaging restarts from the averaged step.
    var = m2 / jnp.maximum(count - 1.0, 1.0)
    restarted = _adapt_init(jnp.exp(log_step_avg), z.shape[-1], z.dtype)._replace(
        inverse_mass=(count / (count + 5.0)) * var + 1e-3 * (5.0 / (count + 5.0))
    )
    return jax.tree.map(lambda a, b: jnp.where(window_end, a, b), restarted, s)


def run_tuned(posterior, config: RunConfig, key) -> RunResult:
    """Gradient reuse + per-chain Stan-style warmup (dual-averaged step, diagonal mass), then fixed-L sampling."""
    opts = config.options
    step0 = or_default(opts["initial_step_size"], default_step_size(posterior.n))
    num_steps = opts["num_steps"]
    target = opts["target_accept"]
    chains = config.num_chains
    log_density_of, data = posterior.density_and_data()

    def warmup(z, keys, collect, window_end, data):
        logdensity = log_density_of(data)
        kernel = build_kernel(logdensity, num_steps)

        def one_chain(key, state, adapt, collect, end):
            state, info = kernel(key, state, jnp.exp(adapt.log_step), adapt.inverse_mass)
            return state, _adapt_update(adapt, info.accept_prob, state.position, collect, end, target)

        step = jax.vmap(one_chain, in_axes=(0, 0, 0, None, None))
        adapt0 = _adapt_init(step0, z.shape[1], z.dtype)
        adapt0 = jax.tree.map(lambda a: jnp.broadcast_to(a, (chains, *a.shape)), adapt0)
        carry = (jax.vmap(init, in_axes=(0, None))(z, logdensity), adapt0)
        carry, _ = jax.lax.scan(lambda c, x: (step(x[0], *c, x[1], x[2]), None), carry, (keys, collect, window_end))
        state, adapt = carry
        return (state, jnp.exp(adapt.log_step_avg), adapt.inverse_mass), None

    def sample(carry, keys, data):
        state, step_size, inverse_mass = carry
        kernel = jax.vmap(build_kernel(log_density_of(data), num_steps))

        def body(s, k):
            s, info = kernel(k, s, step_size, inverse_mass)
            return s, (s.position, info)

        state, out = jax.lax.scan(body, state, keys)
        return (state, step_size, inverse_mass), out

    z0, warm_keys, sample_keys = driver.starts(posterior, key, config)
    collect, window_end = (jnp.asarray(a.astype(z0.dtype)) for a in window_schedule(config.num_warmup))

    start = (z0, warm_keys, collect, window_end)
    driven = driver.drive(driver.Plan(warmup, sample, (start,), data, sample_keys), config)
    step_sizes = np.asarray(driven.carries[0][1])
    extra = {"num_steps": num_steps, "step_size_min": float(step_sizes.min()), "step_size_max": float(step_sizes.max())}
    return _result(posterior, config, driven, num_steps, 1, float(step_sizes.mean()), extra)


HANDROLLED_HMC = Method(
    name="handrolled_hmc",
    library="handrolled",
    runs_to_target=True,
    description="The seed's hand-rolled HMC: fixed step, identity mass, L+1 gradients per iteration",
    run=run,
    options={"step_size": positive(float, None, nullable=True), "num_steps": positive(int, 10)},
)

HANDROLLED_HMC_TUNED = Method(
    name="handrolled_hmc_tuned",
    library="handrolled",
    runs_to_target=True,
    description="Hand-rolled HMC, fixed L, gradient reuse, warmup adapting step (dual averaging) and diagonal mass",
    run=run_tuned,
    options={"initial_step_size": positive(float, None, nullable=True), "num_steps": positive(int, 10),
             "target_accept": probability(0.8)},
)
