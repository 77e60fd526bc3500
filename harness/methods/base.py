"""The adapter contract every inference method implements.

A method is ``run(posterior, config, key) -> RunResult``: it receives a target
bound to its data (:class:`harness.targets.Posterior`), the chain counts and its
own options, and a PRNG key; it returns named constrained draws shaped
(chain, draw, ...), exact gradient-evaluation counts for warmup and sampling,
compile / warmup / sampling seconds measured apart (see harness.timing), and its compiled
sampling loop for the replays. The MCMC adapters describe their loops to one driver
(:mod:`harness.methods.driver`), which compiles, times and runs them.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from harness import UsageError


class RunConfig(NamedTuple):
    """How long to run: chains, warmup and sampling iterations, and method options.

    ``target`` (a :class:`harness.methods.to_target.ToTarget`): run to it, ``num_samples`` being the
    chunk (only for a method with ``runs_to_target``); None: a fixed budget of ``num_samples``.
    """

    num_chains: int
    num_warmup: int
    num_samples: int
    options: Mapping[str, Any]
    target: Any = None


class RunResult(NamedTuple):
    """What a method returns: every figure the harness interprets is a typed field.

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
        init_s: seconds of the backend's own set-up outside the compiled loops (NumPyro's
            ``init``: model tracing and its small jits), apart from the three above.
        grad_batch: how many chains one device evaluates together (the gradient floor's
            batch); None: all ``num_chains`` of the run.
        parallel_devices: devices the chains ran on side by side (their wall-clock
            seconds are shared: per-device work is the gradients over this).
        grad_evals_full_equiv_warmup, grad_evals_full_equiv_sample: full-data-equivalent
            gradients of a subsampling method (a gradient over m of N points counts m / N);
            None for a method that always touches all the data.
        opt_converged: a VI optimiser's verdict on its own stopping rule; None for MCMC.
        point_estimate: the draws repeat one point (a Delta guide): no ESS, no R-hat.
        reached_target: run to a target (``RunConfig.target``): whether the draws passed its check
            (:mod:`harness.methods.to_target`); None for a fixed budget.
        extra: method-specific figures the harness only records (scalars become ``x_<key>``
            columns, per-draw arrays shaped (chain, draw) go to the saved draws).
        loop: the compiled sampling loop with the arguments it ran with
            (:class:`harness.timing.TimedCall`; pieces chained by :func:`harness.timing.chain`), which
            the cell replays against the gradient floor; None: no re-runnable loop (a plugin), and
            the one measured ``sample_s`` stands.
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
    init_s: float = 0.0
    grad_batch: int | None = None
    parallel_devices: int = 1
    grad_evals_full_equiv_warmup: float | None = None
    grad_evals_full_equiv_sample: float | None = None
    opt_converged: bool | None = None
    point_estimate: bool = False
    reached_target: bool | None = None
    extra: Mapping[str, Any] = MappingProxyType({})
    loop: Any = None

    @property
    def grad_evals_counted(self) -> float:
        """The sampling gradients per-gradient figures count: full-data equivalents for a subsampling
        method (``grad_evals_full_equiv_sample``), else ``grad_evals_sample``."""
        full = self.grad_evals_full_equiv_sample
        return self.grad_evals_sample if full is None else full


