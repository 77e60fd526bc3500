"""Compile / run split for jitted JAX functions.

Compile time is taken apart from run time with ahead-of-time lowering:
``jax.jit(f).lower(*args).compile()`` traces, lowers and compiles without
running, so the timed call that follows never contains a compile. Every timed
result is blocked on (JAX dispatch is asynchronous).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any, Callable, NamedTuple

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
    seconds = time.perf_counter() - t0
    for runs in _RECORDERS:
        runs.append(TimedCall(compiled, args, seconds))
    return out, seconds


def _floor_loop_fn(log_density_of: Callable) -> Callable:
    """``loop(z, n, data)``: n vmapped ``value_and_grad`` evaluations with a data dependency.

    ``log_density_of(data)`` builds the log density from the data passed as an
    argument, as the samplers do (see ``Posterior.density_and_data``), so the floor
    and the sampler compile the same kind of program.

    The value is used too (summed), as every sampler uses log p in its accept
    step: a loop that drops it was measured about 5x slower on CPU, an XLA fusion
    artefact that would make every overhead ratio look too good.
    """
    import jax.numpy as jnp

    def loop(z, n, data):
        value_and_grad = jax.vmap(jax.value_and_grad(log_density_of(data)))

        def body(_, carry):
            z, total = carry
            logp, g = value_and_grad(z)
            return z + jnp.asarray(1e-12, z.dtype) * g, total + jnp.sum(logp)

        return jax.lax.fori_loop(0, n, body, (z, jnp.zeros((), z.dtype)))

    return loop


def gradient_floor(
    log_density_of: Callable, data, positions, num_iters: int = 100, repeats: int = 5, budget_s: float | None = None
) -> float:
    """Seconds per gradient evaluation per point: the cost floor a gradient-based sampler pays.

    One jitted ``value_and_grad`` of the flat log density ``log_density_of(data)``
    (data a jit argument, as in the samplers), vmapped over the batch
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

    compiled, _ = compile_timed(_floor_loop_fn(log_density_of), positions, jnp.int32(1), data)
    if budget_s is not None:
        n, t = 1, run_timed(compiled, positions, jnp.int32(1), data)[1]  # first run: first-touch of buffers
        while t < 0.01 and n < 2**22:
            n *= 4
            t = run_timed(compiled, positions, jnp.int32(n), data)[1]
        num_iters = max(1, int(budget_s / repeats / (t / n)))
    else:
        run_timed(compiled, positions, jnp.int32(num_iters), data)  # one untimed run: first-touch of buffers
    times = sorted(run_timed(compiled, positions, jnp.int32(num_iters), data)[1] for _ in range(repeats))
    return times[len(times) // 2] / (num_iters * positions.shape[0])


class TimedCall(NamedTuple):
    """A compiled function, the arguments it was (or is to be) called with, and seconds / work.

    ``seconds`` is what one blocked call took when recorded; ``work`` is the
    number of units (e.g. gradient evaluations) one call performs, when known.
    """

    compiled: Callable
    args: tuple
    seconds: float = float("nan")
    work: int = 1

    def __call__(self) -> float:
        """Call again with the same arguments, blocked on; returns seconds."""
        return run_timed(self.compiled, *self.args)[1]


_RECORDERS: list[list[TimedCall]] = []


@contextlib.contextmanager
def recording_runs():
    """Record every :func:`run_timed` call made inside the block, as TimedCall records.

    Benchmarks use it to re-run exactly the compiled loop a method timed (same
    executable, same arguments, so the same work and gradient count) without a
    second copy of any sampler. Recording keeps references to the arguments alive
    until the list is dropped.
    """
    runs: list[TimedCall] = []
    _RECORDERS.append(runs)
    try:
        yield runs
    finally:
        _RECORDERS.remove(runs)


def capture_run(fn: Callable[[], Any], seconds_of: Callable[[Any], float]) -> tuple[Any, TimedCall]:
    """Call ``fn()`` while recording, and return (its result, the recorded call that took
    ``seconds_of(result)`` seconds).

    E.g. ``capture_run(lambda: method.run(posterior, config, key), lambda r: r.sample_s)``
    gives the RunResult and the method's compiled sampling loop with its
    arguments: methods store the seconds :func:`run_timed` returned, so the match
    is exact. Raises LookupError when no recorded call took exactly that long (a
    method that does not time that phase through :func:`run_timed`).
    """
    with recording_runs() as runs:
        result = fn()
    wanted = seconds_of(result)
    for call in runs:
        if call.seconds == wanted:
            return result, call
    raise LookupError(f"no run_timed call took exactly {wanted!r} s among {len(runs)} recorded")


def floor_loop(log_density_of: Callable, data, positions, num_iters: int = 100) -> TimedCall:
    """The compiled gradient-floor loop of :func:`gradient_floor` as a re-runnable TimedCall.

    ``work`` = num_iters * batch gradient evaluations, so ``call() / call.work``
    is seconds per gradient per point at the batch shape of ``positions``.
    """
    import jax.numpy as jnp

    n = jnp.int32(num_iters)
    compiled, _ = compile_timed(_floor_loop_fn(log_density_of), positions, n, data)
    return TimedCall(compiled, (positions, n, data), work=num_iters * positions.shape[0])


class PairedRatio(NamedTuple):
    """Median of per-pair ratios (a / a.work) / (b / b.work) over interleaved repeats."""

    ratio: float
    a_per_work: float  # median seconds per unit of work of a
    b_per_work: float  # median seconds per unit of work of b
    ratios: tuple[float, ...]


def paired_ratio(a: TimedCall, b: TimedCall, repeats: int = 7) -> PairedRatio:
    """Cost of ``a`` per unit of work over that of ``b``, robust to a noisy host.

    Both are run once untimed (first touch), then ``repeats`` times alternately
    (a, b, a, b, ...): each adjacent pair sees the same machine load, so the
    median of the per-pair ratios cancels slow drifts and ignores a few disturbed
    pairs, where a ratio of two separately measured medians would not.
    """
    a(), b()
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(a() / a.work)
        tb.append(b() / b.work)
    ratios = tuple(x / y for x, y in zip(ta, tb))
    return PairedRatio(statistics.median(ratios), statistics.median(ta), statistics.median(tb), ratios)
