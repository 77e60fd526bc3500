"""What README's `harness run` costs a new user: its wall seconds from a fresh clone, several times.

    python -m benchmarks.quick_wall [--times 3] [--out results/quick-wall]

Each time: ``git clone`` of this checkout's HEAD into a new temporary directory, then README's command
verbatim there (``harness run``: the quick suite, its own defaults, every core), timed by this process
from the command's start to its exit, the clone's package first on ``PYTHONPATH`` (the installed
dependencies are this environment's; a fresh clone has no run directory and no bandwidth figure of a
run, and a measured cell never has a compilation cache). The runs go one after the other; run nothing
else meanwhile.

Writes ``OUT/walls.json`` (commit, machine of the rows, each run's wall seconds and their median, the
command) and each run's rows as ``OUT/run-K/rows.jsonl``. README quotes the median, and a test checks
the quote against this file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = ["harness", "run"]


def one(root: Path, out: Path) -> float:
    """Clone HEAD of ``root``, time README's command there, copy its rows to ``out``; wall seconds."""
    with tempfile.TemporaryDirectory(prefix="harness-quick-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
        env = {**os.environ, "PYTHONPATH": str(clone)}
        # this environment's entry point, as an activated venv would find it first on PATH
        exe = shutil.which(COMMAND[0], path=str(Path(sys.executable).parent)) or shutil.which(COMMAND[0]) or COMMAND[0]
        t0 = time.perf_counter()
        subprocess.run([exe, *COMMAND[1:]], cwd=clone, env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        rows = sorted((clone / "results" / "runs").rglob("rows.jsonl"))
        if len(rows) != 1:
            raise SystemExit(f"expected one run directory under {clone / 'results' / 'runs'}, found {len(rows)}")
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(rows[0], out / "rows.jsonl")
    return wall


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--times", type=int, default=3)
    p.add_argument("--out", default="results/quick-wall")
    args = p.parse_args(argv)
    if args.times < 1:
        p.error(f"--times must be at least 1, got {args.times}")
    root = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                               check=True).stdout.strip())
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                            check=True).stdout.strip()
    out = Path(args.out)
    walls = [one(root, out / f"run-{k + 1}") for k in range(args.times)]
    first = json.loads((out / "run-1" / "rows.jsonl").read_text().splitlines()[0])
    record = {"commit": commit, "machine": first.get("machine"), "command": " ".join(COMMAND),
              "walls_s": [round(w, 1) for w in walls], "median_s": round(statistics.median(walls), 1)}
    (out / "walls.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
