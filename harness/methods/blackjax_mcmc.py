"""BlackJAX kernels behind the adapter contract: HMC, NUTS, MALA and ChEES-tuned HMC.

BlackJAX is used as it is meant to be: pure ``init`` / kernel functions and
its adaptation algorithms (``window_adaptation``, ``dual_averaging_adaptation``,
``chees_adaptation``), driven under our own ``jit`` + ``lax.scan``. Warmup and
sampling are two functions that the driver (:mod:`harness.methods.driver`)
compiles ahead of time, times apart and runs in chunks to a target; the data
enter both as jit arguments, the log density being
rebuilt from them inside (``Posterior.density_and_data``: device arrays,
placed once before any timed call).

Gradient evaluations are counted exactly from BlackJAX's own infos: one per
chain for the state's initial log density and gradient (warmup), plus
``info.num_integration_steps`` of every transition (HMC: L; NUTS: the leapfrog
steps of the tree; ChEES: the jittered L); MALA costs one per transition.
BlackJAX's window adaptation and dual averaging evaluate no other gradient.

Chains: BlackJAX's window adaptation is single-chain, so warmup and sampling
are ``vmap``-ed over chains, each with its own step size and mass matrix; NUTS
chains through ``vmap`` wait for the longest tree, which the per-gradient cost
shows. ChEES adapts one step size and trajectory length over an ensemble.
``grad_batch`` is the number of chains evaluated together (the vmapped
batch; for ChEES the ensemble it ran), the batch of the gradient floor that the
overhead ratio compares with.

Each method's ``check`` (harness.methods.base.Method) refuses bad options and
combinations, e.g. window or ChEES adaptation with ``num_warmup=0``, before any
data is touched; ``run`` calls it first.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from blackjax.adaptation.base import get_filter_adapt_info_fn

from harness import UsageError
from harness.methods import driver
from harness.methods.base import Method, Option, RunConfig, RunResult, positive, probability
from harness.methods.handrolled import default_step_size, or_default

MALA_TARGET_ACCEPT = 0.574  # optimal MALA acceptance (Roberts & Rosenthal 1998)
MALA_INITIAL_STEP = 1e-3  # BlackJAX MALA's step h: x' = x + h grad + sqrt(2h) xi; dual averaging moves it
CHEES_CHAINS = 128
CHEES_LEARNING_RATE = 0.025  # Adam rate on log trajectory length (TFP's ChEES default)
CHEES_MASS = {"diagonal": "diagonal", "identity": None}  # option -> blackjax's mass_matrix_estimation
_ADAPT_INFO = get_filter_adapt_info_fn(info_keys={"num_integration_steps", "acceptance_rate", "is_divergent"})


class Trace(NamedTuple):
    """Per transition and chain: what the row needs from BlackJAX's info."""

    accept_prob: jax.Array
    is_divergent: jax.Array
    num_grads: jax.Array


def _drive(posterior, data, config: RunConfig, key, warmup: Callable, sample: Callable, extra: dict) -> RunResult:
    """Drive the two loops (:func:`harness.methods.driver.drive`) and read BlackJAX's statistics off them.

    ``warmup(z0, key, data) -> (carry, (warmup gradients per chain, final step size per chain or shared))``;
    ``sample(carry, keys (draw, chain), data) -> (carry, (positions (draw, chain, dim), Trace (draw, chain)))``;
    ``data``: the device arrays of ``posterior.density_and_data()``, passed to both.
    """
    z0, key_warmup, keys = driver.starts(posterior, key, config, split_warmup=False)
    driven = driver.drive(driver.Plan(warmup, sample, ((z0, key_warmup),), data, keys), config)
    warm_grads, step_size = driven.infos[0]
    zs, trace = driven.outs[0]
    transitions = driver.Transitions(driver.swap(trace.num_grads), trace.accept_prob, trace.is_divergent)
    return driver.result(posterior, driven, driver.swap(zs), transitions, np.sum(warm_grads), np.mean(step_size),
                         extra, grad_batch=config.num_chains)


def _scan_keys(step, carry, keys, record):
    """``lax.scan`` of ``step(keys (chains,), carry) -> (carry, info)`` over ``keys`` (iters, chains);
    collects ``record(carry, info)``."""

    def body(carry, keys):
        carry, info = step(keys, carry)
        return carry, record(carry, info)

    return jax.lax.scan(body, carry, keys)


