"""What a run cost, read off its rows: wall time, cells run twice, and each cell's wall over its own work.

    python -m benchmarks.run_walls RUN_DIR [RUN_DIR ...]

Per run directory: rows and cells (how many the second pass ran twice), the wall from the first cell's
start (its row's ``timestamp`` less its ``process_s``) to the last row, the median and range over ok
cells of ``wall_s`` / work and ``process_s`` / work (work = compile + init + warmup + the sampling loop's
first run + the convergence checks of a run to a target, ``diagnostic_s``: what a user pays for the result,
the time to result's parts), the jobs the run used, the most cells that co-ran, and the commits of the rows.
"""

from __future__ import annotations

import sys

import pandas as pd

from harness import store


def summary(run: str) -> str:
    rows = pd.DataFrame(store.read_rows(run))
    ts = pd.to_datetime(rows["timestamp"])
    start = (ts - pd.to_timedelta(rows["process_s"], unit="s")).min()
    cells = store.load(run)
    ok = cells[cells["status"] == "ok"]
    checks = ok["diagnostic_s"].fillna(0) if "diagnostic_s" in ok else 0.0
    work = ok["compile_s"] + ok["init_s"].fillna(0) + ok["warmup_s"] + ok["sample_s_first"] + checks
    wall, proc = ok["wall_s"] / work, ok["process_s"] / work
    twice = int(cells["attempts"].fillna(1).eq(2).sum()) if "attempts" in cells else 0
    return (f"{run}: {len(rows)} rows ({len(cells)} cells, {twice} run twice), first cell start to last row "
            f"{(ts.max() - start).total_seconds() / 60:.1f} min; wall_s / work median {wall.median():.2f} "
            f"[{wall.min():.2f}-{wall.max():.2f}], process_s / work median {proc.median():.2f}; jobs "
            f"{sorted(set(cells['jobs'].dropna().astype(int)))}, co_running max {int(cells['co_running'].max())}; "
            f"commits {sorted(set(cells['git_commit']))}")


def main(argv=None) -> int:
    for run in (sys.argv[1:] if argv is None else argv):
        print(summary(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
