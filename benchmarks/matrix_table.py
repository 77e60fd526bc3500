"""Print the dependency matrix's results for one commit as a Markdown table (one column per environment).

    python -m benchmarks.matrix_table COMMIT [--machine vm] [--benchmark bench_mcmc.TimePerGradient.time_per_gradient]

Reads asv's result files (``results/asv/<machine>/<commit8>-env-*.json``, written by
``asv run --config asv.matrix.conf.json``), names each environment by its jax / numpyro versions,
and prints the median per parameter combination (seconds, as asv stores them, shown in us).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("commit")
    p.add_argument("--machine", default="vm")
    p.add_argument("--benchmark", default="bench_mcmc.TimePerGradient.time_per_gradient")
    args = p.parse_args(argv)
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{args.commit}^{{commit}}"], capture_output=True,
                         text=True).stdout.strip() or args.commit
    files = sorted(Path("results/asv", args.machine).glob(f"{sha[:8]}-env-*.json"))
    if not files:
        print(f"no matrix results for {sha[:8]} under results/asv/{args.machine}", file=sys.stderr)
        return 2
    cols, table = [], {}
    for f in files:
        d = json.loads(f.read_text())
        req = d.get("requirements", {})
        name = f"jax {req.get('jax', '?')} / numpyro {req.get('numpyro', '?')}"
        res = d["results"].get(args.benchmark)
        if res is None:
            continue
        keys = d["result_columns"]
        rec = dict(zip(keys, res))
        cols.append(name)
        for combo, v in zip(itertools.product(*rec["params"]), rec["result"]):
            table.setdefault(combo, {})[name] = v
    cols.sort()
    print(f"{args.benchmark} at {sha[:8]}, us (asv median)\n")
    print("| " + " | ".join(["method", "target", "N"] + cols) + " |")
    print("|" + "---|" * (3 + len(cols)))
    for combo, vals in table.items():
        got = {c: vals.get(c) for c in cols if isinstance(vals.get(c), (int, float)) and vals[c] == vals[c]}
        if not got:  # asv's n/a (a combination the suite does not run)
            continue
        cells = [f"{got[c] * 1e6:.2f}" if c in got else "n/a" for c in cols]
        print("| " + " | ".join([str(x).strip("'") for x in combo] + cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
