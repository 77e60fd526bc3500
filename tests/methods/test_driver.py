"""The one driver: compile apart, run a fixed budget or chunks to a target, and carry the timed loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness.methods import driver, to_target
from harness.methods.base import RunConfig


def _plan(chains: int = 2, keys=None) -> driver.Plan:
    """A 'sampler' whose draws are iid normals keyed by the sampling keys: what it returns is known."""

    def warmup(z, data):
        return z + data, jnp.sum(z)

    def sample(z, keys, data):
        def body(z, k):
            z = jax.vmap(lambda k: jax.random.normal(k, (1,)))(k) + 0 * z
            return z, (z, jnp.ones(k.shape[0], int))

        return jax.lax.scan(body, z, keys)

    return driver.Plan(warmup, sample, ((jnp.zeros((chains, 1)),),), jnp.ones(()), keys)


def test_a_fixed_budget_is_one_timed_call_over_every_key():
    keys = to_target.sample_keys(jax.random.key(0), 2, 30, None)
    driven = driver.drive(_plan(keys=keys), RunConfig(2, 5, 30, {}))
    zs, steps = driven.outs[0]
    assert zs.shape == (30, 2, 1) and driven.infos[0] == 0 and np.all(np.asarray(driven.carries[0]) == zs[-1])
    assert driven.loop.args[1] is keys and driven.loop.seconds == driven.sample_s > 0 and driven.done == {}
    assert driven.compile_s > 0 and driven.warmup_s > 0
    again = driven.loop.compiled(*driven.loop.args)[1][0]  # the replay re-runs the same work: the same draws
    np.testing.assert_array_equal(np.asarray(again), np.asarray(zs))


def test_chunks_to_a_target_are_the_rows_of_one_key_array_and_are_all_replayed():
    target = to_target.ToTarget(ess=1e9, max_draws=60)  # never reached: runs to the cap
    keys = to_target.sample_keys(jax.random.key(0), 2, 20, target)
    driven = driver.drive(_plan(keys=keys), RunConfig(2, 5, 20, {}, target))
    zs, _ = driven.outs[0]
    assert zs.shape == (60, 2, 1) and driven.done["reached_target"] is False and driven.done["target_draws"] == 60
    pieces = driven.loop.args
    assert len(pieces) == 3 and driven.loop.seconds == pytest.approx(driven.sample_s)
    assert [p.args[1].shape[0] for p in pieces] == [20, 20, 20]
    whole = driver.drive(_plan(keys=keys), RunConfig(2, 5, 60, {}))  # one run over the same 60 rows of keys
    np.testing.assert_array_equal(zs, np.asarray(whole.outs[0][0]))


def test_runs_one_after_another_compile_once_and_chain_their_loops():
    plan = _plan(chains=1, keys=to_target.sample_keys(jax.random.key(0), 1, 10, None))
    plan = plan._replace(starts=(plan.starts[0], (jnp.ones((1, 1)),)))  # two runs (e.g. one per chain)
    driven = driver.drive(plan, RunConfig(1, 5, 10, {}))
    assert len(driven.outs) == len(driven.carries) == 2 and [float(i) for i in driven.infos] == [0.0, 1.0]
    assert len(driven.loop.args) == 2 and driven.loop.args[0].compiled is driven.loop.args[1].compiled
    assert driven.loop.seconds == pytest.approx(driven.sample_s)


@pytest.mark.parametrize("split_warmup", [True, False])
def test_starts_are_the_bits_of_splitting_and_drawing_eagerly(split_warmup):
    """driver.starts compiles the key splits and the initial draw as one program (harness.prep, -O0):
    its keys and positions are those of the eager calls it replaces, so a cell's draws do not move."""
    from harness import targets

    posterior = targets.Posterior(targets.get("sparse_logistic"), "breast_cancer", None)
    config = RunConfig(3, 7, 5, {}, to_target.ToTarget(400, 11))
    key = jax.random.key(42)
    z0, warm, keys = driver.starts(posterior, key, config, split_warmup=split_warmup)
    key_init, key_warmup, key_sample = jax.random.split(key, 3)
    expected_warm = jax.random.split(key_warmup, (7, 3)) if split_warmup else key_warmup
    np.testing.assert_array_equal(np.asarray(z0), np.asarray(posterior.initial_positions(key_init, 3)))
    np.testing.assert_array_equal(jax.random.key_data(warm), jax.random.key_data(expected_warm))
    np.testing.assert_array_equal(jax.random.key_data(keys),
                                  jax.random.key_data(to_target.sample_keys(key_sample, 3, 5, config.target)))
    assert keys.shape == (11, 3)
