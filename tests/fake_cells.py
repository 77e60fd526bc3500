"""Test-only target and method for the runner's tests, loaded through HARNESS_PLUGINS=tests.fake_cells.

``test_tiny``: a 2-D standard normal (no data). ``test_fake``: a method whose
``behaviour`` option picks what the cell does (ok, raise, sleep, segfault,
nan, diverge, oom), so failure handling is tested without slow real runs.
An ok run draws from the target exactly, with real (tiny) timed gradient work.
"""

from __future__ import annotations

import os
import signal
import time

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from harness import methods, targets
from harness.methods.base import Method, Option, RunResult
from harness.targets import Layout, Param, Target
from harness.timing import compile_timed, run_timed


def _model():
    numpyro.sample("x", dist.Normal(jnp.zeros(2), 1.0))


TINY = Target(
    name="test_tiny",
    description="2-D standard normal (runner tests only)",
    source="tests/fake_cells.py",
    model=_model,
    datasets={"analytic": None},
    make_data=lambda dataset, n, seed=0: {},
    layout=lambda data: Layout((Param("x", (2,), constraints.real),)),
    log_density=lambda data: (lambda z: -0.5 * jnp.sum(z**2)),
)


def _run(posterior, config, key):
    behaviour = config.options["behaviour"]
    t_start = time.time()
    if behaviour == "raise":
        raise ValueError("fake failure")
    if behaviour == "oom":
        raise MemoryError("fake allocation failure")
    if behaviour == "sleep":
        time.sleep(1e6)
    if behaviour == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    z0 = posterior.initial_positions(key, config.num_chains)
    steps = config.num_chains * config.num_samples
    grad = jax.vmap(jax.grad(posterior.log_density))
    work, compile_s = compile_timed(lambda z: jax.lax.fori_loop(0, config.num_samples, lambda i, z: z + 1e-6 * grad(z), z), z0)
    _, sample_s = run_timed(work, z0, phase="sample")
    time.sleep(config.options["sleep_s"])
    shape = (config.num_chains, config.num_samples, 2)
    z = np.asarray(jax.random.normal(key, shape, z0.dtype))
    if behaviour == "nan":
        z = np.array(z)
        z[0, 0, 0] = np.nan
    return RunResult(
        draws=posterior.layout.constrain(z), grad_evals_warmup=0, grad_evals_sample=steps, compile_s=compile_s,
        warmup_s=0.0, sample_s=sample_s, accept_rate=1.0, divergences=steps if behaviour == "diverge" else 0,
        step_size=float("nan"),
        extra={"dtype": str(z0.dtype), "device_count": jax.device_count(), "t_start": t_start, "t_end": time.time(),
               "accept_prob": np.ones(shape[:2])},
    )


FAKE = Method(name="test_fake", description="runner-test method (behaviour option)", run=_run,
              options={"behaviour": Option("ok", str), "sleep_s": Option(0.0, float, above=-1.0)})

if "test_tiny" not in targets.names():
    targets.register(TINY)
if "test_fake" not in methods.names():
    methods.register(FAKE)
