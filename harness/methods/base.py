"""The adapter contract every inference method implements.

A method is ``run(posterior, config, key) -> RunResult``: it receives a target
bound to its data (:class:`harness.targets.Posterior`), the chain counts and its
own options, and a PRNG key; it returns named constrained draws shaped
(chain, draw, ...), exact gradient-evaluation counts for warmup and sampling,
and compile / warmup / sampling seconds measured apart (see harness.timing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from harness import UsageError


class RunConfig(NamedTuple):
    """How long to run: chains, warmup and sampling iterations, and method options."""

    num_chains: int
    num_warmup: int
    num_samples: int
    options: Mapping[str, Any]


class RunResult(NamedTuple):
    """What a method returns.

    Attributes:
        draws: site name -> constrained draws shaped (chain, draw, *site shape).
        grad_evals_warmup: gradient evaluations spent in warmup, summed over chains.
        grad_evals_sample: gradient evaluations spent while drawing, summed over chains.
        compile_s: seconds tracing, lowering and compiling (never inside the two below).
        warmup_s: seconds running the compiled warmup (adaptation / burn-in).
        sample_s: seconds running the compiled sampling loop.
        accept_rate: mean acceptance probability over sampling iterations and chains.
        divergences: number of divergent sampling transitions, summed over chains.
        step_size: final step size (mean over chains), NaN where none applies.
        extra: method-specific figures (e.g. init seconds, mean tree depth).
    """

    draws: dict[str, np.ndarray]
    grad_evals_warmup: int
    grad_evals_sample: int
    compile_s: float
    warmup_s: float
    sample_s: float
    accept_rate: float
    divergences: int
    step_size: float
    extra: dict = {}


@dataclass(frozen=True)
class Method:
    """A registered method: name, one-line description, valid options with defaults, run.

    ``density`` names the program the method differentiates, so that its gradient
    floor times the same one: ``"target"`` (the target's flat log density, hand-written
    where the target has one) or ``"model"`` (NumPyro's ``potential_energy`` of the
    model, which every NumPyro kernel and guide evaluates).

    ``check(target, config)``, where given, raises UsageError for a combination of
    target, chain counts and (resolved) options that the method cannot run, e.g.
    an adaptation that needs warmup with ``num_warmup=0``. It touches no data and
    compiles nothing, so a suite can be validated before anything runs; ``run``
    calls it too, so direct callers are protected the same way.

    ``uncounted_work``, where given, says what work each iteration does that its
    gradient count misses (HMCECS: the Taylor proxy's per-point Jacobians and Hessians at
    every Gibbs move): its per-gradient figures (ESS per gradient, seconds per gradient,
    overhead ratio) are then n/a, and the row's ``no_grad_reason`` says why.
    """

    name: str
    description: str
    run: Callable[..., RunResult]
    options: Mapping[str, Any] = field(default_factory=dict)
    family: str = "mcmc"
    check: Callable[[Any, RunConfig], None] | None = None
    density: str = "target"
    uncounted_work: str = ""

    def resolve_options(self, given: Mapping[str, Any] | None) -> dict:
        """Defaults overridden by ``given``; an unknown option raises UsageError."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            valid = ", ".join(sorted(self.options)) or "none"
            raise UsageError(f"unknown option(s) {', '.join(unknown)} for method {self.name!r}; valid: {valid}")
        return {**self.options, **given}
