"""An interleaved A/B read-out: per cell, NEW's ``us_per_grad`` over BASE's across seeds, with the 95 %
bootstrap interval of the ratio of medians (:func:`harness.report.stats.ratio_interval`, the report's
rule for ratios within one run), and whether that interval excludes 1.

    python -m benchmarks.planted_ab BASE NEW

For two run directories whose seeds were taken alternately in time (seed s of BASE, then of NEW, or
the reverse, one cell at a time) or side by side (:mod:`benchmarks.paired_ab`: seed s of both at once,
one core each), so that both sides share the host's hour: the between-run drift that
``harness compare``'s floor for seed sets (``stats.SEEDS_NOISE``) allows for is spread over both sides
alike, and what is left is the spread between processes. Cells are matched on their configuration
(``harness.report.compare.read_rows``); ok rows only. Prints one line per cell and the count of cells
whose interval lies above 1 (NEW slower) and below 1 (NEW faster).
"""

from __future__ import annotations

import sys

from harness.report import compare, stats


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m benchmarks.planted_ab BASE NEW", file=sys.stderr)
        return 2
    base, new = (compare.read_rows(p, "us_per_grad") for p in argv)
    verdicts = []
    for label in sorted(set(base) & set(new)):
        b = [r["us_per_grad"] for r in base[label]]
        n = [r["us_per_grad"] for r in new[label]]
        if not (b and n):
            continue
        r = stats.ratio_interval(n, b)
        verdicts.append("within noise" if not r.decided() else "slower" if r.value > 1 else "faster")
        cell = f"N={base[label][0]['n']:,} {base[label][0]['method']}"
        print(f"{cell:28s} seeds {len(b)}/{len(n)}  base {sorted(round(x) for x in b)}  "
              f"new {sorted(round(x) for x in n)}  new/base {r.text()}  {verdicts[-1]}")
    print(f"{len(verdicts)} cells: {verdicts.count('slower')} slower, {verdicts.count('faster')} faster, "
          f"{verdicts.count('within noise')} within noise")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
