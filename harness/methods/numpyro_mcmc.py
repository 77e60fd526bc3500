"""NumPyro MCMC kernels (NUTS, HMC, HMCECS, SA, BarkerMH) driven under our own ``jit`` + ``lax.scan``.

``numpyro.infer.MCMC.run`` re-traces and recompiles its loop on every call, so
its wall time mixes compile and sampling. Here each kernel's ``init`` and
``sample`` are used directly: the warmup (adaptation) and sampling loops are
compiled ahead of time, then run and blocked on separately, by the driver
(:mod:`harness.methods.driver`) every MCMC method shares.

Chains are initialised one at a time (``kernel.init`` with one key and the
chain's start from ``Posterior.initial_positions``, outside any timed region:
``init_s``), then driven by one of three ``chain_method`` options:

* ``vectorized`` (default): the per-chain states are stacked and
  ``vmap(kernel.sample)`` runs every chain in one compiled scan (what NumPyro's
  own vectorized mode does; BarkerMH and HMCECS, which NumPyro cannot
  vectorise, work the same way here).
* ``sequential``: the single-chain scans are compiled once and run for one
  chain after another; warmup_s / sample_s are the sums over chains.
* ``parallel``: ``pmap`` over the first ``num_chains`` local devices, compiled
  ahead of time like the others; inputs are placed on their devices before
  the timed calls. With fewer devices than chains it falls back
  to ``sequential`` as NumPyro does, warns, and records the fallback in
  ``extra["chain_method_used"]`` and ``extra["chain_method_warning"]``
  (``XLA_FLAGS=--xla_force_host_platform_device_count=N`` gives N CPU devices).

``grad_batch`` is the number of chains whose gradients one device
evaluates together, the batch of the gradient floor the overhead ratio compares
with: ``num_chains`` when vectorized, 1 when sequential or parallel (pmap puts
one chain on each device). ``parallel_devices`` is how many devices ran
at once (``num_chains`` under pmap, else 1): the cell multiplies wall seconds per
gradient by it to get seconds per gradient per device.

Gradient evaluations, counted per transition and summed over chains, warmup and
sampling apart (one leapfrog step = one gradient). Warmup also counts one
gradient per chain for the potential energy and gradient that ``kernel.init``
evaluates at the chain's start (as the BlackJAX and hand-rolled methods count
theirs), except for gradient-free SA:

* NUTS / HMC: ``num_steps`` of the transition (NumPyro keeps the gradient at
  the current point in its state, so HMC costs exactly L per iteration).
* HMCECS: the inner kernel's ``num_steps`` plus one when the Gibbs move of the
  subsample indices is accepted (the kernel then refreshes the gradient). These
  are *raw* counts of gradients of the subsampled log density: each touches m of
  the N data points, about m / N of a full gradient. The result states
  ``subsample_size``, ``subsample_fraction`` = m / N and the full-data
  equivalents ``grad_evals_full_equiv_sample`` (raw x m / N) and
  ``grad_evals_full_equiv_warmup`` (raw x m / N + the proxy's full-data work),
  which a per-gradient comparison with full-data methods should use.
* SA: gradient-free (0), so ESS per gradient is undefined (NaN in the row).
* BarkerMH: one gradient per transition.

Not counted: the gradients NumPyro's ``initialize_model`` spends validating its
own default start (replaced by ours) and the few of its heuristic step-size
search at init and at the end of each adaptation window.

Each method's ``check`` (harness.methods.base.Method) refuses bad options and
combinations (an unknown chain_method, HMCECS on a target without a plate, ...)
before any data is touched; ``run`` calls it first.

NumPyro's BarkerMH, SA and the HMCECS Taylor proxy bind the data at ``init``,
so for those the data are constants of the compiled loop rather than arguments
(the proxy's MAP fit itself takes the data as an argument).
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.infer import HMC, HMCECS, NUTS, SA, BarkerMH
from numpyro.infer.initialization import init_to_value

from harness import UsageError, prep
from harness.methods import driver
from harness.methods.base import Method, Option, RunConfig, RunResult, positive, probability
from harness.timing import compile_timed, run_timed

CHAIN_METHODS = ("vectorized", "sequential", "parallel")
SUBSAMPLE_FRACTION, SUBSAMPLE_FLOOR = 0.1, 50  # HMCECS default m = max(floor, ceil(fraction * N)), <= N
HMCECS_PROXIES = ("taylor", "none")
#: The chain_method option every NumPyro MCMC method takes.
CHAIN_METHOD = Option("vectorized", str, choices=CHAIN_METHODS)


class KernelSpec(NamedTuple):
    """How to build and read one NumPyro kernel.

    Attributes:
        make: ``init_values -> kernel``; init_values are the chain's constrained start
            (used through ``init_to_value`` by kernels whose ``init`` ignores
            ``init_params``: SA, BarkerMH; the others may ignore it).
        honours_init_params: whether ``kernel.init`` uses ``init_params``; if so one
            kernel serves every chain, otherwise one is built per chain.
        stats: ``(previous state, new state) -> dict`` with ``grads`` (gradient
            evaluations of the transition), ``accept``, ``diverging`` and any extra
            per-transition figures (keys beginning ``x_``, averaged into ``extra``).
        step_size: ``final state -> step size array`` or None where none applies.
        init_grads: gradients ``kernel.init`` evaluates per chain at the start (1; SA: 0).
    """

    make: Callable
    honours_init_params: bool
    stats: Callable
    step_size: Callable | None
    init_grads: int = 1


def _hmc_stats(prev, new) -> dict:
    return {"grads": new.num_steps, "accept": new.accept_prob, "diverging": new.diverging}


def _init_chains(spec: KernelSpec, posterior, config: RunConfig, key):
    """Initialise every chain from the shared start positions; returns (sampling kernel, states, seconds)."""
    chains, layout = config.num_chains, posterior.layout

    @prep.jit  # one program, not one per split and draw (harness.prep); the same bits
    def split(key):
        key_init, key_kernel = jax.random.split(key)
        return posterior.initial_positions(key_init, chains), jax.random.split(key_kernel, chains)

    z0, keys = split(key)
    t0 = time.perf_counter()
    kernels, states = [], []
    for c in range(chains):
        if spec.honours_init_params and kernels:
            k = kernels[0]
        else:
            k = spec.make({name: jnp.asarray(v) for name, v in layout.constrain(z0[c]).items()})
        kernels.append(k)
        states.append(k.init(keys[c], config.num_warmup, layout.unflatten(z0[c]), (), posterior.data))
    states = jax.block_until_ready(states)
    return kernels[0], states, time.perf_counter() - t0  # per-chain kernels share one sample function


def _loops(step, spec: KernelSpec, names, config: RunConfig):
    """Warmup and sampling scans over ``step(state, data)``; outputs are stacked per iteration."""

    def transition(s, data):
        new = step(s, data)
        return new, spec.stats(s, new)

    def warmup(state, data):
        def body(s, _):
            s, st = transition(s, data)
            return s, st["grads"]

        return jax.lax.scan(body, state, None, length=config.num_warmup)

    def sample(state, data):
        def body(s, _):
            s, st = transition(s, data)
            return s, ({k: s.z[k] for k in names}, st)

        return jax.lax.scan(body, state, None, length=config.num_samples)

    return warmup, sample


@prep.jit
def _stack(trees):
    """Per-chain states stacked along a leading axis, in one program (:mod:`harness.prep`; eagerly, one
    per leaf's shape)."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _plan(kernel, spec: KernelSpec, states, posterior, config: RunConfig, chain_method: str) -> driver.Plan:
    """The warmup and sampling loops under one chain method, for :func:`harness.methods.driver.drive`:
    ``vectorized``, the stacked states in one vmapped program; ``parallel``, one chain per device
    (``pmap``, the inputs sharded before any timed call); ``sequential``, the single-chain program
    compiled once and run chain after chain (seconds summed, the replay runs every chain)."""
    data, names = jax.block_until_ready(jax.device_put(posterior.data)), posterior.layout.names  # no timed copy
    single = lambda s, d: kernel.sample(s, (), d)  # noqa: E731
    if chain_method == "vectorized":  # the kernels carry their keys in their state: chunks continue one chain
        warmup, sample = _loops(jax.vmap(single, in_axes=(0, None)), spec, names, config)
        return driver.Plan(warmup, sample, ((_stack(states),),), data,
                           positions=lambda out: posterior.layout.flatten(out[0]))
    warmup, sample = _loops(single, spec, names, config)
    if chain_method == "parallel":
        devices = jax.local_devices()[: config.num_chains]

        def place(warmup_c, start, data):  # shard before timing: a first call would otherwise pay the placement
            state, data = jax.block_until_ready(jax.device_put((*start, data), warmup_c.input_shardings[0]))
            return (state,), data

        return driver.Plan(warmup, sample, ((_stack(states),),), data, place=place,
                           jit=lambda f: jax.pmap(f, in_axes=(0, None), devices=devices))
    return driver.Plan(warmup, sample, tuple((s,) for s in states), data)


def _gathered(driven: driver.Driven, chain_method: str):
    """(final states, warmup gradients, draws, statistics), chains first: (chain, iteration, ...)."""
    if chain_method == "vectorized":  # one program, scanned over draws: (draw, chain, ...)
        return (driven.carries[0], driver.swap(driven.infos[0]), *jax.tree.map(driver.swap, driven.outs[0]))
    if chain_method == "parallel":  # pmap: chains lead already
        return (driven.carries[0], np.asarray(driven.infos[0]), *jax.tree.map(np.asarray, driven.outs[0]))
    stack = lambda *xs: np.stack([np.asarray(x) for x in xs])  # noqa: E731  sequential: one run per chain
    return _stack(driven.carries), np.stack(driven.infos), *jax.tree.map(stack, *driven.outs)


def _run_kernel(spec: KernelSpec, posterior, config: RunConfig, key, extra: dict | None = None,
                compile_s_before: float = 0.0, warmup_s_before: float = 0.0) -> RunResult:
    """Initialise, warm up and sample ``spec``'s kernel; ``compile_s_before`` / ``warmup_s_before``: seconds of a
    set-up the method ran first (HMCECS's proxy fit), added to the row's compile and warmup seconds."""
    chain_method = config.options.get("chain_method", "vectorized")
    extra = dict(extra or {})
    used = chain_method
    if chain_method == "parallel" and jax.local_device_count() < config.num_chains:
        used = "sequential"
        msg = (
            f"chain_method='parallel' needs {config.num_chains} devices, found {jax.local_device_count()}: "
            "chains drawn sequentially"
        )
        warnings.warn(msg, stacklevel=2)
        extra["chain_method_warning"] = msg
    extra["chain_method_used"] = used
    if config.target is not None and used != "vectorized":
        raise UsageError(f"a run to a target needs chain_method='vectorized', got {used!r}")

    kernel, states, init_s = _init_chains(spec, posterior, config, key)
    driven = driver.drive(_plan(kernel, spec, states, posterior, config, used), config)
    state, wgrads, draws, stats = _gathered(driven, used)
    driven = driven._replace(compile_s=driven.compile_s + compile_s_before, warmup_s=driven.warmup_s + warmup_s_before)
    for k, v in stats.items():
        if k.startswith("x_"):
            extra[k[2:]] = float(np.mean(v))
    step = np.mean(spec.step_size(state)) if spec.step_size else float("nan")
    transitions = driver.Transitions(stats["grads"], stats["accept"], stats["diverging"])
    return driver.result(posterior, driven, posterior.layout.flatten(draws), transitions,
                         np.sum(wgrads) + spec.init_grads * config.num_chains, step, extra, init_s=init_s,
                         grad_batch=config.num_chains if used == "vectorized" else 1,
                         parallel_devices=config.num_chains if used == "parallel" else 1)


def _options(config: RunConfig) -> dict:
    """The (checked) options as NumPyro kernel arguments: chain_method removed (it is the run's, not the kernel's)."""
    opts = dict(config.options)
    opts.pop("chain_method", None)
    return opts


# --- NUTS ---------------------------------------------------------------------------------


def run_nuts(posterior, config: RunConfig, key) -> RunResult:
    opts = _options(config)
    spec = KernelSpec(
        make=lambda _: NUTS(posterior.target.model, **opts),
        honours_init_params=True,
        stats=_hmc_stats,
        step_size=lambda s: s.adapt_state.step_size,
    )
    return _run_kernel(spec, posterior, config, key)


NUMPYRO_NUTS = Method(
    name="numpyro_nuts",
    library="numpyro",
    runs_to_target=True,
    description="NumPyro NUTS with its default warmup (step size and diagonal mass adaptation)",
    run=run_nuts,
    options={"target_accept_prob": probability(0.8), "max_tree_depth": positive(int, 10),
             "dense_mass": Option(False, bool), "chain_method": CHAIN_METHOD},
    density="model",
)


# --- HMC (fixed number of leapfrog steps) -------------------------------------------------


def _hmc_kwargs(opts: dict) -> dict:
    """NumPyro HMC arguments for a fixed number of leapfrog steps L.

    NumPyro's HMC defaults ``trajectory_length`` to 2 pi: ``num_steps=L`` alone keeps
    that length and silently uses step 2 pi / L; ``trajectory_length`` alone takes
    ceil(length / step) steps (11 for 10 in float32). So:

    * ``adapt_step_size=False``: pass both ``num_steps=L`` and
      ``trajectory_length = step_size * L``: exactly L steps of exactly ``step_size``.
    * ``adapt_step_size=True`` (default, NumPyro's dual averaging): pass ``num_steps=L``
      and ``trajectory_length=None``: L is fixed and the adapted step is used as is.
      Passing both here would make NumPyro replace the adapted step by length / L,
      i.e. silently switch adaptation off (it warns exactly that).
    """
    L = opts.pop("num_steps")
    step = float(opts["step_size"])
    length = None if opts["adapt_step_size"] else step * L
    return {**opts, "num_steps": L, "trajectory_length": length}


def run_hmc(posterior, config: RunConfig, key) -> RunResult:
    kwargs = _hmc_kwargs(_options(config))
    spec = KernelSpec(
        make=lambda _: HMC(posterior.target.model, **kwargs),
        honours_init_params=True,
        stats=_hmc_stats,
        step_size=lambda s: s.adapt_state.step_size,
    )
    return _run_kernel(spec, posterior, config, key, {"num_steps": kwargs["num_steps"]})


NUMPYRO_HMC = Method(
    name="numpyro_hmc",
    library="numpyro",
    runs_to_target=True,
    description="NumPyro HMC, fixed L leapfrog steps; step size and diagonal mass adapted by default",
    run=run_hmc,
    options={
        "num_steps": positive(int, 10),
        "step_size": positive(float, 0.1),
        "adapt_step_size": Option(True, bool),
        "adapt_mass_matrix": Option(True, bool),
        "dense_mass": Option(False, bool),
        "target_accept_prob": probability(0.8),
        "chain_method": CHAIN_METHOD,
    },
    density="model",
)


# --- HMCECS (energy-conserving subsampling) -----------------------------------------------


def default_subsample_size(n: int) -> int:
    """HMCECS default m = max(SUBSAMPLE_FLOOR, ceil(SUBSAMPLE_FRACTION * N)), at most N."""
    return min(n, max(SUBSAMPLE_FLOOR, math.ceil(SUBSAMPLE_FRACTION * n)))


def _map_estimate(posterior, z_start, steps: int, learning_rate: float):
    """Full-data MAP in unconstrained space by ``steps`` Adam steps (one full gradient each).

    Returns (z_map, compile_s, run_s). The Taylor proxy is expanded around it.
    The data are an argument of the compiled fit (on the device before timing),
    not constants embedded in it.
    """
    opt = optax.adam(learning_rate)
    log_density_of, data = posterior.density_and_data()

    def fit(z, data):
        neg = lambda z: -log_density_of(data)(z)  # noqa: E731

        def body(carry, _):
            z, s = carry
            g = jax.grad(neg)(z)
            u, s = opt.update(g, s, z)
            return (optax.apply_updates(z, u), s), None

        return jax.lax.scan(body, (z, opt.init(z)), None, length=steps)[0][0]

    compiled, t_c = compile_timed(fit, z_start, data)
    z_map, t_r = run_timed(compiled, z_start, data)
    return z_map, t_c, t_r


def check_hmcecs(target, config: RunConfig) -> None:
    """numpyro_hmcecs: a target with a likelihood plate, and no more blocks than the subsample.

    subsample_size <= N needs the data size and is checked again in ``run``.
    """
    if target.plate is None:
        raise UsageError(
            f"numpyro_hmcecs needs a target with a likelihood plate to subsample; "
            f"{target.name!r} has none (Target.plate is None)"
        )
    m, blocks = config.options["subsample_size"], config.options["num_blocks"]
    if m is not None and blocks > m:
        raise UsageError(f"num_blocks must be at most subsample_size ({m}), got {blocks!r}")


def run_hmcecs(posterior, config: RunConfig, key) -> RunResult:
    """HMCECS (Dang et al. 2019) around an inner NUTS (or fixed-L HMC).

    The target's likelihood plate (``Target.plate``) is subsampled: the model is
    called with ``subsample_size=m`` (the convention of Target.plate), m from the
    option or else :func:`default_subsample_size`. Each transition is a
    Metropolis-within-Gibbs move of the indices (``num_blocks`` blocks, one block
    refreshed per move, which keeps successive likelihood estimates correlated)
    followed by one inner-kernel transition on z.

    ``proxy='taylor'`` (default) uses NumPyro's second-order Taylor control variate
    around a full-data MAP found by ``proxy_steps`` Adam steps (learning rate
    ``proxy_lr``); that fit is compiled and timed apart and added to compile_s and
    warmup_s, and its full-data work (``proxy_steps`` + dim + 1 gradient
    equivalents: the Adam steps, then gradient and Hessian columns at the
    reference) is stated in ``extra["proxy_full_grad_evals"]``. ``proxy='none'`` is
    NumPyro's naive subsampling, biased (Betancourt 2015): for study only.

    Gradient counts are raw subsample gradients (see the module docstring);
    ``grad_evals_full_equiv_*`` = raw x m / N (+ the proxy's full work
    for warmup) and ``subsample_accept_rate`` (a rate near 0 means the chain is stuck
    on one subsample: raise m or num_blocks, or improve the proxy). A target with
    ``plate=None`` is refused with a UsageError by :func:`check_hmcecs`, in the parent.
    """
    opts = _options(config)
    target = posterior.target
    n = int(posterior.n)
    m = default_subsample_size(n) if opts["subsample_size"] is None else int(opts["subsample_size"])
    if not 1 <= m <= n:
        raise UsageError(f"subsample_size must be in 1..{n} (N), got {m}")
    if not 1 <= int(opts["num_blocks"]) <= m:
        raise UsageError(f"num_blocks must be in 1..{m} (subsample_size), got {opts['num_blocks']}")
    model = functools.partial(target.model, subsample_size=m)
    plate = target.plate

    extra = {"subsample_size": m, "subsample_fraction": m / n, "proxy": opts["proxy"]}
    proxy, proxy_compile_s, proxy_run_s = None, 0.0, 0.0
    if opts["proxy"] == "taylor":
        z_start = posterior.initial_positions(jax.random.fold_in(key, 1), 1)[0]
        z_map, t_c, t_r = _map_estimate(posterior, z_start, int(opts["proxy_steps"]), float(opts["proxy_lr"]))
        proxy = HMCECS.taylor_proxy({k: jnp.asarray(v) for k, v in posterior.layout.constrain(z_map).items()})
        # full-data work of the proxy: Adam steps + gradient and Hessian (dim columns) at the reference
        extra.update(proxy_full_grad_evals=int(opts["proxy_steps"]) + posterior.dim + 1, proxy_map_s=t_r)
        proxy_compile_s, proxy_run_s = t_c, t_r

    if opts["inner"] == "nuts":
        inner = lambda: NUTS(model, target_accept_prob=opts["target_accept_prob"])  # noqa: E731
    else:
        inner = lambda: HMC(model, **_hmc_kwargs({  # noqa: E731
            "num_steps": opts["num_steps"], "step_size": 0.1, "adapt_step_size": True,
            "target_accept_prob": opts["target_accept_prob"]}))

    def stats(prev, new):
        moved = jnp.any(new.z[plate] != prev.z[plate], axis=-1)  # accepted Gibbs move: one refresh gradient
        return {
            "grads": new.hmc_state.num_steps + moved.astype(new.hmc_state.num_steps.dtype),
            "accept": new.hmc_state.accept_prob,
            "diverging": new.hmc_state.diverging,
            "x_subsample_accept_rate": new.accept_prob,
        }

    spec = KernelSpec(
        make=lambda _: HMCECS(inner(), num_blocks=int(opts["num_blocks"]), proxy=proxy),
        honours_init_params=True,
        stats=stats,
        step_size=lambda s: s.hmc_state.adapt_state.step_size,
    )
    result = _run_kernel(spec, posterior, config, key, extra, proxy_compile_s, proxy_run_s)
    frac = m / n
    return result._replace(
        grad_evals_full_equiv_sample=result.grad_evals_sample * frac,
        grad_evals_full_equiv_warmup=result.grad_evals_warmup * frac + extra.get("proxy_full_grad_evals", 0),
    )


NUMPYRO_HMCECS = Method(
    name="numpyro_hmcecs",
    library="numpyro",
    runs_to_target=True,
    subsamples=True,
    description="NumPyro HMCECS: NUTS on a data subsample (Taylor-proxy estimator), Gibbs on the indices",
    run=run_hmcecs,
    check=check_hmcecs,
    options={
        "subsample_size": positive(int, None, nullable=True),
        "num_blocks": positive(int, 10),
        "proxy": Option("taylor", str, choices=HMCECS_PROXIES),
        "proxy_steps": positive(int, 2000),
        "proxy_lr": positive(float, 0.02),
        "inner": Option("nuts", str, choices=("nuts", "hmc")),
        "num_steps": positive(int, 10),
        "target_accept_prob": probability(0.8),
        "chain_method": CHAIN_METHOD,
    },
    density="model",
    uncounted_work="the Taylor proxy's per-point Jacobians and Hessians at every Gibbs move are not gradients "
    "of the model and are not counted",
)


# --- SA (gradient-free) --------------------------------------------------------------------


def run_sa(posterior, config: RunConfig, key) -> RunResult:
    """Sample Adaptive MCMC: gradient-free, so 0 gradients and ESS per gradient NaN.

    NumPyro's SA ignores ``init_params``; each chain's kernel starts at its shared
    start position through ``init_to_value``. acceptance is SA's per-step
    acceptance probability; SA has no step size (NaN).
    """
    opts = _options(config)
    spec = KernelSpec(
        make=lambda values: SA(posterior.target.model, init_strategy=init_to_value(values=values), **opts),
        honours_init_params=False,
        stats=lambda prev, new: {"grads": jnp.zeros_like(new.i), "accept": new.accept_prob, "diverging": new.diverging},
        step_size=None,
        init_grads=0,
    )
    return _run_kernel(spec, posterior, config, key)


NUMPYRO_SA = Method(
    name="numpyro_sa",
    library="numpyro",
    runs_to_target=True,
    description="NumPyro Sample Adaptive MCMC (gradient-free; ESS per gradient undefined)",
    run=run_sa,
    options={"adapt_state_size": positive(int, None, nullable=True), "dense_mass": Option(True, bool),
             "chain_method": CHAIN_METHOD},
    density="model",
)


# --- BarkerMH ------------------------------------------------------------------------------


def run_barkermh(posterior, config: RunConfig, key) -> RunResult:
    """Barker's proposal with MH correction: one gradient per transition; no divergences.

    Step size and diagonal mass are adapted in warmup as in NumPyro. Like SA, NumPyro's
    BarkerMH ignores ``init_params``, so starts go through ``init_to_value``.
    """
    opts = _options(config)
    spec = KernelSpec(
        make=lambda values: BarkerMH(posterior.target.model, init_strategy=init_to_value(values=values), **opts),
        honours_init_params=False,
        stats=lambda prev, new: {
            "grads": jnp.ones_like(new.i),
            "accept": new.accept_prob,
            "diverging": jnp.zeros_like(new.i, dtype=bool),
        },
        step_size=lambda s: s.adapt_state.step_size,
    )
    return _run_kernel(spec, posterior, config, key)


NUMPYRO_BARKERMH = Method(
    name="numpyro_barkermh",
    library="numpyro",
    runs_to_target=True,
    description="NumPyro BarkerMH (gradient-informed Barker proposal, one gradient per step)",
    run=run_barkermh,
    options={
        "step_size": positive(float, 1.0),
        "adapt_step_size": Option(True, bool),
        "adapt_mass_matrix": Option(True, bool),
        "dense_mass": Option(False, bool),
        "target_accept_prob": probability(0.4),
        "chain_method": CHAIN_METHOD,
    },
    density="model",
)
