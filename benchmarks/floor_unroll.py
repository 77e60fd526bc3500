"""Probe for the GPU floor question: does a run-time trip count make the floor loop slow?

    python -m benchmarks.floor_unroll [--sizes 10000,100000,1000000] [--inner 1,10] [--repeats 5] [--out FILE.json]

On an H200 every HMC row had ``overhead_ratio`` below 1: the sampler's gradients ran faster than
the floor loop's (``results/gpu/README.md``). The floor loop (``harness.timing._floor_loop_fn``)
has a run-time trip count, one ``while`` trip per gradient, whose condition a GPU reads back on
every trip; a sampler's 10-step leapfrog loop has a static trip count that XLA may unroll. This
probe times, on the default JAX device, the seed target's gradient (its hand-written density,
batch 4, as every cell's floor) in loops that differ only there:

- ``inner = 1``: today's floor, one gradient per trip of a run-time ``fori_loop``;
- ``inner = k``: each run-time trip runs k gradients in a static inner ``fori_loop`` (k known at
  compile time), rolled (``unroll=1``) and unrolled (``unroll=k``).

Each variant is compiled once, run once untimed, sized so a call takes about 0.2 s, and timed
``--repeats`` times (blocked on its result); the line prints the median microseconds per gradient
per point and the spread. If the floor is slow for its trip count, ``inner = 10`` runs below
``inner = 1`` on the GPU and not on a CPU. ``--out`` writes every timing and the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


def loop_fn(density_of, inner: int, unroll: int):
    """``loop(z, trips, data)``: ``trips`` run-time trips of ``inner`` value-and-gradient calls each."""
    import jax
    import jax.numpy as jnp

    from harness import timing

    def loop(z, trips, data):
        step = timing.floor_step(density_of(data))  # the floor's own trip: the same gradient and data dependency

        def trip(_, carry):
            return jax.lax.fori_loop(0, inner, step, carry, unroll=unroll)

        return jax.lax.fori_loop(0, trips, trip, (z, jnp.zeros((), z.dtype)))

    return loop


def measure_variant(density_of, data, z, inner: int, unroll: int, repeats: int, seconds: float = 0.2):
    """Median and spread of microseconds per gradient per point of one compiled variant."""
    import jax
    import jax.numpy as jnp

    start = time.perf_counter()
    compiled = jax.jit(loop_fn(density_of, inner, unroll)).lower(z, jnp.int32(1), data).compile()
    compile_s = time.perf_counter() - start

    def call(trips: int) -> float:
        t = time.perf_counter()
        jax.block_until_ready(compiled(z, jnp.int32(trips), data))
        return time.perf_counter() - t

    call(1)  # first touch, untimed
    trips, t = 1, call(1)
    while t < 0.01 and trips < 2**22:
        trips *= 4
        t = call(trips)
    trips = max(1, round(seconds / (t / trips)))
    per_grad = sorted(call(trips) / (trips * inner * z.shape[0]) * 1e6 for _ in range(repeats))
    return {"inner": inner, "unroll": unroll, "compile_s": compile_s, "trips": trips,
            "us_per_grad": statistics.median(per_grad), "us_per_grad_min": per_grad[0],
            "us_per_grad_max": per_grad[-1]}


def probe(n: int, inners: list[int], repeats: int) -> list[dict]:
    """Every variant at data size ``n`` of the seed target (569: breast cancer; else synthetic)."""
    import jax
    import numpy as np

    from harness.targets import sparse_logistic as sl
    from harness.targets.base import Posterior

    post = Posterior(sl.TARGET, "breast_cancer", None) if n == 569 else Posterior(sl.TARGET, "synthetic", n)
    z = jax.device_put(post.initial_positions(jax.random.key(0), 4).astype(np.float32))
    density_of, data = post.density_and_data("target")
    variants = [(k, u) for k in inners for u in sorted({1, k})]
    return [{"n": n, **measure_variant(density_of, data, z, k, u, repeats)} for k, u in variants]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated N (569: breast cancer)")
    p.add_argument("--inner", default="1,10", help="gradients per run-time trip, comma-separated")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, help="write the timings and the machine as JSON here")
    args = p.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        inners = [int(k) for k in args.inner.split(",")]
    except ValueError:
        p.error(f"--sizes and --inner take comma-separated integers, got {args.sizes!r} and {args.inner!r}")
    if min(sizes) < 1 or min(inners) < 1 or args.repeats < 1:
        p.error("--sizes, --inner and --repeats must be positive")
    import jax

    from harness import environment

    rows = []
    for n in sizes:
        for r in probe(n, inners, args.repeats):
            rows.append(r)
            print(f"N={n:>8} inner={r['inner']:>3} unroll={r['unroll']:>3}: {r['us_per_grad']:9.3f} us/grad "
                  f"[{r['us_per_grad_min']:.3f}, {r['us_per_grad_max']:.3f}]  compile {r['compile_s']:.1f} s",
                  flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"device": str(jax.devices()[0].device_kind),
                                        "environment": environment.capture(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
