"""Compile / run split for jitted JAX functions.

Compile time is taken apart from run time with ahead-of-time lowering:
``jax.jit(f).lower(*args).compile()`` traces, lowers and compiles without
running, so the timed call that follows never contains a compile. Every timed
result is blocked on (JAX dispatch is asynchronous).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax


def compile_timed(fn: Callable, *args, static_argnums=()) -> tuple[Callable, float]:
    """Trace, lower and compile ``fn`` for ``args``; returns (compiled, seconds)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn, static_argnums=static_argnums).lower(*args).compile()
    return compiled, time.perf_counter() - t0


def run_timed(compiled: Callable, *args) -> tuple[Any, float]:
    """Call an already compiled function and block on its result; returns (out, seconds)."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return out, time.perf_counter() - t0


def gradient_floor(
    log_density: Callable, positions, num_iters: int = 100, repeats: int = 5, budget_s: float | None = None
) -> float:
    """Seconds per gradient evaluation per point: the cost floor a gradient-based sampler pays.

    One jitted ``value_and_grad`` of the flat log density, vmapped over the batch
    ``positions`` (batch, dim) (the chain batch the method uses: chains share the
    reads of the data), iterated in a ``lax.fori_loop`` with a data dependency on
    the gradient and the value so nothing is hoisted or dropped. Compiled first (the trip count is an argument, so one
    compile serves every length), then the median of ``repeats`` blocked runs
    divided by iterations * batch.

    ``budget_s``: when given, the number of iterations is chosen so that all
    repeats together take about ``budget_s`` (at least 1 iteration), found by
    growing a probe run 4x until it takes 10 ms; ``num_iters`` is then ignored.
    This keeps tiny gradients timed over many iterations and huge ones affordable.
    """
    import jax.numpy as jnp

    value_and_grad = jax.vmap(jax.value_and_grad(log_density))

    def loop(z, n):
        # The value is used too (summed), as every sampler uses log p in its accept
        # step: a loop that drops it was measured about 5x slower on CPU, an XLA
        # fusion artefact that would make every overhead ratio look too good.
        def body(_, carry):
            z, total = carry
            logp, g = value_and_grad(z)
            return z + jnp.asarray(1e-12, z.dtype) * g, total + jnp.sum(logp)

        return jax.lax.fori_loop(0, n, body, (z, jnp.zeros((), z.dtype)))

    compiled, _ = compile_timed(loop, positions, jnp.int32(1))
    if budget_s is not None:
        n, t = 1, run_timed(compiled, positions, jnp.int32(1))[1]  # first run: first-touch of buffers
        while t < 0.01 and n < 2**22:
            n *= 4
            t = run_timed(compiled, positions, jnp.int32(n))[1]
        num_iters = max(1, int(budget_s / repeats / (t / n)))
    else:
        run_timed(compiled, positions, jnp.int32(num_iters))  # one untimed run: first-touch of buffers
    times = sorted(run_timed(compiled, positions, jnp.int32(num_iters))[1] for _ in range(repeats))
    return times[len(times) // 2] / (num_iters * positions.shape[0])