def _scan_chains(step, carry, key, num_iters, num_chains, record):
    """:func:`_scan_keys` over ``num_iters`` x ``num_chains`` keys split from ``key``."""
    return _scan_keys(step, carry, jax.random.split(key, (num_iters, num_chains)), record)


def _window_warmup(algorithm, log_density_of, config: RunConfig, opts, **params):
    """Per-chain (vmapped) BlackJAX window adaptation: step size by dual averaging + diagonal mass."""
    initial = {} if opts.get("step_size") is None else {"initial_step_size": opts["step_size"]}

    def warmup(z0, key, data):
        adapt = blackjax.window_adaptation(
            algorithm,
            log_density_of(data),
            is_mass_matrix_diagonal=True,
            target_acceptance_rate=opts["target_accept"],
            adaptation_info_fn=_ADAPT_INFO,
            **initial,
            **params,
        )

        def one_chain(key, z):
            (state, parameters), info = adapt.run(key, z, config.num_warmup)
            grads = 1 + jnp.sum(info.info.num_integration_steps)  # 1: the initial gradient
            return (state, parameters["step_size"], parameters["inverse_mass_matrix"]), grads

        carry, grads = jax.vmap(one_chain)(jax.random.split(key, config.num_chains), z0)
        return carry, (grads, carry[1])

    return warmup


def _check_window(config: RunConfig, name: str) -> None:
    """A window-adapted method needs warmup (its options are checked by their declarations)."""
    if config.num_warmup < 1:
        raise UsageError(
            f"{name}: window adaptation needs num_warmup >= 1 (Stan's schedule; 150 or more is sensible), "
            f"got {config.num_warmup}"
        )


def check_hmc(target, config: RunConfig) -> None:
    """blackjax_hmc: adapt=true needs warmup."""
    if config.options["adapt"]:
        _check_window(config, "blackjax_hmc (adapt=true)")


def check_nuts(target, config: RunConfig) -> None:
    """blackjax_nuts: window adaptation needs warmup."""
    _check_window(config, "blackjax_nuts")


def _chees_chains(config: RunConfig) -> int:
    return or_default(config.options["num_chains"], config.num_chains)


def check_chees(target, config: RunConfig) -> None:
    """blackjax_chees: an ensemble of >= 2 chains and warmup >= 1."""
    chains = _chees_chains(config)
    if chains < 2:
        raise UsageError(f"ChEES adapts over an ensemble: num_chains must be >= 2, got {chains}")
    if config.num_warmup < 1:
        raise UsageError(f"ChEES adapts during warmup: num_warmup must be >= 1, got {config.num_warmup}")


def _euclidean_sample(kernel, log_density_of, config: RunConfig, **params):
    """Sampling with a per-chain (step size, inverse mass) kernel: HMC and NUTS."""

    def sample(carry, keys, data):
        logdensity = log_density_of(data)
        state, step_size, inverse_mass = carry
        one = lambda k, s, eps, imm: kernel(k, s, logdensity, eps, imm, **params)

        def step(keys, s):
            return jax.vmap(one)(keys, s, step_size, inverse_mass)

        record = lambda s, i: (s.position, Trace(i.acceptance_rate, i.is_divergent, i.num_integration_steps))
        state, out = _scan_keys(step, state, keys, record)
        return (state, step_size, inverse_mass), out

    return sample


