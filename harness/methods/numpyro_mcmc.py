"""NumPyro MCMC kernels driven under our own ``jit`` + ``lax.scan``.

``numpyro.infer.MCMC.run`` re-traces and recompiles its loop on every call, so
its wall time mixes compile and sampling. Here the kernel's ``init`` and
``sample`` are used directly: warmup (adaptation) and sampling loops are
compiled ahead of time, then run and blocked on separately. Chains are
vectorised: ``kernel.init`` with a batch of keys vmaps ``sample``.

Gradient evaluations are the sum of ``num_steps`` over iterations and chains
(one leapfrog step = one gradient). Not counted: the few gradients of NumPyro's
heuristic step-size search at init and at each adaptation-window end.
"""

from __future__ import annotations

import time

import jax
import numpy as np
from numpyro.infer import NUTS

from harness.methods.base import Method, RunConfig, RunResult
from harness.timing import compile_timed, run_timed


def _run_kernel(kernel, posterior, config: RunConfig, key) -> RunResult:
    chains, data = config.num_chains, posterior.data
    key_init, key_kernel = jax.random.split(key)
    z0 = posterior.initial_positions(key_init, chains)
    init_params = posterior.layout.unflatten(z0)

    t0 = time.perf_counter()
    state = kernel.init(jax.random.split(key_kernel, chains), config.num_warmup, init_params, (), data)
    state = jax.block_until_ready(state)
    init_s = time.perf_counter() - t0

    def warmup(state, data):
        def body(s, _):
            s = kernel.sample(s, (), data)
            return s, s.num_steps

        return jax.lax.scan(body, state, None, length=config.num_warmup)

    def sample(state, data):
        def body(s, _):
            s = kernel.sample(s, (), data)
            return s, (s.z, s.num_steps, s.accept_prob, s.diverging)

        return jax.lax.scan(body, state, None, length=config.num_samples)

    warmup_c, t_c1 = compile_timed(warmup, state, data)
    sample_c, t_c2 = compile_timed(sample, state, data)
    (state, warm_steps), warmup_s = run_timed(warmup_c, state, data)
    (state, (zs, steps, accept, diverging)), sample_s = run_timed(sample_c, state, data)

    z = np.swapaxes(np.asarray(posterior.layout.flatten(zs)), 0, 1)  # (chain, draw, dim)
    return RunResult(
        draws=posterior.layout.constrain(z),
        grad_evals_warmup=int(np.sum(warm_steps)),
        grad_evals_sample=int(np.sum(steps)),
        compile_s=t_c1 + t_c2,
        warmup_s=warmup_s,
        sample_s=sample_s,
        accept_rate=float(np.mean(accept)),
        divergences=int(np.sum(diverging)),
        step_size=float(np.mean(state.adapt_state.step_size)),
        extra={"init_s": init_s, "mean_num_steps": float(np.mean(steps))},
    )


def run_nuts(posterior, config: RunConfig, key) -> RunResult:
    kernel = NUTS(posterior.target.model, **config.options)
    return _run_kernel(kernel, posterior, config, key)


NUMPYRO_NUTS = Method(
    name="numpyro_nuts",
    description="NumPyro NUTS with its default warmup (step size and diagonal mass adaptation)",
    run=run_nuts,
    options={"target_accept_prob": 0.8, "max_tree_depth": 10, "dense_mass": False},
)
