"""Probe behind ``harness.cell.pin``: one compiled gradient loop, free on every core or held to one.

    python -m benchmarks.thread_split [--processes 4] [--compiles 6] [--n 569] [--density model|target]

Each process (started as a harness cell's is: ``runner.BASE_XLA_FLAGS``, no compilation cache)
compiles the gradient-floor loop of NumPyro's potential of the seed target ``--compiles`` times
and prints microseconds per gradient of each compiled copy (median of 3 runs of about 0.2 s),
first with every usable core, then held to the last one (``harness.cell.pin``). On the 2-core
machine, free processes printed 2.9 or 5.0 us at N = 569, for copies of the same optimised HLO,
and held ones 2.5 us every time: XLA splits a fused loop over one thread per usable core.

Held copies still differ at large N, each keeping its speed (``--n 100000 --density target``,
the seed's hand-written density: 263-317 us over 20 copies in 4 processes), which is why the
floor is the fastest of several copies (``harness.timing.floor_loop``). Each copy printed here
is the floor of one copy (``copies=1``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = """
import sys, numpy as np, jax, jax.numpy as jnp
from harness import timing
from harness.targets import sparse_logistic as sl
from harness.targets.base import Posterior
n, compiles, source = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
post = Posterior(sl.TARGET, "breast_cancer", None) if n == 569 else Posterior(sl.TARGET, "synthetic", n)
z = post.initial_positions(jax.random.key(0), 4).astype(np.float32)
density, data = post.density_and_data(source)
out = []
for _ in range(compiles):
    loop = timing.floor_loop(density, data, z, seconds=0.2, copies=1)
    out.append(np.median([loop() / loop.work * 1e6 for _ in range(3)]))
print(" ".join(f"{t:.2f}" for t in out))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--processes", type=int, default=4)
    p.add_argument("--compiles", type=int, default=6)
    p.add_argument("--n", type=int, default=569, help="569 (breast cancer) or a synthetic N")
    p.add_argument("--density", choices=("model", "target"), default="model",
                   help="NumPyro's potential of the model, or the target's hand-written density")
    args = p.parse_args(argv)
    from harness.cell import Cell, pin
    from harness.runner import cell_env

    env = cell_env(Cell("sparse_logistic", "breast_cancer", None, "numpyro_nuts"))
    for held in (None, 1):
        label = "free (every core)" if held is None else "held to one core"
        for _ in range(args.processes):
            line = subprocess.run([sys.executable, "-c", CHILD, str(args.n), str(args.compiles), args.density], env=env,
                                  preexec_fn=lambda h=held: pin(h), capture_output=True, text=True, check=True)
            print(f"{label}: us per gradient of each compiled copy: {line.stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
