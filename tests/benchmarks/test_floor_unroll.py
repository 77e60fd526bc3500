"""benchmarks.floor_unroll: the variants do the same gradients, and the probe reports each."""

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import floor_unroll


def _quadratic(data):
    return lambda z: -0.5 * jnp.sum((z - data) ** 2)


def test_inner_trips_do_the_same_work_as_single_trips():
    z = jnp.ones((2, 3))
    data = jnp.zeros(3)
    one = jax.jit(floor_unroll.loop_fn(_quadratic, 1, 1))(z, jnp.int32(6), data)
    rolled = jax.jit(floor_unroll.loop_fn(_quadratic, 3, 1))(z, jnp.int32(2), data)
    unrolled = jax.jit(floor_unroll.loop_fn(_quadratic, 3, 3))(z, jnp.int32(2), data)
    for other in (rolled, unrolled):
        np.testing.assert_allclose(other[1], one[1], rtol=1e-6)
    # six steps, not two: the total of log p over six gradient calls of a slowly moving z
    np.testing.assert_allclose(one[1], 6 * 2 * -0.5 * 3, rtol=1e-6)


def test_probe_times_every_variant(tmp_path):
    out = tmp_path / "fu.json"
    assert floor_unroll.main(["--sizes", "569", "--inner", "1,2", "--repeats", "1", "--out", str(out)]) == 0
    import json

    rows = json.loads(out.read_text())["rows"]
    assert [(r["inner"], r["unroll"]) for r in rows] == [(1, 1), (2, 1), (2, 2)]
    assert all(r["us_per_grad_min"] <= r["us_per_grad"] <= r["us_per_grad_max"] for r in rows)
