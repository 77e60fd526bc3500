"""An A/B of a small per-gradient change, both sides side by side: one core each, seed by seed.

    python -m benchmarks.paired_ab OUT --seeds K --side base[:VAR=VALUE,...] --side new[:VAR=VALUE,...] -- RUN_ARGS

For each seed 0..K-1 both sides' ``harness run RUN_ARGS --seed S --jobs 1 --no-recheck --quiet --out
OUT/SIDE`` start at once, each process (and so each of its cells) held to one core of the last two usable
ones; side i sits on core (i + S) mod 2, so each side runs on each core for half the seeds. The next seed
starts when both sides are done. A side differs from the other only by its environment (``VAR=VALUE``: a
planted change such as ``HARNESS_PLANTED_PAD=0.25``, or ``PYTHONPATH`` naming another checkout of the
library under test). Then it prints :mod:`benchmarks.planted_ab`'s read-out of ``OUT/base`` against
``OUT/new`` (the sides in the order given): per cell, NEW's ``us_per_grad`` over BASE's with the 95 %
bootstrap interval over seeds, and the count of cells called slower, faster and within noise.

Why side by side: a host's speed moves within an hour by more than a 1.25x change (results/noise/README.md,
"planted-recheck"); seed S of both sides running in the same seconds sees the same host, so what is left
between the sides is the spread between processes, which the seeds sample. The price: every figure is
taken with a second cell on the other core, on both sides alike (results/co-run measured what that costs
a gradient). The rows cannot say they ran beside the other side (``co_running`` counts cells of one
invocation); the folder's README must. Needs two usable cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from benchmarks import planted_ab
from harness.environment import usable_cpus

#: Flags the driver sets on every invocation; RUN_ARGS may not give them.
OWN_FLAGS = ("--seed", "--seeds", "--out", "--jobs", "--scheduler", "--no-recheck", "--quiet")


class Refused(Exception):
    """Bad input: one line, exit 2, nothing run."""


def parse_side(text: str) -> tuple[str, dict[str, str]]:
    """``name[:VAR=VALUE,...]`` -> (name, env)."""
    name, _, assignments = text.partition(":")
    if not name.isidentifier():
        raise Refused(f"--side {text!r}: the name must be a word (letters, digits, _), e.g. base:VAR=VALUE")
    env = {}
    for item in filter(None, assignments.split(",")):
        var, eq, value = item.partition("=")
        if not (eq and var.isidentifier()):
            raise Refused(f"--side {text!r}: {item!r} is not VAR=VALUE")
        env[var] = value
    return name, env


def plan(argv: list[str]) -> tuple[Path, int, list[tuple[str, dict[str, str]]], list[str], list[int]]:
    """The run asked for, refused (:class:`Refused`) where it cannot be done as the docstring says."""
    if "--" not in argv:
        raise Refused("give harness run's arguments after --, e.g. -- --model-file M.py --size 20000")
    cut = argv.index("--")
    p = argparse.ArgumentParser(prog="python -m benchmarks.paired_ab", exit_on_error=False)
    p.add_argument("out")
    p.add_argument("--seeds", type=int, required=True)
    p.add_argument("--side", action="append", required=True)
    try:
        args = p.parse_args(argv[:cut])
    except (argparse.ArgumentError, SystemExit) as e:
        raise Refused(f"{e}; usage: {p.format_usage().strip()} -- RUN_ARGS") from None
    if args.seeds < 2:
        raise Refused(f"--seeds must be 2 or more (an interval needs a spread over seeds), got {args.seeds}")
    sides = [parse_side(s) for s in args.side]
    if len(sides) != 2 or sides[0][0] == sides[1][0]:
        raise Refused(f"give exactly two --side with different names, got {[s for s, _ in sides]}")
    run_args = argv[cut + 1:]
    own = [a for a in run_args if a.split("=")[0] in OWN_FLAGS]
    if own:
        raise Refused(f"{', '.join(own)}: the driver sets {', '.join(OWN_FLAGS)} itself; leave them out of RUN_ARGS")
    cores = sorted(usable_cpus())[-2:]
    if len(cores) < 2:
        raise Refused(f"two sides side by side need two usable cores, this process may use {len(cores)}")
    return Path(args.out), args.seeds, sides, run_args, cores


def run(out: Path, seeds: int, sides, run_args: list[str], cores: list[int]) -> int:
    """Run every seed of both sides (module docstring). An invocation whose cells failed (exit 1: rows
    stored, the read-out skips them) does not stop the run; a refused one (exit 2) does. Returns the
    largest exit code seen."""
    worst = 0
    for seed in range(seeds):
        placed = [cores[(i + seed) % 2] for i in range(len(sides))]
        procs = []
        for (name, env), core in zip(sides, placed):
            cmd = [sys.executable, "-m", "harness.cli", "run", *run_args, "--seed", str(seed), "--jobs", "1",
                   "--no-recheck", "--quiet", "--out", str(out / name)]
            procs.append(subprocess.Popen(cmd, env={**os.environ, **env},
                                          preexec_fn=lambda core=core: os.sched_setaffinity(0, {core})))
        codes = [p.wait() for p in procs]
        print(f"seed {seed}: " + ", ".join(f"{name} on core {core} exit {c}"
                                           for (name, _), core, c in zip(sides, placed, codes)), flush=True)
        worst = max(worst, *codes)
        if worst == 2:
            break
    return worst


def main(argv: list[str] | None = None) -> int:
    try:
        out, seeds, sides, run_args, cores = plan(sys.argv[1:] if argv is None else argv)
    except Refused as e:
        print(f"paired_ab: {e}", file=sys.stderr)
        return 2
    code = run(out, seeds, sides, run_args, cores)
    if code == 2:
        return 2
    return max(code, planted_ab.main([str(out / sides[0][0]), str(out / sides[1][0])]))


if __name__ == "__main__":
    sys.exit(main())
