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
