"""The classic hand-rolled HMC of the seed: leapfrog in ``lax.fori_loop``, MH accept.

Identity mass matrix, fixed step size and number of leapfrog steps L, no
adaptation: warmup iterations are plain burn-in. Faithful to the seed, it
recomputes the gradient at the current point every iteration, so one
iteration costs L + 1 gradient evaluations. Chains are vectorised with ``vmap``.

Pure ``init``-free kernel in the BlackJAX style: ``build_kernel(logdensity,
step_size, L)`` returns ``kernel(key, position) -> (position, HMCInfo)``; the
caller jits.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from harness.methods.base import Method, RunConfig, RunResult
from harness.timing import compile_timed, run_timed

DIVERGENCE_THRESHOLD = 1000.0  # energy error above which a transition counts as divergent
SEED_STEP_SIZE, SEED_N = 0.05, 569  # the seed's step at N = 569; scaled like 1/sqrt(N)


class HMCInfo(NamedTuple):
    accept_prob: jax.Array
    is_accepted: jax.Array
    is_divergent: jax.Array


def build_kernel(logdensity_fn, step_size: float, num_steps: int):
    """One HMC transition with L = num_steps velocity-Verlet steps and an MH accept."""
    value_and_grad = jax.value_and_grad(logdensity_fn)

    def leapfrog(_, carry):
        z, p, logp, g = carry
        p = p + 0.5 * step_size * g
        z = z + step_size * p
        logp, g = value_and_grad(z)
        p = p + 0.5 * step_size * g
        return z, p, logp, g

    def kernel(key, z):
        key_momentum, key_accept = jax.random.split(key)
        p0 = jax.random.normal(key_momentum, z.shape, z.dtype)
        logp0, g0 = value_and_grad(z)  # recomputed each iteration, as in the seed
        z1, p1, logp1, _ = jax.lax.fori_loop(0, num_steps, leapfrog, (z, p0, logp0, g0))
        delta = (-logp0 + 0.5 * p0 @ p0) - (-logp1 + 0.5 * p1 @ p1)
        delta = jnp.where(jnp.isnan(delta), -jnp.inf, delta)
        p_accept = jnp.clip(jnp.exp(delta), max=1.0)
        accept = jax.random.bernoulli(key_accept, p_accept)
        return jnp.where(accept, z1, z), HMCInfo(p_accept, accept, -delta > DIVERGENCE_THRESHOLD)

    return kernel


def default_step_size(n: int | None) -> float:
    """The seed's step 0.05 at N = 569, scaled like 1/sqrt(N) for other sizes."""
    return SEED_STEP_SIZE * math.sqrt(SEED_N / n) if n else SEED_STEP_SIZE


def run(posterior, config: RunConfig, key) -> RunResult:
    opts = config.options
    step_size = float(opts["step_size"] or default_step_size(posterior.n))
    num_steps = int(opts["num_steps"])
    chains = config.num_chains
    kernel = jax.vmap(build_kernel(posterior.log_density, step_size, num_steps))

    def burn_in(z, keys):
        return jax.lax.scan(lambda z, k: (kernel(k, z)[0], None), z, keys)[0]

    def sample(z, keys):
        def body(z, k):
            z, info = kernel(k, z)
            return z, (z, info)

        return jax.lax.scan(body, z, keys)[1]

    key_init, key_warmup, key_sample = jax.random.split(key, 3)
    z0 = posterior.initial_positions(key_init, chains)
    warm_keys = jax.random.split(key_warmup, (config.num_warmup, chains))
    sample_keys = jax.random.split(key_sample, (config.num_samples, chains))

    burn_in_c, t_c1 = compile_timed(burn_in, z0, warm_keys)
    sample_c, t_c2 = compile_timed(sample, z0, sample_keys)
    z_warm, warmup_s = run_timed(burn_in_c, z0, warm_keys)
    (zs, info), sample_s = run_timed(sample_c, z_warm, sample_keys)

    per_iter = (num_steps + 1) * chains
    z = np.swapaxes(np.asarray(zs), 0, 1)  # (draw, chain, dim) -> (chain, draw, dim)
    return RunResult(
        draws=posterior.layout.constrain(z),
        grad_evals_warmup=config.num_warmup * per_iter,
        grad_evals_sample=config.num_samples * per_iter,
        compile_s=t_c1 + t_c2,
        warmup_s=warmup_s,
        sample_s=sample_s,
        accept_rate=float(np.mean(info.accept_prob)),
        divergences=int(np.sum(info.is_divergent)),
        step_size=step_size,
        extra={"num_steps": num_steps},
    )


HANDROLLED_HMC = Method(
    name="handrolled_hmc",
    description="The seed's hand-rolled HMC: fixed step, identity mass, L+1 gradients per iteration",
    run=run,
    options={"step_size": None, "num_steps": 10},
)
