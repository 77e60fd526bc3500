"""Report tables from seed-aggregated cells (:func:`harness.report.frame.aggregate`).

Ranking rule of the headline table: only usable cells (every seed ok,
converged, checked against a reference and accurate) get a rank. MCMC cells are
ranked by median ESS/s; VI cells (whose draws come iid from a fitted guide, so
their ESS/s is not comparable) are ranked among themselves by time to result.
MCMC cells whose only flag is NO REFERENCE (every seed ok and converged, but no
reference to check their accuracy against) are ranked among themselves by ESS/s
in a table of their own (rank 'no ref k'), never among the checked cells.
Flagged cells follow, unranked, with the reason; failed cells (no seed ok) come last.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.report import stats
from harness.report.render import Table

GROUP = ["model", "dataset", "n"]

#: Rank prefix of the MCMC cells ranked by speed alone (their only flag is NO REFERENCE).
NO_REFERENCE_RANK = "no ref"
NO_REFERENCE_TITLE = "no reference: ranked by speed only, accuracy unchecked"


def fmt(x, digits: int = 3) -> str:
    """A number for a table: 3 significant digits, '-' for missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    x = float(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def spread(cell, col: str) -> str:
    """'median [min-max]' over seeds, or the median alone for one seed."""
    med, lo, hi = cell[f"{col}_med"], cell[f"{col}_min"], cell[f"{col}_max"]
    if not np.isfinite(med):
        return "-"
    return fmt(med) if lo == hi else f"{fmt(med)} [{fmt(lo)}-{fmt(hi)}]"


def size_label(n) -> str:
    return "-" if n is None or (isinstance(n, float) and math.isnan(n)) else f"{int(n):,}"


def target_label(cell) -> str:
    return f"{cell['model']}/{cell['dataset']}"


def ranked(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells of one group in report order, with a ``rank`` column (see module docstring)."""
    c = cells.copy()
    failed = c["seeds_ok"] == 0
    mcmc = c["usable"] & ~failed & c["family"].eq("mcmc")
    vi = c["usable"] & ~failed & c["family"].eq("vi")
    unchecked = ~failed & c["family"].eq("mcmc") & c["flag"].eq("NO REFERENCE")  # every seed: only no reference
    c["_tier"] = np.select([mcmc, vi, unchecked, ~failed], [0, 1, 2, 3], 4)
    c["_key"] = np.where(c["_tier"] == 1, c["time_to_result_s_med"], -c["ess_per_s_med"].fillna(-np.inf))
    c = c.sort_values(["_tier", "_key"], kind="stable")
    rank, counters = [], {0: 0, 1: 0, 2: 0}
    prefix = {0: "", 1: "vi ", 2: NO_REFERENCE_RANK + " "}
    for tier in c["_tier"]:
        if tier in counters:
            counters[tier] += 1
            rank.append(f"{prefix[tier]}{counters[tier]}")
        else:
            rank.append("-")
    c["rank"] = rank
    return c.drop(columns=["_tier", "_key"])


def method_label(r) -> str:
    """The method's name, with the chains it ran where that is not the cell's ``num_chains``
    (an ensemble method such as ChEES sets its own count)."""
    run, asked = r.get("chains_run"), r.get("num_chains")
    if run is not None and asked is not None and np.isfinite(run) and np.isfinite(asked) and int(run) != int(asked):
        return f"{r['method']} ({int(run)} chains run)"
    return str(r["method"])


def _chains_note(*cells) -> str:
    """'unequal chains run: ...' when the cells ran different numbers of chains (their ESS figures are not like for like)."""
    runs = {method_label(c) for c in cells}
    counts = {c.get("chains_run") for c in cells if c.get("chains_run") is not None and np.isfinite(c.get("chains_run"))}
    return "unequal chains run: " + ", ".join(sorted(runs)) if len(counts) > 1 else ""


def _note(a, b) -> str:
    """The flag column of a pair: either side's flags, and unequal chain counts."""
    return "; ".join(filter(None, (_flags(a, b), _chains_note(a, b))))


def _varying(cells: pd.DataFrame) -> list[str]:
    """Configuration columns that tell apart two cells of one method (shown so rows are not ambiguous)."""
    return [c for c in ("num_chains", "precision", "options", "num_warmup", "num_samples")
            if c in cells and cells.groupby("method")[c].agg(lambda v: v.astype(str).nunique()).gt(1).any()]


def headline(cells: pd.DataFrame) -> list[Table]:
    """One table per (model, dataset, N); 'x floor' (the runner's overhead_ratio: sampling seconds
    per gradient over the measured gradient floor) when rows carry it.

    MCMC cells ranked by speed alone (only flag NO REFERENCE) go to a second table
    of that (model, dataset, N), right after the first, titled NO_REFERENCE_TITLE."""
    tables = []
    for (model, dataset, n), g in cells.groupby(GROUP, dropna=False, sort=True):
        extra = _varying(g)
        floor = bool(g["overhead_ratio_med"].notna().any())
        cols = ["rank", "method", "device", *extra, "seeds ok", "ESS/s", "ESS/grad", *(["x floor"] if floor else []),
                "compile s", "first draw s", "max R-hat", "div", "max |z| mean", "max |z| sd", "flag"]
        rows, unchecked = [], []
        for _, r in ranked(g).iterrows():
            vi = r["family"] == "vi"  # a guide's draws are independent: their ESS measures nothing
            row = [r["rank"], method_label(r), r["device"], *[str(r[e]) for e in extra],
                   f"{r['seeds_ok']}/{r['seeds']}", "n/a (VI)" if vi else spread(r, "ess_per_s"),
                   "n/a (VI)" if vi else fmt(r["ess_per_grad_med"]),
                   *([fmt(r["overhead_ratio_med"])] if floor else []),
                   fmt(r["compile_s_med"]), fmt(r["ttfd_s_med"]), fmt(r["max_rhat"], 4),
                   fmt(r["divergences"]), fmt(r["acc_z_mean"]), fmt(r["acc_z_sd"]), r["flag"]]
            (unchecked if r["rank"].startswith(NO_REFERENCE_RANK) else rows).append(row)
        caption = f"{model}/{dataset}, N = {size_label(n)}"
        if rows:
            tables.append(Table(cols, rows, caption))
        if unchecked:
            tables.append(Table(cols, unchecked, f"{caption}: {NO_REFERENCE_TITLE}"))
    return tables


def _match_key(cells: pd.DataFrame, drop: tuple) -> list[str]:
    return [c for c in ("model", "dataset", "n", "device", "precision", "num_chains", "num_warmup",
                        "num_samples", "data_seed", "xla_devices", "xla_flags") if c in cells and c not in drop]


def _keyed(cells: pd.DataFrame, key: list[str]):
    return cells.assign(_k=[tuple(str(v) for v in t) for t in cells[key].itertuples(index=False)])


def _ratio(a, b, col: str) -> stats.Ratio:
    return stats.ratio(a[f"{col}_med"], a[f"{col}_min"], a[f"{col}_max"],
                       b[f"{col}_med"], b[f"{col}_min"], b[f"{col}_max"])


def _usable_ratio(a, b, col: str) -> str:
    """The ratio's text, or '-' when either cell is flagged (its figure is no speed to quote; the flag says why)."""
    return _ratio(a, b, col).text() if a["usable"] and b["usable"] else "-"


def _flags(*cells) -> str:
    return "; ".join(f"{c['method']}{'@' + str(c['device']) if len(cells) > 1 else ''}: {c['flag']}"
                     for c in cells if c["flag"])


def vs_baseline(cells: pd.DataFrame, baseline: str) -> Table:
    """Every method against the baseline, same target, N, device and chains.

    ESS/s and ESS per gradient as method / baseline (MCMC only: a VI guide's iid
    draws have no comparable ESS), and time to result as baseline / method, so
    every column reads > 1 = better than the baseline. Where either cell is
    flagged every ratio is '-' and the flag column says why.
    """
    key = _match_key(cells, drop=())
    k = _keyed(cells, key)
    rows = []
    for _, base in k[k["method"] == baseline].iterrows():
        for _, other in k[(k["_k"] == base["_k"]) & (k["method"] != baseline)].iterrows():
            ess = [_usable_ratio(other, base, c) if other["family"] == "mcmc" else "n/a (VI)"
                   for c in ("ess_per_s", "ess_per_grad")]
            rows.append([target_label(base), size_label(base["n"]), base["device"], method_label(other), *ess,
                         _usable_ratio(base, other, "time_to_result_s"), _note(other, base)])
    return Table(["target", "N", "device", "method", "ESS/s ratio", "ESS/grad ratio", "time-to-result speedup", "flag"],
                 rows, f"Each method against {baseline} (>1: better than {baseline}); "
                       "ratio of medians [min-max over seeds]")


def gpu_vs_cpu(cells: pd.DataFrame) -> Table:
    """GPU over CPU for the same method and configuration."""
    key = _match_key(cells, drop=("device",)) + ["method", "options"]
    k = _keyed(cells, key)
    rows = []
    gpu, cpu = k[k["device"] == "gpu"], k[k["device"] == "cpu"]
    for _, g in gpu.iterrows():
        for _, c in cpu[cpu["_k"] == g["_k"]].iterrows():
            rows.append([target_label(g), size_label(g["n"]), g["method"], _ratio(g, c, "ess_per_s").text(),
                         _ratio(g, c, "us_per_grad").text(), _ratio(g, c, "compile_s").text(), _flags(g, c)])
    return Table(["target", "N", "method", "ESS/s GPU/CPU", "s per grad GPU/CPU", "compile GPU/CPU", "flag"], rows,
                 "GPU over CPU, same cell (ESS/s > 1 and s per grad < 1: GPU faster)")


def handrolled_vs_libraries(cells: pd.DataFrame) -> Table:
    """Each hand-rolled MCMC method over each library MCMC method in the same cell ('-' where either is flagged)."""
    key = _match_key(cells, drop=())
    k = _keyed(cells, key)
    hand = k[k["method"].astype(str).str.startswith("handrolled") & k["family"].eq("mcmc")]
    libs = k[~k["method"].astype(str).str.startswith("handrolled") & k["family"].eq("mcmc")]
    rows = []
    for _, h in hand.iterrows():
        for _, lib in libs[libs["_k"] == h["_k"]].iterrows():
            rows.append([target_label(h), size_label(h["n"]), h["device"], h["method"], method_label(lib),
                         _usable_ratio(h, lib, "ess_per_s"), _usable_ratio(h, lib, "us_per_grad"), _note(h, lib)])
    return Table(["target", "N", "device", "hand-rolled", "library", "ESS/s hand/lib", "s per grad hand/lib", "flag"],
                 rows, "Hand-rolled over library (ESS/s > 1: hand-rolled faster; s per grad < 1: cheaper gradient step)")


ENVIRONMENT = ["git_commit", "python", "jax", "jaxlib", "numpyro", "blackjax", "arviz", "optax", "numpy",
               "backend", "device_kind", "device_count", "cpu", "cpu_count", "platform", "hostname", "xla_flags_env"]


def environment(df: pd.DataFrame) -> Table:
    """Every distinct value of each environment column over the rows (more than one means a mixed run)."""
    rows = []
    for col in ENVIRONMENT:
        if col in df and df[col].notna().any():
            values = [str(v) for v in dict.fromkeys(df[col].dropna())]
            rows.append([col, ", ".join(values)])
    if "timestamp" in df and df["timestamp"].notna().any():
        ts = sorted(str(t) for t in df["timestamp"].dropna())
        rows.append(["measured", f"{ts[0]} to {ts[-1]}"])
    return Table(["item", "value"], rows)
