"""Run to a target: sample in chunks of one compiled loop until the draws pass a stated check, or a cap.

The rule (what ``--target-ess`` means):

- the method compiles its sampling loop once for ``num_samples`` iterations (the chunk), warms
  up as in a fixed-budget run, then runs the chunk again and again, each run starting from the
  state the last one ended in, with the keys of one pre-split key array (chunk k takes rows
  k*S .. (k+1)*S - 1; NumPyro's kernels carry their key in their state), so the draws are
  those of one unchunked run of the same length;
- it checks the draws so far after 1, 2, 4, 8, ... chunks (a doubling schedule: at most
  log2(cap / chunk) + 1 checks, so the bias of stopping at the first passing check is that of
  a handful of looks, not of checking after every draw); a check passes when every coordinate
  has rank-normalised split R-hat < ``max_rhat`` (1.01) and bulk and tail ESS >= ``ess``
  (ArviZ, :func:`harness.metrics.summarize`);
- it stops at the first passing check (``reached_target`` True), or when the next check would
  pass ``max_draws`` per chain (False: the row's R-hat and ESS say how far it got). A warmup too
  short for the target shows as a run that needs many chunks or never passes, never as a pass.

The seconds of the checks are kept apart (``diagnostic_s``): the row's sampling seconds are those
of the chunks up to the passing check (replayed like any sampling loop, :mod:`harness.timing`), so
its time to result (compile + init + warmup + sampling) is the time to the target.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import jax
import numpy as np

from harness.timing import run_timed

#: Default cap: this many chunks (``num_samples`` draws each) per chain.
DEFAULT_MAX_CHUNKS = 32


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


def passes(summary: dict, target: ToTarget) -> bool:
    """The check: every coordinate's R-hat below the bound, bulk and tail ESS at least the target."""
    return bool(summary["max_rhat"] < target.max_rhat and summary["min_ess_bulk"] >= target.ess
                and summary["min_ess_tail"] >= target.ess)


def run_chunks(run_chunk: Callable, carry, chunk: int, target: ToTarget,
               positions: Callable[[Any], np.ndarray]) -> tuple[Any, Any, float, dict]:
    """Run chunks to the target: ``run_chunk(carry, k) -> ((carry, out), seconds)`` runs the k-th chunk
    of ``chunk`` draws, timed (``run_timed(..., phase="sample")``, so the cell replays them all).

    ``out``'s leaves lead with the chunk's draws; ``positions(out)`` gives its unconstrained positions
    as (draw, chain, dim). Returns (the last chunk's carry, every chunk's out concatenated along the
    draws, the chunks' seconds, what the run did: ``reached_target``, ``target_checks`` (how many),
    ``diagnostic_s``, ``target_draws`` (per chain)).
    """
    from harness import metrics

    outs, seconds, diagnostic_s, checks, next_check, reached = [], 0.0, 0.0, 0, 1, False
    max_chunks = max(1, target.max_draws // chunk)
    while len(outs) < max_chunks:
        (carry, out), t = run_chunk(carry, len(outs))
        outs.append(out)
        seconds += t
        if len(outs) == next_check:
            t0 = time.perf_counter()
            z = np.concatenate([np.asarray(positions(o)) for o in outs])
            reached = passes(metrics.summarize(np.swapaxes(z, 0, 1)), target)
            diagnostic_s += time.perf_counter() - t0
            checks += 1
            if reached or 2 * next_check > max_chunks:
                break
            next_check *= 2
    out = jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs]), *outs)
    return carry, out, seconds, {"reached_target": reached, "target_checks": checks, "diagnostic_s": diagnostic_s,
                          "target_draws": len(outs) * chunk}


def keyed_chunks(sample_c: Callable, keys, data, chunk: int) -> Callable:
    """``run_chunk`` for a loop ``sample_c(carry, keys, data) -> (carry, out)`` that takes its keys: chunk k
    runs on rows k*chunk .. (k+1)*chunk - 1 of ``keys`` (:func:`sample_keys`)."""
    return lambda carry, k: run_timed(sample_c, carry, keys[k * chunk:(k + 1) * chunk], data, phase="sample")
