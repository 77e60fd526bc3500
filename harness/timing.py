"""Compile / run split for jitted JAX functions.

Compile time is taken apart from run time with ahead-of-time lowering:
``jax.jit(f).lower(*args).compile()`` traces, lowers and compiles without
running, so the timed call that follows never contains a compile. Every timed
result is blocked on (JAX dispatch is asynchronous).

A sampling loop timed once is noise on a shared machine (loops of 10-50 ms
differed up to 3.4x between two runs of one suite). So every figure comes from
:func:`replay_paired`: the recorded loop is re-run with the same arguments (the
same executable and work), each run followed by the gradient-floor loop of the
same density at the same batch and positions; the median run is the time, the
median per-pair ratio the overhead over the floor.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import statistics
import time
from typing import Any, Callable, NamedTuple

import jax


def compile_timed(fn: Callable, *args, static_argnums=()) -> tuple[Callable, float]:
    """Trace, lower and compile ``fn`` for ``args``; returns (compiled, seconds)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn, static_argnums=static_argnums).lower(*args).compile()
    return compiled, time.perf_counter() - t0


#: JAX's own compile events (``jax.monitoring``) -> the row's column that sums them.
COMPILE_EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace_s",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower_s",
    "/jax/core/compile/backend_compile_duration": "xla_compile_s",
}


#: Fired with its read time when a program comes from JAX's persistent compilation cache.
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_retrieval_time_sec"


@contextlib.contextmanager
def compile_phases():
    """Seconds JAX spent inside the block tracing to jaxprs (``trace_s``), lowering to MLIR
    (``lower_s``) and compiling with XLA (``xla_compile_s``), summed over every program any library
    compiled (a sampler's loops, NumPyro's initialisation and its small jits, an eager op's
    kernel), the number of XLA compiles (``compiles``) and of programs read from the persistent
    compilation cache (``cache_hits``: 0 in a measured cell, whose cache is off): from JAX's own
    monitoring events, so the three mean the same for every library. Yields the dict, filled when
    the block ends.

    Why: ``compile_s`` is one number (the ahead-of-time compile of the method's loops), and
    NumPyro's ``init`` sits apart in ``init_s`` while BlackJAX's tracing sits inside ``compile_s``.
    The events split both the same way: Python tracing (model size, unrolled loops) apart from
    XLA's work (program size). A persistent-cache hit still fires ``backend_compile_duration``
    (NOTES), with the time of the cache read."""
    import jax.monitoring

    out = {name: 0.0 for name in COMPILE_EVENTS.values()} | {"compiles": 0, "cache_hits": 0}

    def listen(event: str, seconds: float, **_):
        name = COMPILE_EVENTS.get(event)
        if name is not None:
            out[name] += seconds
            out["compiles"] += name == "xla_compile_s"
        out["cache_hits"] += event == CACHE_HIT_EVENT

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield out
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


def hlo_ops(compiled) -> int | None:
    """Instructions in a compiled program's optimised HLO (lines that assign a value), a measure of
    the program XLA compiled and runs; None where the object has no HLO text (a plain function)."""
    try:
        text = compiled.as_text()
    except Exception:  # noqa: BLE001 - not a jax Compiled (e.g. sequential chains' wrapper)
        return None
    return sum(" = " in line for line in text.splitlines()) if text else None


