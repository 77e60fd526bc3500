"""Plain-text results table: one line per row, non-converged runs flagged, never ranked."""

from __future__ import annotations

import pandas as pd

SHOWN = {
    "model": "model", "dataset": "data", "n": "N", "method": "method", "num_chains": "chains",
    "seed": "seed", "status": "status", "compile_s": "compile_s", "init_s": "init_s",
    "warmup_s": "warmup_s", "sample_s": "sample_s", "grad_evals": "grads", "min_ess_bulk": "ess_bulk",
    "min_ess_tail": "ess_tail", "max_rhat": "rhat", "ess_per_s": "ess/s", "ess_per_grad": "ess/grad",
    "accept_rate": "accept", "divergences": "div",
}


def format_table(df: pd.DataFrame) -> str:
    """Fixed columns, rounded; a ``flag`` column says NOT CONVERGED where R-hat/ESS fail."""
    if df.empty:
        return "(no rows)"
    t = df.reindex(columns=list(SHOWN)).rename(columns=SHOWN)
    converged = df["converged"].fillna(False).astype(bool) if "converged" in df else False
    t["flag"] = ["" if s != "ok" else ("" if c else "NOT CONVERGED") for s, c in zip(df["status"], converged)]
    for col, digits in (("compile_s", 2), ("init_s", 2), ("warmup_s", 2), ("sample_s", 2), ("ess_bulk", 0),
                        ("ess_tail", 0), ("rhat", 3), ("ess/s", 1), ("ess/grad", 4), ("accept", 2)):
        t[col] = pd.to_numeric(t[col], errors="coerce").round(digits)
    return t.to_string(index=False, na_rep="-")
