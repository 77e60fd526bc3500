"""Probe behind ``harness.runner.co_runs``: what a second cell on the other core costs a gradient.

    python -m benchmarks.co_run [--sizes 569,10000,100000,1000000] [--rounds 3] [--out FILE.json]

For each data size N of the seed target (569: breast cancer; else synthetic), each round runs the
gradient-floor loop of the seed's density (batch 4, ``harness.timing.floor_loop`` with three copies,
the fastest kept, as every cell's floor) in fresh processes started as cells are
(``harness.runner.cell_env``), each held to one core:

- ``alone``: one process, on the last core, nothing else running;
- ``co``: one process per usable core at once (two on the 2-core machine), each on its own core,
  started together; each times the same floor.

Each process prints microseconds per gradient per point: the median of ``--repeats`` timed runs of
about 0.2 s, after the loops of all processes have started (a start barrier on a file). The ratio
``co / alone`` per N is what co-running costs: the scheduler lets small cells share the machine and
runs large ones alone (:data:`harness.runner.CO_RUN_MAX_N`). Alone and co-run rounds alternate, so a
slow spell of the host hits both. ``--out`` writes every timing and the machine as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import os, sys, time, numpy as np, jax
from harness import timing
from harness.targets import sparse_logistic as sl
from harness.targets.base import Posterior
n, repeats, barrier, parties = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
post = Posterior(sl.TARGET, "breast_cancer", None) if n == 569 else Posterior(sl.TARGET, "synthetic", n)
z = post.initial_positions(jax.random.key(0), 4).astype(np.float32)
loop = timing.floor_loop(*post.density_and_data("target"), z, seconds=0.2)
open(os.path.join(barrier, str(os.getpid())), "w").close()
while len(os.listdir(barrier)) < parties:  # every process compiled and sized: time together
    time.sleep(0.01)
loop()
print(float(np.median([loop() / loop.work * 1e6 for _ in range(repeats)])))
"""


def _round(n: int, cores: list[int], repeats: int) -> list[float]:
    """One process per core in ``cores``, started together; their microseconds per gradient."""
    from harness.cell import Cell, pin
    from harness.runner import cell_env

    env = cell_env(Cell("sparse_logistic", "synthetic", n, "handrolled_hmc"))
    with tempfile.TemporaryDirectory() as barrier:
        procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(n), str(repeats), barrier, str(len(cores))],
                                  env=env, preexec_fn=lambda c=c: pin(1, [c]), stdout=subprocess.PIPE, text=True)
                 for c in cores]
        outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a probe process failed at N = {n}")
    return [float(o.strip().splitlines()[-1]) for o in outs]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="569,10000,100000,1000000", help="comma-separated N (569: breast cancer)")
    p.add_argument("--rounds", type=int, default=3, help="alone / co-run rounds per size")
    p.add_argument("--repeats", type=int, default=5, help="timed floor runs per process")
    p.add_argument("--out", help="write the timings as JSON here")
    args = p.parse_args(argv)
    from harness import environment

    cores = environment.usable_cpus()
    result = {"machine": environment.capture(with_device=False), "cores": cores, "sizes": {}}
    for n in (int(s) for s in args.sizes.split(",")):
        alone, co = [], []
        for _ in range(args.rounds):
            alone += _round(n, cores[-1:], args.repeats)
            co += _round(n, cores, args.repeats)
        ratio = statistics.median(co) / statistics.median(alone)
        result["sizes"][n] = {"alone_us": alone, "co_us": co, "co_over_alone": ratio}
        print(f"N = {n}: alone {statistics.median(alone):.2f} us [{min(alone):.2f}-{max(alone):.2f}], "
              f"co-run x{len(cores)} {statistics.median(co):.2f} us [{min(co):.2f}-{max(co):.2f}]: "
              f"co / alone {ratio:.3f}", flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
