"""The one driver of every MCMC method: compile, time, run in chunks to a target, carry the loop.

A method describes its loops as a :class:`Plan` (its warmup, one chunk of sampling, where the
chains start, the data, the sampling keys) and reads its statistics off the outputs
(:class:`Transitions`); :func:`drive` does the rest the same way for every library:

- compiles warmup and sampling ahead of time (:func:`harness.timing.compile_timed`), so no timed
  call contains a compile, and runs each blocked and timed apart;
- samples ``num_samples`` draws (a fixed budget), or runs the chunk again and again to the
  target with the check schedule of :mod:`harness.methods.to_target`;
- returns the timed sampling calls as one :class:`harness.timing.TimedCall`, which
  :func:`result` puts in ``RunResult.loop`` for the cell's replays (:mod:`harness.worker`).

Why one driver: the sequence was written four times, and the loop the replays re-run reached the
worker through a module-level recorder; now it travels in the result.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import numpy as np

from harness import prep
from harness.methods import to_target
from harness.methods.base import RunConfig, RunResult
from harness.timing import TimedCall, chain, compile_timed, run_timed


def _same(fn: Callable) -> Callable:
    return fn


def _first(out):
    return out[0]


class Plan(NamedTuple):
    """What a method hands the driver.

    Attributes:
        warmup: ``warmup(*start, data) -> (carry, info)``: adaptation or burn-in; ``info`` is what the
            method reads afterwards (warmup gradients, step sizes), or None.
        sample: ``sample(carry, keys, data) -> (carry, out)`` (``sample(carry, data)`` when ``keys`` is
            None): one chunk of ``num_samples`` draws; the carry it returns is where the next chunk starts.
        starts: the warmup's leading arguments, one tuple per run of the two loops: one (every chain
            in one program) or one per chain (chains one after another: NumPyro's ``sequential``).
        data: the device arrays both loops take as their last argument (never closure constants).
        keys: sampling keys shaped (draws, chains); chunk k takes rows k*S .. (k+1)*S - 1
            (:func:`harness.methods.to_target.sample_keys`); None: the kernel carries its keys in its state.
        positions: ``out -> unconstrained positions (draw, chain, dim)``, for a run to a target's checks.
        jit: wraps each loop before its compile (NumPyro's ``parallel`` chains: ``pmap``).
        place: ``(compiled warmup, start, data) -> (start, data)`` placed where the compiled program
            wants them, before any timed call (``pmap``'s shards); None: as they are.
    """

    warmup: Callable
    sample: Callable
    starts: tuple
    data: Any
    keys: Any = None
    positions: Callable = _first
    jit: Callable = _same
    place: Callable | None = None


class Driven(NamedTuple):
    """What :func:`drive` ran, per run of the loops (one, or one per chain): final carries, warmup
    infos and sampling outputs (chunks concatenated along the draws); seconds; the timed sampling
    loop; what a run to a target did (``reached_target``, ``target_checks``, ``diagnostic_s``,
    ``target_draws``; empty for a fixed budget)."""

    carries: list
    infos: list
    outs: list
    compile_s: float
    warmup_s: float
    sample_s: float
    loop: TimedCall
    done: dict


def starts(posterior, key, config: RunConfig, split_warmup: bool = True) -> tuple:
    """From a cell's key, as every hand-written loop here takes them: ``key`` split in three, the
    chains' initial positions (:meth:`harness.targets.Posterior.initial_positions`), the warmup's keys
    (split (warmup, chains), or the warmup's one key where ``split_warmup`` is False) and the sampling
    keys (:func:`harness.methods.to_target.sample_keys`).

    In one compiled program (:mod:`harness.prep`), not one per split and draw; the same bits."""
    chains = config.num_chains

    @prep.jit
    def split(key):
        key_init, key_warmup, key_sample = jax.random.split(key, 3)
        warm = jax.random.split(key_warmup, (config.num_warmup, chains)) if split_warmup else key_warmup
        return (posterior.initial_positions(key_init, chains), warm,
                to_target.sample_keys(key_sample, chains, config.num_samples, config.target))

    return split(key)


def _sample_args(plan: Plan, data, chunk: int | None, size: int) -> tuple:
    """The sampling loop's arguments after its carry: for chunk ``chunk``, or the whole run (None)."""
    if plan.keys is None:
        return (data,)
    keys = plan.keys if chunk is None else plan.keys[chunk * size:(chunk + 1) * size]
    return keys, data


def drive(plan: Plan, config: RunConfig) -> Driven:
    """Compile warmup, run it, compile sampling, run it (to ``config.target`` in chunks, if given);
    every call blocked on and timed apart, compile never inside a timed call. A run to a target
    takes one run of the loops (the caller refuses chains one after another)."""
    size = config.num_samples
    warmup_c, compile_s = compile_timed(plan.jit(plan.warmup), *plan.starts[0], plan.data)
    sample_c, warmup_s, sample_s, calls, done = None, 0.0, 0.0, [], {}
    carries, infos, outs = [], [], []
    for start in plan.starts:
        data = plan.data
        if plan.place is not None:
            start, data = plan.place(warmup_c, start, data)
        (carry, info), seconds = run_timed(warmup_c, *start, data)
        warmup_s += seconds
        if sample_c is None:
            sample_c, seconds = compile_timed(plan.jit(plan.sample), carry, *_sample_args(plan, data, 0, size))
            compile_s += seconds

        def run_chunk(carry, chunk):
            args = (carry, *_sample_args(plan, data, chunk, size))
            out, seconds = run_timed(sample_c, *args)
            calls.append(TimedCall(sample_c, args, seconds))
            return out, seconds

        if config.target is None:
            (carry, out), seconds = run_chunk(carry, None)
        else:
            carry, out, seconds, done = to_target.run_chunks(run_chunk, carry, size, config.target, plan.positions)
        sample_s += seconds
        carries.append(carry)
        infos.append(info)
        outs.append(out)
    return Driven(carries, infos, outs, compile_s, warmup_s, sample_s, chain(calls), done)


class Transitions(NamedTuple):
    """Per sampling transition: gradients paid, shaped (chain, draw); acceptance probability and divergent
    or not, as the loops returned them (only their mean and sum are read, by ``np.mean`` / ``np.sum``,
    which defer to a JAX array's own: a float32 mean depends on the order of its sum, so it is taken
    as it always was)."""

    grads: np.ndarray
    accept: np.ndarray
    diverging: np.ndarray


def result(posterior, driven: Driven, z, transitions: Transitions, grads_warmup, step_size, extra: dict,
           count_steps: bool = True, **fields) -> RunResult:
    """The RunResult of a driven run: ``z`` the unconstrained draws (chain, draw, dim), ``grads_warmup``
    the warmup's gradients summed over chains, ``step_size`` the final one (mean over chains).

    ``extra`` gets what a run to a target did and, with ``count_steps``, the gradients per transition's
    mean (``mean_num_steps``) and the lockstep factor of vmapped chains (:func:`harness.metrics.lockstep_factor`).
    ``fields``: further RunResult fields (``init_s``, ``grad_batch``, ``parallel_devices``).
    """
    done = dict(driven.done)
    reached = done.pop("reached_target", None)
    steps = {}
    if count_steps:
        from harness import metrics  # ArviZ, which a process that only looks methods up never needs

        steps = {"mean_num_steps": float(np.mean(transitions.grads)),
                 "lockstep_factor": metrics.lockstep_factor(transitions.grads)}
    return RunResult(
        draws=posterior.layout.constrain(z),
        grad_evals_warmup=int(grads_warmup),
        grad_evals_sample=int(np.sum(transitions.grads)),
        compile_s=driven.compile_s,
        warmup_s=driven.warmup_s,
        sample_s=driven.sample_s,
        accept_rate=float(np.mean(transitions.accept)),
        divergences=int(np.sum(transitions.diverging)),
        step_size=float(step_size),
        reached_target=reached,
        extra={**extra, **done, **steps},
        loop=driven.loop,
        **fields,
    )


def swap(x) -> np.ndarray:
    """(draw, chain, ...) -> (chain, draw, ...) as numpy (the loops scan over draws)."""
    return np.swapaxes(np.asarray(x), 0, 1)
