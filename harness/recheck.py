"""A run's second pass: the cells a shared host may have slowed run once more, in a fresh process.

Inside one cell the replays and the floor see the same machine, so a host that slows a whole
cell (the loop *and* its floor, for tens of seconds) leaves replays that agree with each other;
no spread shows it. Two signs are visible from outside the cell, against the other cells of the
same run:

- ``host``: the cell's host reference (``ref_us_per_grad``: NumPyro's potential gradient at
  fixed points, the same program and inputs for every cell of its ``ref_group``, timed
  between the replays) is more than ``HOST_TOL`` slower than the fastest of its group in this
  run;
- ``short``: its sampling loop is shorter than ``SHORT_LOOP_S``: such loops were measured to
  settle at one of two speeds per process, which no reference shows.

A third sign is inside the cell, when the disturbance came and went during its replays:

- ``spread``: the median timing is more than ``SPREAD_TOL`` above the fastest (three timings or
  more), i.e. at least half of them were slowed: the host slowed a run of replays without
  touching the reference.

Each suspect runs once more after every other cell of the run (minutes later, so most likely
in another state of the host). Same seed, same program: the draws are the same, only the
timings differ, and the row kept is the attempt with the lower ``sample_s`` (the less
disturbed one). It says so: ``attempts``, ``recheck`` (the reason), and each attempt's
``sample_s`` and ``ref_us_per_grad``. Both rows stay in the store; a reader keeps a cell's
last row (:func:`harness.store.load`).

The measurements behind each sign and its tolerance: docs/methodology.md, "The second pass".
"""

from __future__ import annotations

import math
HOST_TOL = 0.10
SHORT_LOOP_S = 0.05
SPREAD_TOL = 0.15


def _num(row: dict, col: str) -> float:
    v = row.get(col)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else math.nan


def suspects(rows: list[dict]) -> dict[str, str]:
    """Cell key -> reason (``host``, ``short``, ``spread``, joined by "+") for the ok rows to run again."""
    ok = [r for r in rows if r.get("status") == "ok" and r.get("cell_key")]
    best: dict[str, float] = {}
    for r in ok:
        ref = _num(r, "ref_us_per_grad")
        if r.get("ref_group") and ref > 0:
            best[r["ref_group"]] = min(best.get(r["ref_group"], math.inf), ref)
    out = {}
    for r in ok:
        reasons = []
        group = r.get("ref_group")
        if group in best and _num(r, "ref_us_per_grad") > (1 + HOST_TOL) * best[group]:
            reasons.append("host")
        if _num(r, "sample_s") < SHORT_LOOP_S:
            reasons.append("short")
        if _num(r, "sample_replays") >= 3 and _num(r, "sample_s") > (1 + SPREAD_TOL) * _num(r, "sample_s_min"):
            reasons.append("spread")
        if reasons:
            out[r["cell_key"]] = "+".join(reasons)
    return out


def merge(first: dict, second: dict, reason: str) -> dict:
    """The row kept for a cell run twice: the ok attempt with the lower ``sample_s`` (the first on a
    tie or when the second failed), annotated with both attempts."""
    keep = first
    if second.get("status") == "ok" and _num(second, "sample_s") < _num(first, "sample_s"):
        keep = second
    row = dict(keep)
    row.update(
        attempts=2,
        recheck=reason,
        kept_attempt=1 if keep is first else 2,
        sample_s_attempts=[_num(first, "sample_s"), _num(second, "sample_s")],
        ref_us_per_grad_attempts=[_num(first, "ref_us_per_grad"), _num(second, "ref_us_per_grad")],
    )
    if second.get("status") != "ok":
        row["recheck_error"] = f"{second.get('status')}: {second.get('error')}"
    return row
