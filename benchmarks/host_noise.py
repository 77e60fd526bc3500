"""How far two runs of one commit differ, cell by cell, before and after ``harness compare`` puts them at
one host speed: the measurement behind ``harness.report.stats.SEEDS_NOISE``.

    python -m benchmarks.host_noise [BASE NEW ...]      # default: the committed A/A pairs below

Per pair of run directories (one commit, one machine; one seed a cell, or three in the drift pairs): the cells with ``sample_s`` on
both sides, and the median, 90th and 95th percentile and worst of |new / base| as a factor >= 1, as
measured and host-normalised (:func:`harness.report.compare.host_normalised`), with the share within
+-10 %. Rows from before ``ref_program`` was recorded (these pairs) name no reference program; both
sides being one commit, their reference group (``ref_group``: posterior, size, batch, device,
precision, XLA setup) stands for it here.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from harness.report import compare

PAIRS = (
    ("results/noise/a", "results/noise/b"),
    ("results/default-target-2", "results/default-target-2b"),
    ("results/default-run", "results/default-run-b"),
    ("results/jobs/default-j1", "results/jobs/default-j2"),
    ("results/noise/drift-a", "results/noise/drift-b"),  # three seeds a cell, hours apart
    ("results/noise/drift-a", "results/noise/drift-c"),
    ("results/noise/drift-b", "results/noise/drift-c"),
)


def _with_program(rows: list[dict]) -> list[dict]:
    return [{**r, "ref_program": r["ref_program"] if isinstance(r.get("ref_program"), str) else r.get("ref_group")}
            for r in rows]


def factors(base: str, new: str, metric: str = "sample_s") -> tuple[np.ndarray, np.ndarray]:
    """|log new/base| per cell on both sides: as measured, and host-normalised."""
    a, b = compare.read_rows(base, metric), compare.read_rows(new, metric)
    raw, norm = [], []
    for cell in sorted(set(a) & set(b)):
        ra, rb = _with_program(a[cell]), _with_program(b[cell])
        if not (ra and rb):
            continue
        na, nb, _ = compare.host_normalised(ra, rb, metric)
        sa, sb = compare._summarise(ra, metric), compare._summarise(rb, metric)
        ta, tb = compare._summarise(na, metric), compare._summarise(nb, metric)
        if all(np.isfinite(x.med) for x in (sa, sb, ta, tb)):
            raw.append(abs(math.log(sb.med / sa.med)))
            norm.append(abs(math.log(tb.med / ta.med)))
    return np.asarray(raw), np.asarray(norm)


def line(x: np.ndarray) -> str:
    q = lambda p: math.exp(np.quantile(x, p))  # noqa: E731
    return (f"median {q(0.5):.3f}x, p90 {q(0.9):.3f}x, p95 {q(0.95):.3f}x, worst {math.exp(x.max()):.3f}x, "
            f"{100 * np.mean(x <= math.log(1.1) + 1e-12):.0f} % within +-10 %")


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    pairs = list(zip(args[::2], args[1::2])) if args else PAIRS
    for base, new in pairs:
        raw, norm = factors(base, new)
        print(f"{base} vs {new}: {len(raw)} cells\n  as measured:     {line(raw)}\n  host-normalised: {line(norm)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