def run_timed(compiled: Callable, *args) -> tuple[Any, float]:
    """Call an already compiled function and block on its result; returns (out, seconds)."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return out, time.perf_counter() - t0


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
        return jax.lax.fori_loop(0, n, floor_step(log_density_of(data)), (z, jnp.zeros((), z.dtype)))

    return loop


def floor_step(log_density) -> Callable:
    """One trip of the floor loop, ``(i, (z, total)) -> (z, total)``: a vmapped ``value_and_grad`` of
    ``log_density`` whose gradient moves z by a negligible step (a data dependency between trips)
    and whose value is summed (see :func:`_floor_loop_fn`)."""
    import jax.numpy as jnp

    value_and_grad = jax.vmap(jax.value_and_grad(log_density))

    def body(_, carry):
        z, total = carry
        logp, g = value_and_grad(z)
        return z + jnp.asarray(1e-12, z.dtype) * g, total + jnp.sum(logp)

    return body


class TimedCall(NamedTuple):
    """A compiled function, the arguments it was (or is to be) called with, and seconds / work.

    ``seconds`` is what one blocked call took when recorded; ``work`` is the
    number of units (e.g. gradient evaluations) one call performs, when known.
    A method's result carries its sampling loop as one (``RunResult.loop``), which the
    cell replays (:func:`replay_paired`): the same executable and arguments, so the same work.
    """

    compiled: Callable
    args: tuple
    seconds: float = float("nan")
    work: float = 1

    def __call__(self) -> float:
        """Call again with the same arguments, blocked on; returns seconds."""
        return run_timed(self.compiled, *self.args)[1]


def program_id(call: TimedCall) -> str:
    """An identity of the compiled program a timed call runs (:func:`program`): a hash of its optimised
    HLO (shapes and dtypes of every input included) without its source metadata (which names the lines
    that traced it), and the jax and jaxlib that compiled it. Two calls with one id run the same
    program under the same compiler, so their timings differ by the host alone (``harness compare``
    normalises by the host reference only then)."""
    import jaxlib

    hlo = program(call).as_text().split("\nFileNames\n")[0]
    hlo = re.sub(r",? ?(metadata=\{[^{}]*\}|stack_frame_id=\d+)", "", hlo)
    text = f"{jax.__version__} {jaxlib.__version__}\n{hlo}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _run_in_order(*calls: TimedCall) -> list:
    return [jax.block_until_ready(c.compiled(*c.args)) for c in calls]


def chain(calls: list[TimedCall]) -> TimedCall:
    """Several timed calls as one re-runnable TimedCall: run in order, their seconds summed.

    A loop run in pieces (chunks to a target, NumPyro's sequential chains, SVI's optimisation
    chunks and its draw) is replayed whole, each piece with its own recorded arguments; the
    pieces are the chained call's ``args``. One call is returned as it is.
    """
    if len(calls) == 1:
        return calls[0]
    return TimedCall(_run_in_order, tuple(calls), sum(c.seconds for c in calls))


def program(call: TimedCall):
    """The compiled program a timed call runs; for a chained call (:func:`chain`), its first piece's
    (the pieces of a loop run in chunks, or chain by chain, are one program called again)."""
    while call.compiled is _run_in_order and call.args:
        call = call.args[0]
    return call.compiled


#: The floor is the fastest of this many compiled copies where copies differ (see :func:`floor_copies`).
FLOOR_COPIES = 3
#: From this N on a floor compiles ``FLOOR_COPIES`` copies; below it, one (:func:`floor_copies`).
FLOOR_COPIES_MIN_N = 50_000
#: Seconds of each trial run that picks the fastest copy, and how many trials each copy gets.
FLOOR_TRIAL_S = 0.02
FLOOR_TRIALS = 2


def floor_copies(n: int | None) -> int:
    """How many compiled copies a floor picks its fastest from (:func:`floor_loop`), at data size ``n``.

    Copies of one program keep their own speeds where the data is large: held to one core, the seed
    density's floor at N = 1e5 ran 263-317 us per gradient over 20 copies, each copy within a few %
    of itself. Where the data is small they do not: at N = 569, 2.73-2.93 us over 18 copies in 3
    processes, and at 1e4 40.8-43.1 us (``python -m benchmarks.thread_split --n N --density target
    --processes 3``, 2-core Intel Xeon, docs/methodology.md "Floor"). A copy costs a compile (about
    0.3 s at 569, a tenth of a small cell's work), so below ``FLOOR_COPIES_MIN_N`` (and for a
    posterior without a size) a floor is one copy; from it on, ``FLOOR_COPIES``."""
    return FLOOR_COPIES if n is not None and n >= FLOOR_COPIES_MIN_N else 1


def floor_loop(log_density_of: Callable, data, positions, seconds: float = 0.05,
               copies: int = FLOOR_COPIES) -> TimedCall:
    """The compiled gradient-floor loop (:func:`_floor_loop_fn`) as a re-runnable TimedCall.

    Compiled ``copies`` times (the trip count is an argument); the first copy is run once
    untimed (first touch of the buffers), then sized: a probe run grows 4x until it takes
    10 ms, and the trip count is set so one call takes about ``seconds``. ``work`` =
    iterations * batch gradient evaluations, so ``call() / call.work`` is seconds per
    gradient per point at the batch shape of ``positions`` (batch, dim).

    Why several copies: compiled copies of the same program run at different speeds, each
    copy keeping its own (held to one core, the seed density's floor at N = 1e5: 263-317 us
    per gradient over 20 copies in 4 processes, each copy within a few % of itself;
    ``python -m benchmarks.thread_split --n 100000 --density target``). One copy made the
    floor as random as that, and a method whose own copy happened to be fast beat "its
    floor" (ratio 0.92). A floor is the least the gradients cost, so the floor is the
    fastest copy: each copy runs
    ``FLOOR_TRIALS`` trials of about ``FLOOR_TRIAL_S`` seconds, round robin (so a slow
    moment of the host hits every copy alike), and the copy with the least best trial is
    returned. Where copies do not differ (small data) a cell asks for one (:func:`floor_copies`).
    """
    import jax.numpy as jnp

    # A new function object for each copy: jit's cache is per function, so each is compiled anew.
    compiled = [compile_timed(_floor_loop_fn(log_density_of), positions, jnp.int32(1), data)[0]
                for _ in range(copies)]
    run_timed(compiled[0], positions, jnp.int32(1), data)  # first touch, untimed: it can take 10x a run
    n, t = 1, run_timed(compiled[0], positions, jnp.int32(1), data)[1]
    while t < 0.01 and n < 2**22:
        n *= 4
        t = run_timed(compiled[0], positions, jnp.int32(n), data)[1]
    per_iter = t / n
    iters = max(1, round(seconds / per_iter))
    work = iters * positions.shape[0]
    best = [math.inf] * copies
    if copies > 1:
        trial = jnp.int32(max(1, round(min(seconds, FLOOR_TRIAL_S) / per_iter)))
        for _ in range(FLOOR_TRIALS):
            for i, c in enumerate(compiled):
                best[i] = min(best[i], run_timed(c, positions, trial, data)[1])
    fastest = compiled[best.index(min(best))]
    return TimedCall(fastest, (positions, jnp.int32(iters), data), work=work)


#: Replay rule (see :func:`replay_count`).
REPLAY_BUDGET_S = 1.0  # a probe's (asv, pytest-benchmark): it has no work of its own to take a share of
CELL_BUDGET_MIN_S = 0.5  # a cell's least
REPLAY_SHARE = 0.05
MIN_REPLAYS = 5
MAX_REPLAYS = 100
FLOOR_CALL_S = (0.01, 0.25)  # a floor run lasts half as long as one loop run, within these bounds


def replay_budget_s(work_s: float | None = None) -> float:
    """Seconds of replays, with their paired floor runs, a cell may spend: ``REPLAY_SHARE`` (5 %)
    of the cell's own work (compile + init + warmup + the sampling loop's first run), at least
    ``CELL_BUDGET_MIN_S`` (0.5 s); ``REPLAY_BUDGET_S`` (1 s) where the work is not given (the asv
    probe, pytest-benchmark).

    Why a share of the work: the replays and their paired floor runs were most of what a cell
    spent beyond its own work (``replay_s`` of the rows; wall over work had median 2.24 in
    results/default-target-2), and more timings of one process do not narrow what ``compare``
    judges: two processes differ by more than one process's replays do (``stats.PROCESS_NOISE``,
    see docs/methodology.md "Noise"). So a cell times its loop as often as a twentieth of its own
    cost allows, and several seeds (several processes) are what narrows a verdict. It was 10 %, at
    least 1 s, while the replays stayed the largest part of what the median cell spent beyond its
    work (docs/methodology.md "Phases"); at 0.5 s a loop under 70 ms is still timed five times."""
    return REPLAY_BUDGET_S if work_s is None else max(CELL_BUDGET_MIN_S, REPLAY_SHARE * work_s)


def replay_count(first_s: float, work_s: float | None = None) -> tuple[int, bool]:
    """How many times to re-run a sampling loop whose first run took ``first_s`` seconds, in a
    cell whose work took ``work_s`` (:func:`replay_budget_s`).

    Returns (replays, whether the first run counts as one of the timings). With ``k`` =
    budget // (``first_s`` + its floor run, :func:`floor_call_seconds`) pairs affordable:

    - ``k >= MIN_REPLAYS`` (5): ``k`` replays, at most 100; the first run is left out (it pays
      the first touch of buffers and caches, which matters only for short loops);
    - ``2 <= k < 5``: the first run counts, plus ``k`` replays (a median of three or more, which
      one disturbed timing cannot move: with two, a timing slowed 50 % moved the median 25 %);
    - ``k < 2``: the first run alone (its own length averages over the host's short disturbances;
      ``compare`` then falls back to its stated threshold, never below ``stats.PROCESS_NOISE``).
    """
    budget = replay_budget_s(work_s)
    if not first_s > 0:
        return MIN_REPLAYS, False
    pair = first_s + floor_call_seconds(first_s)
    k = math.floor(budget / pair + 1e-9)  # budget // pair, without 1.0 // 0.05 == 19.0
    if k >= MIN_REPLAYS:
        return min(MAX_REPLAYS, k), False
    if k >= 2:
        return k, True
    return 0, True


def floor_call_seconds(first_s: float) -> float:
    """How long one floor run of a pair lasts: half the loop's run, within FLOOR_CALL_S. Half: the
    floor's figure is a rate (seconds per gradient) of one fixed program, steady within a few % over
    10 ms (``benchmarks.thread_split`` runs it 0.2 s), while the loop's run is what the row reports."""
    lo, hi = FLOOR_CALL_S
    return min(max(first_s / 2, lo), hi)


