"""Plain-text results table: one line per row, flagged rows say why, never ranked.

The flag is the report's (:func:`harness.report.frame.flag`: ERROR / TIMEOUT /
..., POINT ESTIMATE, NO REFERENCE, NOT CONVERGED, INACCURATE), so ``harness run``
and ``harness report`` never disagree on which rows are usable. Importing this
module loads pandas and the report's frame only (no matplotlib, no ArviZ).
"""

from __future__ import annotations

import pandas as pd

from harness.report.frame import normalise

SHOWN = {
    "model": "model", "dataset": "data", "n": "N", "method": "method", "device": "device", "num_chains": "chains",
    "seed": "seed", "status": "status", "compile_s": "compile_s", "init_s": "init_s",
    "warmup_s": "warmup_s", "sample_s": "sample_s", "grad_evals": "grads", "min_ess_bulk": "ess_bulk",
    "min_ess_tail": "ess_tail", "max_rhat": "rhat", "ess_per_s": "ess/s", "ess_per_grad": "ess/grad",
    "accept_rate": "accept", "divergences": "div", "z_mean_max": "z_mean", "flag": "flag",
}


def format_table(df: pd.DataFrame) -> str:
    """Fixed columns, rounded; ``flag`` says why a row is not usable (empty when it is)."""
    if df.empty:
        return "(no rows)"
    t = normalise(df).reindex(columns=list(SHOWN)).rename(columns=SHOWN)
    for col, digits in (("compile_s", 2), ("init_s", 2), ("warmup_s", 2), ("sample_s", 2), ("ess_bulk", 0),
                        ("ess_tail", 0), ("rhat", 3), ("ess/s", 1), ("ess/grad", 4), ("accept", 2), ("z_mean", 2)):
        t[col] = pd.to_numeric(t[col], errors="coerce").round(digits)
    return t.to_string(index=False, na_rep="-")