def run_hmc(posterior, config: RunConfig, key) -> RunResult:
    """Fixed L = num_steps. adapt=true (default, what a demanding user runs): BlackJAX window
    adaptation of step size and diagonal mass per chain, step_size being its initial step
    (null: BlackJAX's 1.0). adapt=false: fixed step_size (null: the seed's 0.05 sqrt(569/N)),
    identity mass, warmup is burn-in; this is the seed's sampler with gradient reuse."""
    opts = config.options
    num_steps = opts["num_steps"]
    log_density_of, data = posterior.density_and_data()
    kernel = blackjax.hmc.build_kernel()
    if opts["adapt"]:
        warmup = _window_warmup(blackjax.hmc, log_density_of, config, opts, num_integration_steps=num_steps)
    else:
        step_size = or_default(opts["step_size"], default_step_size(posterior.n))

        def warmup(z0, key, data):  # burn-in with the fixed kernel, identity mass
            logdensity = log_density_of(data)
            chains = config.num_chains
            eps, imm = jnp.full(chains, step_size, z0.dtype), jnp.ones((chains, posterior.dim), z0.dtype)
            one = lambda k, s: kernel(k, s, logdensity, step_size, jnp.ones(posterior.dim, z0.dtype), num_steps)
            state = jax.vmap(blackjax.hmc.init, (0, None))(z0, logdensity)
            steps = lambda s, i: i.num_integration_steps
            state, steps = _scan_chains(jax.vmap(one), state, key, config.num_warmup, chains, steps)
            return (state, eps, imm), (chains + jnp.sum(steps), eps)
    sample = _euclidean_sample(kernel, log_density_of, config, num_integration_steps=num_steps)
    return _drive(posterior, data, config, key, warmup, sample, {"num_steps": num_steps})


def run_nuts(posterior, config: RunConfig, key) -> RunResult:
    """NUTS after per-chain window adaptation (step_size: its initial step; null: BlackJAX's 1.0)."""
    opts = config.options
    depth = opts["max_tree_depth"]
    log_density_of, data = posterior.density_and_data()
    warmup = _window_warmup(blackjax.nuts, log_density_of, config, opts, max_num_doublings=depth)
    sample = _euclidean_sample(blackjax.nuts.build_kernel(), log_density_of, config, max_num_doublings=depth)
    return _drive(posterior, data, config, key, warmup, sample, {})


def run_mala(posterior, config: RunConfig, key) -> RunResult:
    """MALA, identity preconditioner. BlackJAX has no MALA warmup, so the tuning is ours, with
    BlackJAX's dual averaging: with step_size null (default) each chain's step h is dual-averaged
    during warmup towards target_accept (0.574, the optimal MALA acceptance), starting at 1e-3;
    a given step_size is kept fixed and warmup is burn-in."""
    opts = config.options
    fixed = opts["step_size"]
    target = opts["target_accept"]
    log_density_of, data = posterior.density_and_data()
    kernel = blackjax.mala.build_kernel()
    da_init, da_update, da_final = blackjax.adaptation.step_size.dual_averaging_adaptation(target)
    chains = config.num_chains

    def warmup(z0, key, data):
        logdensity = log_density_of(data)
        state = jax.vmap(blackjax.mala.init, (0, None))(z0, logdensity)
        if fixed is not None:  # plain burn-in
            one = lambda k, s: kernel(k, s, logdensity, fixed)
            state, _ = _scan_chains(jax.vmap(one), state, key, config.num_warmup, chains, lambda s, i: None)
            eps = jnp.full(chains, fixed, z0.dtype)
        else:  # dual averaging of each chain's step towards the target acceptance

            def one(k, c):
                s, da = c
                s, info = kernel(k, s, logdensity, jnp.exp(da.log_step_size))
                return (s, da_update(da, info.acceptance_rate)), None

            da = jax.vmap(lambda _: da_init(MALA_INITIAL_STEP))(jnp.arange(chains))
            (state, da), _ = _scan_chains(jax.vmap(one), (state, da), key, config.num_warmup, chains, lambda c, i: None)
            eps = jax.vmap(da_final)(da) if config.num_warmup else jnp.full(chains, MALA_INITIAL_STEP, z0.dtype)
        return (state, eps), (jnp.full(chains, 1 + config.num_warmup), eps)

    def sample(carry, keys, data):
        logdensity = log_density_of(data)
        state, eps = carry
        step = lambda keys, s: jax.vmap(lambda k, s, e: kernel(k, s, logdensity, e))(keys, s, eps)
        no_divergence, one_grad = jnp.zeros(chains, bool), jnp.ones(chains, int)
        record = lambda s, i: (s.position, Trace(i.acceptance_rate, no_divergence, one_grad))
        state, out = _scan_keys(step, state, keys, record)
        return (state, eps), out

    return _drive(posterior, data, config, key, warmup, sample, {"adapted": fixed is None})