def replay_cost_s(first_s: float, work_s: float | None = None, copies: int = 1) -> float:
    """Seconds the replay protocol adds to a cell whose sampling loop took ``first_s`` and whose
    work took ``work_s``: the replays and one floor run per timing (plus the untimed first floor
    run), the host reference's runs (one untimed, then after the first, middle and last pair),
    and the trials that pick the fastest of the floor's ``copies`` (:func:`floor_loop`; none for one
    copy); the cost model's figure (``harness list suites``), the floor's and the reference's
    compiles and sizing aside."""
    replays, first_counts = replay_count(first_s, work_s)
    pairs = replays + first_counts
    refs = 1 + len({0, pairs // 2, pairs - 1})
    trials = copies * FLOOR_TRIALS * min(floor_call_seconds(first_s), FLOOR_TRIAL_S) if copies > 1 else 0.0
    return replays * first_s + (pairs + 1 + refs) * floor_call_seconds(first_s) + trials


class Replay(NamedTuple):
    """Timings of a sampling loop paired with the gradient-floor loop (:func:`replay_paired`).

    ``loop_s``: seconds of each timed run of the loop; ``floor_s``: seconds per gradient
    per point of the floor run right after it; ``ratios``: per pair, the loop's seconds per
    unit of work over ``floor_s`` (NaN when the loop's work is 0 or unknown); ``ref_s``:
    seconds per gradient per point of the host reference (:func:`replay_paired`), if any, and
    ``ref_program`` its program's identity (:func:`program_id`).
    """

    loop_s: tuple[float, ...]
    floor_s: tuple[float, ...]
    ratios: tuple[float, ...]
    ref_s: tuple[float, ...] = ()
    ref_program: str | None = None

    @property
    def seconds(self) -> float:
        """Median loop seconds: the row's ``sample_s``."""
        return statistics.median(self.loop_s)

    @property
    def floor(self) -> float:
        """Median floor seconds per gradient per point."""
        return statistics.median(self.floor_s)

    @property
    def ratio(self) -> float:
        """Median of the per-pair ratios: the row's ``overhead_ratio``."""
        return statistics.median(self.ratios)

    @property
    def per_work(self) -> float:
        """Median loop seconds per unit of work (ratio x floor, pair by pair)."""
        return statistics.median(r * f for r, f in zip(self.ratios, self.floor_s))

    @property
    def ref(self) -> float:
        """Median host-reference seconds per gradient per point (NaN when none was timed)."""
        return statistics.median(self.ref_s) if self.ref_s else math.nan


def replay_paired(loop: TimedCall, floor: TimedCall, ref: TimedCall | None = None,
                  work_s: float | None = None) -> Replay:
    """Re-run ``loop`` (same executable, same arguments: the same work) interleaved with ``floor``.

    The one procedure behind every overhead ratio (the cell's row, the asv probe, the
    pytest-benchmark budget). ``loop.seconds`` is its first run (the one that produced
    the draws); :func:`replay_count` says how many replays follow and whether the first
    run counts, from the cell's ``work_s`` (None: the fixed default budget). The floor runs
    once untimed, then right after each timed loop run
    (loop, floor, loop, floor, ...): adjacent runs see the same machine load, so the
    median of the per-pair ratios cancels slow drifts and ignores a few disturbed pairs.
    ``loop.work`` is the loop's work in the floor's unit (gradient evaluations per
    point); 0 makes the ratios NaN while the timings still come out.

    ``ref`` (optional) is a host reference: a gradient loop whose program and inputs are
    the same in every cell that compares with this one (the cell's ``ref_group``). It
    runs once untimed, then after the floor of the first, middle and last pair, so it sees
    the machine as the replays saw it; a run whose reference is slower than its group's
    says the host, not the method, was slow (:mod:`harness.recheck`).
    """
    replays, first_counts = replay_count(loop.seconds, work_s)
    floor()
    if ref is not None:
        ref()
    loop_s, floor_s, ref_s = [], [], []
    pairs = replays + first_counts
    ref_at = {0, pairs // 2, pairs - 1} if ref is not None else set()
    for i in range(pairs):
        loop_s.append(loop.seconds if first_counts and i == 0 else loop())
        floor_s.append(floor() / floor.work)
        if i in ref_at:
            ref_s.append(ref() / ref.work)
    ratios = tuple(t / loop.work / f if loop.work > 0 else math.nan for t, f in zip(loop_s, floor_s))
    return Replay(tuple(loop_s), tuple(floor_s), ratios, tuple(ref_s), program_id(ref) if ref is not None else None)
