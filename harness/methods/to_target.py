"""Run to a target: sample in chunks of one compiled loop until the draws pass a stated check, or a cap.

The rule (what ``--target-ess`` means):

- the method compiles its sampling loop once for ``num_samples`` iterations (the chunk), warms
  up as in a fixed-budget run, then runs the chunk again and again, each run starting from the
  state the last one ended in, with the keys of one pre-split key array (chunk k takes rows
  k*S .. (k+1)*S - 1; NumPyro's kernels carry their key in their state), so the draws are
  those of one unchunked run of the same length;
- it checks the draws so far after the chunks of :func:`check_schedule`: after each of the first
  four chunks, then each time the draws have grown by at most 1.25x (k -> max(k + 1, floor(1.25 k)):
  1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 22, 27, 33, ...) and at the cap. Where a run stops thus moves
  its time by at most 25 % from the fourth chunk on (by one chunk before it), instead of up to 2x
  under a doubling schedule; 32 chunks take 15 checks (log base 1.25 of the cap, not one a chunk, so
  the bias of stopping at the first passing check stays that of a few looks); a check passes when every coordinate
  has rank-normalised split R-hat < ``max_rhat`` (1.01) and bulk and tail ESS >= ``ess``
  (ArviZ, :func:`harness.metrics.summarize`);
- it stops at the first passing check (``reached_target`` True), or at the check at the cap,
  ``max_draws`` per chain in whole chunks (False: the row's R-hat and ESS say how far it got). A warmup too
  short for the target shows as a run that needs many chunks or never passes, never as a pass.

The seconds of the checks are kept apart (``diagnostic_s``, a row column): the row's sampling seconds
are those of the chunks up to the passing check (replayed like any sampling loop, :mod:`harness.timing`),
and its time to result (compile + init + warmup + sampling + checks, :mod:`harness.derived`) is the
whole time to the target.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import jax
import numpy as np

#: Default cap: this many chunks (``num_samples`` draws each) per chain.
DEFAULT_MAX_CHUNKS = 32
#: Largest growth of the draws between two checks (after the first four chunks, each checked).
CHECK_GROWTH = 1.25


def check_schedule(max_chunks: int) -> list[int]:
    """The chunk counts after which a run checks its draws (module docstring): k -> max(k + 1,
    floor(CHECK_GROWTH * k)) from 1, and ``max_chunks`` last."""
    out, k = [], 1
    while k < max_chunks:
        out.append(k)
        k = max(k + 1, int(CHECK_GROWTH * k))
    return out + [max_chunks]


class ToTarget(NamedTuple):
    """What a run-to-target cell must reach, and its cap (draws per chain)."""

    ess: float
    max_draws: int
    max_rhat: float = 1.01


def sample_keys(key, num_chains: int, num_samples: int, target: ToTarget | None):
    """The sampling keys, (draws, chains): ``num_samples`` rows, or the cap's when running to a target.

    A key array split at one shape is not a prefix of one split at another, so a fixed-budget run
    and a run to a target draw differently; within either, chunks are rows of one array.
    """
    draws = num_samples if target is None else max(num_samples, target.max_draws)
    return jax.random.split(key, (draws, num_chains))


def check(z: np.ndarray, target: ToTarget) -> bool:
    """The check on the draws so far, z shaped (chain, draw, dim): every coordinate's R-hat below the
    bound, bulk and tail ESS at least the target (:func:`harness.metrics.reaches`: each figure computed
    only if the ones before it passed, so a failing check costs a third of a full summary)."""
    from harness import metrics

    return metrics.reaches(z, target.ess, target.max_rhat)


def run_chunks(run_chunk: Callable, carry, chunk: int, target: ToTarget,
               positions: Callable[[Any], np.ndarray]) -> tuple[Any, Any, float, dict]:
    """Run chunks to the target: ``run_chunk(carry, k) -> ((carry, out), seconds)`` runs the k-th chunk
    of ``chunk`` draws, timed (:func:`harness.methods.driver.drive` keeps each call, so the cell replays them all).

    ``out``'s leaves lead with the chunk's draws; ``positions(out)`` gives its unconstrained positions
    as (draw, chain, dim). Returns (the last chunk's carry, every chunk's out concatenated along the
    draws, the chunks' seconds, what the run did: ``reached_target``, ``target_checks`` (how many),
    ``diagnostic_s``, ``target_draws`` (per chain)).
    """
    outs, seconds, diagnostic_s, checks, reached = [], 0.0, 0.0, 0, False
    schedule = set(check_schedule(max(1, target.max_draws // chunk)))
    while not reached and len(outs) < max(schedule):
        (carry, out), t = run_chunk(carry, len(outs))
        outs.append(out)
        seconds += t
        if len(outs) in schedule:
            t0 = time.perf_counter()
            z = np.concatenate([np.asarray(positions(o)) for o in outs])
            reached = check(np.swapaxes(z, 0, 1), target)
            diagnostic_s += time.perf_counter() - t0
            checks += 1
    out = jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs]), *outs)
    return carry, out, seconds, {"reached_target": reached, "target_checks": checks, "diagnostic_s": diagnostic_s,
                          "target_draws": len(outs) * chunk}