def run_chees(posterior, config: RunConfig, key) -> RunResult:
    """ChEES-adapted jittered HMC over an ensemble.

    The ensemble size is the option num_chains (default 128, the accelerator-friendly
    regime), which overrides RunConfig.num_chains; num_chains=null uses RunConfig.num_chains.
    The size used is in the draws' chain axis and in extra["num_chains"]. Step size by dual
    averaging towards 0.651, trajectory length by Adam (learning_rate) on the ChEES criterion,
    diagonal mass estimated over the ensemble in late warmup (mass_matrix="identity": the
    original ChEES); initial_step_size null means the seed's 0.05 sqrt(569/N).
    """
    opts = config.options
    chains = _chees_chains(config)
    step0 = or_default(opts["initial_step_size"], default_step_size(posterior.n))
    rate = opts["learning_rate"]
    mass = CHEES_MASS[opts["mass_matrix"]]
    target = opts["target_accept"]
    log_density_of, data = posterior.density_and_data()
    kernel_fns = {}  # ChEES's trajectory-jitter functions: plain Python closures, kept from the warmup trace

    def warmup(z0, key, data):
        adapt = blackjax.chees_adaptation(
            log_density_of(data),
            chains,
            target_acceptance_rate=target,
            adaptation_info_fn=_ADAPT_INFO,
            mass_matrix_estimation=mass,
        )
        (state, params), info = adapt.run(
            key, z0, step0, optax.adam(rate), config.num_warmup,
            max_sampling_steps=config.num_samples if config.target is None else config.target.max_draws,
        )
        kernel_fns.update({k: params[k] for k in ("next_random_arg_fn", "integration_steps_fn")})
        grads = chains + jnp.sum(info.info.num_integration_steps)  # chains: each initial gradient
        carry = (state, params["step_size"], params["inverse_mass_matrix"], params["integration_steps_params"])
        return carry, (grads, params["step_size"])

    def sample(carry, keys, data):
        state, step_size, inverse_mass, steps_params = carry
        dhmc = blackjax.dynamic_hmc(
            log_density_of(data), step_size, inverse_mass, integration_steps_params=steps_params, **kernel_fns
        )
        record = lambda s, i: (s.position, Trace(i.acceptance_rate, i.is_divergent, i.num_integration_steps))
        state, out = _scan_keys(jax.vmap(dhmc.step), state, keys, record)
        return (state, step_size, inverse_mass, steps_params), out

    return _drive(posterior, data, config._replace(num_chains=chains), key, warmup, sample, {"num_chains": chains})


BLACKJAX_HMC = Method(
    name="blackjax_hmc",
    library="blackjax",
    runs_to_target=True,
    description="BlackJAX HMC, fixed L; window adaptation of step size and diagonal mass (adapt=false: fixed step)",
    run=run_hmc,
    check=check_hmc,
    options={"step_size": positive(float, None, nullable=True), "num_steps": positive(int, 10),
             "adapt": Option(True, bool), "target_accept": probability(0.8)},
)
BLACKJAX_NUTS = Method(
    name="blackjax_nuts",
    library="blackjax",
    runs_to_target=True,
    description="BlackJAX NUTS with window adaptation (step size, diagonal mass), vmapped over chains",
    run=run_nuts,
    check=check_nuts,
    options={"step_size": positive(float, None, nullable=True), "target_accept": probability(0.8),
             "max_tree_depth": positive(int, 10)},
)
BLACKJAX_MALA = Method(
    name="blackjax_mala",
    library="blackjax",
    runs_to_target=True,
    description="BlackJAX MALA; step size dual-averaged to 0.574 acceptance in warmup unless step_size is set",
    run=run_mala,
    options={"step_size": positive(float, None, nullable=True), "target_accept": probability(MALA_TARGET_ACCEPT)},
)
BLACKJAX_CHEES = Method(
    name="blackjax_chees",
    library="blackjax",
    runs_to_target=True,
    description="BlackJAX ChEES-adapted jittered HMC over an ensemble (default 128 chains)",
    run=run_chees,
    check=check_chees,
    options={
        "num_chains": positive(int, CHEES_CHAINS, nullable=True),
        "initial_step_size": positive(float, None, nullable=True),
        "learning_rate": positive(float, CHEES_LEARNING_RATE),
        "target_accept": probability(0.651),
        "mass_matrix": Option("diagonal", str, choices=tuple(CHEES_MASS)),
    },
)
