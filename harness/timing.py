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


def gradient_floor(log_density: Callable, positions, num_iters: int = 100, repeats: int = 5) -> float:
    """Seconds per gradient evaluation per point: the cost floor a gradient-based sampler pays.

    One jitted ``value_and_grad`` of the flat log density, vmapped over the batch
    ``positions`` (batch, dim) (the chain batch the method uses: chains share the
    reads of the data), iterated ``num_iters`` times in a ``lax.fori_loop`` with a
    data dependency so nothing is hoisted. Compiled first, then the median of
    ``repeats`` blocked runs divided by num_iters * batch.
    """
    import jax.numpy as jnp

    value_and_grad = jax.vmap(jax.value_and_grad(log_density))

    def loop(z):
        def body(_, z):
            _, g = value_and_grad(z)
            return z + jnp.asarray(1e-12, z.dtype) * g

        return jax.lax.fori_loop(0, num_iters, body, z)

    compiled, _ = compile_timed(loop, positions)
    run_timed(compiled, positions)  # one untimed run: first-touch of buffers
    times = sorted(run_timed(compiled, positions)[1] for _ in range(repeats))
    return times[len(times) // 2] / (num_iters * positions.shape[0])
