"""Test-only target and method for the runner's tests, loaded through HARNESS_PLUGINS=tests.fake_cells.

``test_tiny``: the tests' toy 2-D correlated Gaussian (tests/toys.py). ``test_fake``: a method whose
``behaviour`` option picks what the cell does (ok, raise, sleep, segfault,
nan, diverge, oom), so failure handling is tested without slow real runs.
An ok run draws from the target exactly, with real (tiny) timed gradient work.
"""

from __future__ import annotations

import os
import signal
import time

import jax
import numpy as np

from harness import methods, targets
from harness.methods.base import Method, Option, RunResult
from harness.timing import TimedCall, compile_timed, run_timed
from tests import toys

TINY = toys.gaussian_target("test_tiny", "the toy 2-D Gaussian, hand-written density (runner tests)",
                            "tests/fake_cells.py", log_density=toys.gaussian_log_density)


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
    _, sample_s = run_timed(work, z0)
    time.sleep(config.options["sleep_s"])
    shape = (config.num_chains, config.num_samples)
    z = toys.exact_draws(key, shape).astype(z0.dtype)
    if behaviour == "nan":
        z[0, 0, 0] = np.nan
    return RunResult(
        draws=posterior.layout.constrain(z), grad_evals_warmup=0, grad_evals_sample=steps, compile_s=compile_s,
        warmup_s=0.0, sample_s=sample_s, accept_rate=1.0, divergences=steps if behaviour == "diverge" else 0,
        step_size=float("nan"),
        extra={"dtype": str(z0.dtype), "device_count": jax.device_count(), "t_start": t_start, "t_end": time.time(),
               "accept_prob": np.ones(shape)},
        loop=TimedCall(work, (z0,), sample_s),
    )


FAKE = Method(name="test_fake", description="runner-test method (behaviour option)", run=_run,
              options={"behaviour": Option("ok", str), "sleep_s": Option(0.0, float, above=-1.0)})

if "test_tiny" not in targets.names():
    targets.register(TINY)
if "test_fake" not in methods.names():
    methods.register(FAKE)