class Option(NamedTuple):
    """One method option, declared once: its default, type and bounds, checked by
    :meth:`Method.resolve_options` (in the parent, before any run; adapters receive checked values).

    ``kind``: int, float, bool or str (an int is accepted for a float and becomes one; a bool is never
    a number); ``above`` / ``below``: exclusive numeric bounds (``above=0``: positive); ``choices``: the
    valid values of a str option; ``nullable``: None is valid (the method's own default or adaptation,
    e.g. a step size found in warmup). Checks that relate options or the run (e.g. blocks at most the
    subsample, adaptation needs warmup) stay in ``Method.check``.
    """

    default: Any
    kind: type
    above: float | None = None
    below: float | None = None
    choices: tuple = ()
    nullable: bool = False

    def validate(self, name: str, value: Any) -> Any:
        """``value`` checked (UsageError naming the option, what it got and what is valid) and normalised."""
        if value is None and self.nullable:
            return None
        if self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is str:
            ok = isinstance(value, str) and (not self.choices or value in self.choices)
        else:
            types = (int,) if self.kind is int else (int, float)
            ok = (isinstance(value, types) and not isinstance(value, bool)
                  and (isinstance(value, int) or math.isfinite(value))  # Infinity and NaN parse as JSON floats
                  and (self.above is None or value > self.above) and (self.below is None or value < self.below))
        if not ok:
            raise UsageError(f"option {name} must be {self.describe()}, got {value!r}")
        return float(value) if self.kind is float else value

    def describe(self) -> str:
        """What is valid, in words, e.g. 'a positive int', 'in (0, 1)', 'one of a, b', 'null or ...'."""
        if self.kind is bool:
            text = "true or false"
        elif self.kind is str:
            text = f"one of {', '.join(self.choices)}" if self.choices else "a string"
        elif self.above == 0 and self.below is None:
            text = f"a positive {'finite ' if self.kind is float else ''}{self.kind.__name__}"
        elif self.above is not None and self.below is not None:
            text = f"in ({self.above:g}, {self.below:g})"
        else:
            text = f"a {'finite ' if self.kind is float else ''}{self.kind.__name__}"
        return f"null or {text}" if self.nullable else text


def positive(kind: type, default: Any, nullable: bool = False) -> Option:
    """An option that must be a positive ``kind`` (or null, when ``nullable``)."""
    return Option(default, kind, above=0, nullable=nullable)


def probability(default: float) -> Option:
    """An option in the open interval (0, 1), e.g. a target acceptance rate."""
    return Option(default, float, above=0, below=1)


@dataclass(frozen=True)
class Method:
    """A registered method: name, one-line description, its options (name -> :class:`Option`), run.

    ``density`` names the program the method differentiates, so that its gradient
    floor times the same one: ``"target"`` (the target's flat log density, hand-written
    where the target has one) or ``"model"`` (NumPyro's ``potential_energy`` of the
    model, which every NumPyro kernel and guide evaluates).

    ``check(target, config)``, where given, raises UsageError for a combination of
    target, chain counts and (resolved) options that the method cannot run, e.g.
    an adaptation that needs warmup with ``num_warmup=0``. It touches no data and
    compiles nothing, so a suite can be validated before anything runs. It runs once,
    in the parent (``harness.cell.validate``); ``run`` receives a checked configuration
    and does not check again (a direct caller checks first, as the tests do).

    ``library``: whose code runs the inference ("handrolled", "numpyro", "blackjax"), which the
    report's hand-rolled-against-library table reads; ``subsamples``: each gradient touches a
    subsample of the data (HMCECS), which the report's subsampling crossover reads. Both are
    written into every row, so no report matches method names. ``runs_to_target``: the method
    can sample in chunks to a target (``RunConfig.target``, :mod:`harness.methods.to_target`).

    ``uncounted_work``, where given, says what work each iteration does that its
    gradient count misses (HMCECS: the Taylor proxy's per-point Jacobians and Hessians at
    every Gibbs move): its per-gradient figures (ESS per gradient, seconds per gradient,
    overhead ratio) are then n/a, and the row's ``no_grad_reason`` says why.
    """

    name: str
    description: str
    run: Callable[..., RunResult]
    options: Mapping[str, Option] = field(default_factory=dict)
    family: str = "mcmc"
    check: Callable[[Any, RunConfig], None] | None = None
    density: str = "target"
    uncounted_work: str = ""
    library: str = ""
    subsamples: bool = False
    runs_to_target: bool = False

    @property
    def defaults(self) -> dict:
        """Every option's default."""
        return {name: opt.default for name, opt in self.options.items()}

    def resolve_options(self, given: Mapping[str, Any] | None) -> dict:
        """Defaults overridden by ``given``, each checked against its :class:`Option`; an unknown or
        invalid option raises UsageError."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            valid = ", ".join(sorted(self.options)) or "none"
            raise UsageError(f"unknown option(s) {', '.join(unknown)} for method {self.name!r}; valid: {valid}")
        return {name: opt.validate(name, given.get(name, opt.default)) for name, opt in self.options.items()}
