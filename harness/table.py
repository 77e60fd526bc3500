"""Plain-text results table of ``harness run``: one line per row, flagged rows say why, never ranked.

It follows the report's rules (:mod:`harness.report.tables`):

- the flag is the report's (:func:`harness.report.frame.normalise`, which calls
  :func:`harness.report.frame.flag`: ERROR / TIMEOUT / ..., POINT ESTIMATE,
  NO REFERENCE, NOT CONVERGED, INACCURATE, TARGET NOT REACHED, DIVERGENT n), so ``harness run`` and
  ``harness report`` never disagree on which rows are usable;
- no ESS figure (ESS/s, ESS/grad, bulk ESS) for VI rows or point estimates: a
  guide's draws are independent and a point has no chains, so their ESS
  measures nothing ("n/a");
- the figure columns the schema places in the console (``Column.console``, :data:`harness.schema.CONSOLE`),
  each shown where any row has it, in the headline's number format (3 significant digits), per
  row instead of per cell (seeds are not pooled here);
- a closing line names the rows file and the command that writes the report.

Importing this module loads pandas and the report's frame and tables only (no
matplotlib, no ArviZ).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pandas as pd

from harness import schema, store
from harness.report.frame import normalise
from harness.report.tables import fmt, size_label

NA = "n/a"

#: Row identity: always shown.
KEYS = {"model": "model", "dataset": "data", "n": "N", "method": "method", "device": "device",
        "num_chains": "chains"}
#: Figures the report's frame reads under another name (older rows' aliases resolved: frame.normalise).
NORMALISED = {"z_mean_max": "acc_z_mean", "z_sd_max": "acc_z_sd"}
#: Configuration shown only when it takes more than one value in the rows (as the report's headline does).
VARYING = {"precision": "precision", "options": "options", "num_warmup": "warmup", "num_samples": "samples"}


def closing_line(run_dir=None) -> str:
    """Where the rows are and how to write the report (RUN_DIR when the run directory is not known)."""
    if run_dir is None:
        return f"rows: RUN_DIR/{store.ROWS_FILE}; write the report with: harness report RUN_DIR"
    return (f"rows: {store.rows_path(run_dir)}; write the report with: "
            f"harness report {shlex.quote(str(Path(run_dir)))}")


def _text(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def format_table(df: pd.DataFrame, run_dir=None) -> str:
    """The rows, one line each, then :func:`closing_line` (``run_dir``: the run directory, if known).

    Columns: the row's identity, configuration that varies, status, then the
    report's headline figures (ESS/s, ESS/grad, 'x floor' when rows carry it,
    compile s, first draw s = compile + init + warmup), bulk ESS, max R-hat,
    divergences, max |z| of means and sds against the reference, and ``flag``
    (why the row is not usable; empty when it is).
    """
    if df.empty:
        return f"(no rows)\n\n{closing_line(run_dir)}"
    d = normalise(df)
    no_ess = d["family"].eq("vi") | d["point_estimate"].astype(bool)
    out = pd.DataFrame(index=d.index)
    for col, name in KEYS.items():
        out[name] = d[col].map(size_label if col == "n" else _text)
    for col, name in VARYING.items():
        if col in d and d[col].map(_text).nunique() > 1:
            out[name] = d[col].map(_text)
    out["seed"] = d["seed"].map(_text)
    out["status"] = d["status"].astype(str)

    for c in schema.CONSOLE:  # each figure the schema shows here, where any row has it
        values = pd.to_numeric(d.get(NORMALISED.get(c.name, c.name), pd.Series(np.nan, index=d.index)),
                               errors="coerce")
        if values.notna().any():
            out[c.label] = [NA if c.ess and skip else fmt(v, c.digits) for v, skip in zip(values, no_ess)]
    out["flag"] = d["flag"]
    return f"{out.to_string(index=False)}\n\n{closing_line(run_dir)}"
