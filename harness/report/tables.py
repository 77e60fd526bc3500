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

import json
import math

import numpy as np
import pandas as pd

from harness import schema
from harness.report import stats
from harness.report.render import Bullets, Table, Text

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


def _varying(cells: pd.DataFrame) -> list[str]:
    """Configuration columns that tell apart two cells of one method (shown so rows are not ambiguous)."""
    return [c for c in ("num_chains", "precision", "options", "num_warmup", "num_samples", "target_ess")
            if c in cells and cells.groupby("method")[c].agg(lambda v: v.astype(str).nunique()).gt(1).any()]


def headline(cells: pd.DataFrame) -> list:
    """Per (model, dataset, N): a table of its ranked cells; 'x floor' (the runner's overhead_ratio:
    sampling seconds per gradient over the measured gradient floor) when rows carry it.

    MCMC cells ranked by speed alone (only flag NO REFERENCE) go to a second table
    of that (model, dataset, N), right after the first, titled NO_REFERENCE_TITLE. The
    flagged cells follow as one line each (:func:`flagged_lines`)."""
    tables = []
    for (model, dataset, n), g in cells.groupby(GROUP, dropna=False, sort=True):
        extra = _varying(g)
        floor = bool(g["overhead_ratio_med"].notna().any())
        cols = ["rank", "method", "device", *extra, "seeds ok", "ESS/s", "vs next", "tail ESS/s", "ESS/grad",
                *(["x floor"] if floor else []),
                "compile s", "first draw s", "max R-hat", "div", "max |z| mean", "max |z| sd", "flag"]
        rows, unchecked = [], []
        order = ranked(g)
        gaps = _vs_next(order)
        for i, (_, r) in enumerate(order.iterrows()):
            vi = r["family"] == "vi"  # a guide's draws are independent: their ESS measures nothing
            row = [r["rank"], method_label(r), r["device"], *[str(r[e]) for e in extra],
                   f"{r['seeds_ok']}/{r['seeds']}", "n/a (VI)" if vi else spread(r, "ess_per_s"), gaps[i],
                   "n/a (VI)" if vi else fmt(r["ess_tail_per_s_med"]),
                   "n/a (VI)" if vi else fmt(r["ess_per_grad_med"]),
                   *([fmt(r["overhead_ratio_med"])] if floor else []),
                   fmt(r["compile_s_med"]), fmt(r["ttfd_s_med"]), fmt(r["max_rhat"], 4),
                   fmt(r["divergences"]), fmt(r["acc_z_mean"]), fmt(r["acc_z_sd"]), r["flag"]]
            if r["rank"] != "-":
                (unchecked if r["rank"].startswith(NO_REFERENCE_RANK) else rows).append(row)
        caption = f"{model}/{dataset}, N = {size_label(n)}"
        tables.append(Table(cols, rows, caption) if rows else Text(f"{caption}: no cell ranked."))
        if unchecked:
            tables.append(Table(cols, unchecked, f"{caption}: {NO_REFERENCE_TITLE}"))
        if flagged := flagged_lines(g):
            tables.append(Bullets([f"not ranked: {line}" for line in flagged]))
    return tables


def _reasons(flag: str) -> list[str]:
    """The reasons in a cell's flag, without their seed counts or numbers ('NOT CONVERGED (2/3 seeds)' ->
    'NOT CONVERGED', 'DIVERGENT 52' -> 'DIVERGENT'), each once."""
    parts = [p.strip().split(" (")[0] for chunk in flag.split(";") for p in chunk.split(",")]
    return list(dict.fromkeys("DIVERGENT" if p.startswith("DIVERGENT ") else p for p in parts if p))


def failed_figure(r) -> str:
    """The one number behind a flagged cell's first reason, e.g. 'R-hat 1.40', 'max |z| 5.2'."""
    reason = (_reasons(r["flag"]) or [""])[0]
    if reason == "NOT CONVERGED":
        if r["family"] == "vi":
            return "optimiser did not meet its rule"
        ess = r.get("min_ess_bulk_med")
        if np.isfinite(r["max_rhat"]) and r["max_rhat"] >= 1.01:
            return f"R-hat {fmt(r['max_rhat'], 3)}"
        return f"bulk ESS {fmt(ess)}" if ess is not None and np.isfinite(ess) else "no R-hat"
    if reason == "INACCURATE":
        return f"max |z| {fmt(max(r['acc_z_mean'], r['acc_z_sd']) if np.isfinite(r['acc_z_sd']) else r['acc_z_mean'], 2)}"
    if reason == "NO REFERENCE":
        return "accuracy unchecked"
    if reason == "DIVERGENT":
        return f"{fmt(r['divergences'])} divergent transitions after warmup (worst seed)"
    return ""


def flagged_lines(cells: pd.DataFrame) -> list[str]:
    """One compact line per flagged cell of a group: method, flag, the number that failed."""
    out = []
    for _, r in ranked(cells).iterrows():
        if r["rank"] == "-":
            figure = failed_figure(r)
            out.append(f"{method_label(r)} ({r['device']}): {r['flag']}" + (f": {figure}" if figure else ""))
    return out


def summary(cells: pd.DataFrame) -> Table:
    """Per target and size, who reached a trustworthy posterior first.

    Candidates are the usable cells (every seed ok, converged, accurate against a reference;
    MCMC and VI alike). 'First' has the least median time to result (compile + init +
    warmup + sampling + checks); the runner-up's time over the first's is shown with its interval
    (:func:`harness.report.stats.ratio_interval`: bootstrap over seeds, process noise folded in
    for a one-seed side) and 'within noise' when the interval holds 1. The last
    column counts the cells that did not get there, with their commonest reason.
    """
    rows = []
    for (model, dataset, n), g in cells.groupby(GROUP, dropna=False, sort=True):
        ok = g[g["usable"]].sort_values("time_to_result_s_med", kind="stable")
        missed = g[~g["usable"]]
        reasons = pd.Series([x for f in missed["flag"] for x in _reasons(f)], dtype=object)
        why = f"{len(missed)} of {len(g)}" + (f" (mostly {reasons.value_counts().index[0]})" if len(reasons) else "")
        if ok.empty:
            rows.append([f"{model}/{dataset}", size_label(n), "none", "-", "-", "-", "-", why])
            continue
        first = ok.iloc[0]
        ess = "n/a (VI)" if first["family"] == "vi" else fmt(first["ess_per_s_med"])
        runner, by = "-", "-"
        if len(ok) > 1:
            second = ok.iloc[1]
            runner = f"{method_label(second)} ({second['device']})"
            by = _ratio(second, first, "time_to_result_s").text(noise_word=True)
        rows.append([f"{model}/{dataset}", size_label(n), f"{method_label(first)} ({first['device']})",
                     fmt(first["time_to_result_s_med"]), ess, runner, by, why])
    return Table(["target", "N", "first to a trustworthy posterior", "time to result s", "ESS/s", "runner-up",
                  "runner-up's time / first's", "not there"], rows,
                 "Per target and size: the usable cell (ok, converged, accurate against a reference) with the least "
                 "time to result (compile + init + warmup + sampling + checks: to the passing check in a run to a target "
                 "ESS, else the suite's fixed budget); "
                 "runner-up's time over the first's: ratio of medians [95 % interval: bootstrap over seeds, "
                 f"+-{stats.PROCESS_NOISE:.0%} process noise for a one-seed side], 'within noise' where it holds 1")


def _vs_next(order: pd.DataFrame) -> list[str]:
    """Per ranked cell, how it stands against the next rank of its tier, by the ratio of the figure it is
    ranked by (ESS/s over the next's for MCMC, the next's time to result over its own for VI) with its
    interval (:func:`harness.report.stats.ratio_interval`): 'within noise 1.05x [0.88, 1.25]' where the
    interval holds 1, so that their order may swap in another run; else 'ahead 1.40x [1.20, 1.63]'.
    Empty for the last of a tier and unranked cells."""
    out = [""] * len(order)
    rows = order.reset_index(drop=True)
    for i in range(len(rows) - 1):
        a, b = rows.iloc[i], rows.iloc[i + 1]
        if a["rank"] == "-" or b["rank"] == "-" or a["rank"].split(" ")[:-1] != b["rank"].split(" ")[:-1]:
            continue
        r = _ratio(b, a, "time_to_result_s") if a["family"] == "vi" else _ratio(a, b, "ess_per_s")
        out[i] = f"{'ahead' if r.decided() else 'within noise'} {r.text()}"
    return out


def _match_key(cells: pd.DataFrame, drop: tuple) -> list[str]:
    """What two methods' cells must share to be compared (:data:`harness.schema.SETUP`), less ``drop``."""
    return [c for c in schema.SETUP if c in cells and c not in drop]


def _keyed(cells: pd.DataFrame, key: list[str]):
    return cells.assign(_k=[tuple(str(v) for v in t) for t in cells[key].itertuples(index=False)])


def _ratio(a, b, col: str) -> stats.Ratio:
    """a's figure over b's: ratio of medians over seeds with its interval (:func:`harness.report.stats.ratio_interval`;
    compile seconds, timed once per process, with their own noise)."""
    noise = stats.COMPILE_NOISE if col == "compile_s" else stats.PROCESS_NOISE
    return stats.ratio_interval(a[f"{col}_seeds"], b[f"{col}_seeds"], noise=noise)


def _flags(*cells) -> str:
    return "; ".join(f"{c['method']}{'@' + str(c['device']) if len(cells) > 1 else ''}: {c['flag']}"
                     for c in cells if c["flag"])


def vs_baseline(cells: pd.DataFrame, baseline: str) -> Table:
    """Every method against the baseline, same target, N, device and chains.

    ESS/s and ESS per gradient as method / baseline (MCMC only: a VI guide's iid
    draws have no comparable ESS), and time to result as baseline / method, so
    every column reads > 1 = better than the baseline. Only pairs where both cells
    are ranked (usable) are listed; the caption counts the others. Cells whose runs to a
    target had different caps (``max_draws``) are paired too, on time to result only (their
    ESS figures come from runs of different lengths); the caption counts them.
    """
    key = _match_key(cells, drop=("max_draws",))
    k = _keyed(cells, key)
    rows, skipped, capped = [], 0, 0
    for _, base in k[k["method"] == baseline].iterrows():
        for _, other in k[(k["_k"] == base["_k"]) & (k["method"] != baseline)].iterrows():
            if not (base["usable"] and other["usable"]):
                skipped += 1
                continue
            caps = _caps_differ(base, other)
            capped += caps
            ess = [("n/a (caps differ)" if caps else _ratio(other, base, c).text()) if other["family"] == "mcmc"
                   else "n/a (VI)" for c in ("ess_per_s", "ess_per_grad")]
            rows.append([target_label(base), size_label(base["n"]), base["device"], method_label(other), *ess,
                         _ratio(base, other, "time_to_result_s").text(), _chains_note(other, base)])
    return Table(["target", "N", "device", "method", "ESS/s ratio", "ESS/grad ratio", "time-to-result speedup", "note"],
                 rows, f"Each method against {baseline} (>1: better than {baseline}); "
                       "ratio of medians [95 % interval over seeds]" + _not_comparable(skipped) + _caps_note(capped))


def _caps_differ(a, b) -> bool:
    """Whether two cells ran to a target under different caps on draws (``max_draws``)."""
    return str(a.get("max_draws")) != str(b.get("max_draws"))


def _caps_note(k: int) -> str:
    return (f"; {k} pair{'s' if k != 1 else ''} with different draw caps compared on time to result only"
            if k else "")


def gpu_vs_cpu(cells: pd.DataFrame) -> Table:
    """GPU over CPU for the same method and configuration (ESS/s: MCMC only, a VI guide has no ESS figure)."""
    key = _match_key(cells, drop=("device",)) + ["method", "options"]
    k = _keyed(cells, key)
    rows = []
    gpu, cpu = k[k["device"] == "gpu"], k[k["device"] == "cpu"]
    for _, g in gpu.iterrows():
        for _, c in cpu[cpu["_k"] == g["_k"]].iterrows():
            ess = "n/a (VI)" if g["family"] == "vi" else _ratio(g, c, "ess_per_s").text()
            rows.append([target_label(g), size_label(g["n"]), g["method"], ess,
                         _ratio(g, c, "us_per_grad").text(), _ratio(g, c, "compile_s").text(), _flags(g, c)])
    return Table(["target", "N", "method", "ESS/s GPU/CPU", "s per grad GPU/CPU", "compile GPU/CPU", "flag"], rows,
                 "GPU over CPU, same cell (ESS/s > 1 and s per grad < 1: GPU faster)")


def handrolled_vs_libraries(cells: pd.DataFrame) -> Table:
    """Each hand-rolled MCMC method over each library MCMC method in the same cell, where both are ranked."""
    key = _match_key(cells, drop=("max_draws",))
    k = _keyed(cells, key)
    mcmc = k[k["family"].eq("mcmc")]
    hand = mcmc[mcmc["library"].eq("handrolled")]
    libs = mcmc[~mcmc["library"].isin(["handrolled", ""])]
    rows, skipped, capped = [], 0, 0
    for _, h in hand.iterrows():
        for _, lib in libs[libs["_k"] == h["_k"]].iterrows():
            if not (h["usable"] and lib["usable"]):
                skipped += 1
                continue
            caps = _caps_differ(h, lib)
            capped += caps
            rows.append([target_label(h), size_label(h["n"]), h["device"], h["method"], method_label(lib),
                         "n/a (caps differ)" if caps else _ratio(h, lib, "ess_per_s").text(),
                         _ratio(h, lib, "us_per_grad").text(), _ratio(lib, h, "time_to_result_s").text(),
                         _chains_note(h, lib)])
    return Table(["target", "N", "device", "hand-rolled", "library", "ESS/s hand/lib", "s per grad hand/lib",
                  "time-to-result speedup", "note"],
                 rows, "Hand-rolled over library (ESS/s > 1: hand-rolled faster; s per grad < 1: cheaper gradient step; "
                 "time-to-result speedup lib/hand > 1: hand-rolled first)" + _not_comparable(skipped) + _caps_note(capped))


def _not_comparable(k: int) -> str:
    """The caption's note on the pairs left out: a flagged side has no speed to quote (its flag is in the
    per-target tables)."""
    return f"; {k} pair{'s' if k != 1 else ''} not comparable (a side not ranked: see its flag)" if k else ""


ENVIRONMENT = ["machine", "git_commit", "python", "jax", "jaxlib", "numpyro", "blackjax", "arviz", "optax", "numpy",
               "backend", "device_kind", "device_count", "cpu", "cpu_count", "memory_gib", "accelerator", "cpu_affinity", "platform", "hostname", "xla_flags_env"]


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


#: The compile anatomy's columns (harness.timing.compile_phases; warm: harness.runner.run_one).
COMPILE = ["compile_s", "init_s", "trace_s", "lower_s", "xla_compile_s", "compiles", "hlo_ops", "time_to_result_s",
           "warm_compile_s", "warm_init_s", "warm_time_to_result_s"]
#: Where a cell's own wall time went (harness.worker.Phases), and its work.
PHASES = ["startup_s", "data_s", "method_s", "summary_s", "replay_s", "roofline_s", "environment_s"]


def _per_cell(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Medians over the seeds of each cell's ok rows that carry ``cols[2]`` (rows written before it did not)."""
    ok = df[(df["status"] == "ok") & df.get(cols[2], pd.Series(index=df.index, dtype=float)).notna()]
    keys = ["model", "dataset", "n", "method", "device", "num_chains"]
    if ok.empty:
        return ok
    have = [c for c in dict.fromkeys(cols) if c in ok]
    return ok.groupby(keys, dropna=False, sort=True)[have].median(numeric_only=True).reset_index()


def compile_anatomy(df: pd.DataFrame) -> Table:
    """Per cell: what JAX compiled while the method ran, by phase (tracing, lowering, XLA), how many programs
    and how large the sampling loop's, beside the row's compile and init seconds; and, where the run had
    ``--warm-start``, the same cell's compile and time to result with the persistent cache filled."""
    cells = _per_cell(df, COMPILE)
    head = ["target", "N", "method", "device", "compile s", "init s", "trace s", "lower s", "XLA s", "programs",
            "HLO ops", "time to result s", "warm compile s", "warm time to result s"]
    rows = [[f"{r['model']}/{r['dataset']}", size_label(r["n"]), r["method"], r["device"],
             *(fmt(r.get(c)) for c in ("compile_s", "init_s", "trace_s", "lower_s", "xla_compile_s")),
             fmt(r.get("compiles")), fmt(r.get("hlo_ops")), fmt(r.get("time_to_result_s")),
             fmt(r.get("warm_compile_s")), fmt(r.get("warm_time_to_result_s"))] for _, r in cells.iterrows()]
    return Table(head, rows, caption="Medians over seeds. trace, lower and XLA: seconds JAX spent in each phase on "
                 "every program while the method ran (its loops, NumPyro's init and its small jits), from jax.monitoring; "
                 "programs: XLA compiles; HLO ops: instructions of the sampling loop's optimised HLO. warm: the cell "
                 "run again with JAX's persistent compilation cache filled (harness run --warm-start); '-' where not run.")


def protocol_cost(df: pd.DataFrame) -> Table:
    """Per cell: the seconds of each phase of its process (harness.worker.Phases) and its wall over its own
    work (compile + init + warmup + sampling): what the measurement protocol costs beside the work."""
    cells = _per_cell(df, ["compile_s", "warmup_s", "method_s", "process_s", "wall_s", "init_s", "sample_s_first",
                           "co_running", *PHASES])
    head = ["target", "N", "method", *[p.removesuffix("_s") for p in PHASES], "wall / work", "co-running"]
    rows = []
    for _, r in cells.iterrows():
        work = sum(float(r.get(c) or 0.0) for c in ("compile_s", "init_s", "warmup_s", "sample_s_first"))
        rows.append([f"{r['model']}/{r['dataset']}", size_label(r["n"]), r["method"], *(fmt(r.get(p)) for p in PHASES),
                     fmt(r["wall_s"] / work) if work > 0 else "-", fmt(r.get("co_running"))])
    return Table(head, rows, caption="Medians over seeds, seconds. startup: interpreter, imports and JAX's start; "
                 "method: compile, init, warmup, sampling and checks; replay: the floor's copies, the replays and the "
                 "host reference; wall / work: the cell's wall after startup over compile + init + warmup + the "
                 "sampling loop's first run; co-running: other cells in flight beside it (harness run --jobs).")


def _chain_way(cell) -> str:
    """How a cell ran its chains: its ``chain_method`` option (NumPyro), else 'vectorized' (BlackJAX vmaps its chains)."""
    try:
        opts = json.loads(cell["options"]) if isinstance(cell.get("options"), str) else {}
    except ValueError:
        opts = {}
    way = opts.get("chain_method", "vectorized")
    devices = cell.get("xla_devices")
    return f"{way} ({int(devices)} devices)" if way == "parallel" and devices is not None and np.isfinite(devices) else way


def chain_ways(cells: pd.DataFrame, df: pd.DataFrame) -> tuple[Table, list[str]]:
    """How to run chains: per target, N, device and chain count, each method's ways (vectorized,
    parallel, sequential), by time to result, with ESS/s, microseconds per gradient and the lockstep
    factor (the longest trajectory of each iteration over the mean, :func:`harness.metrics.lockstep_factor`:
    what a vectorized NUTS waits for). Within a method, each way's time over its fastest way's, with
    the interval of :func:`harness.report.stats.ratio_interval`. The ways of a method run the same
    budget (warmup and draws), so where none is usable (converged, accurate, no divergences) they are
    still compared, on the seconds that budget took, and the sentence says so; a usable way always
    comes before an unusable one. Returns the table and one sentence per (N, chains, method) with two
    ways or more: which way won, and by how much."""
    if "options" not in cells or cells.empty:
        return Table([], [], ""), []
    if "x_lockstep_factor" in df:
        keys = [c for c in schema.REPEAT_KEY if c in df and df[c].notna().any()]
        ok = df[df["status"] == "ok"]
        lockstep = ok.groupby(keys, dropna=False)["x_lockstep_factor"].median()
        cells = cells.merge(lockstep.rename("lockstep").reset_index(), on=keys, how="left")
    cells = cells.assign(way=[_chain_way(r) for _, r in cells.iterrows()])
    group = ["model", "dataset", "n", "device", "num_chains"]
    rows, said = [], []
    for (model, dataset, n, device, chains), g in cells.groupby(group, dropna=False, sort=True):
        if g["way"].nunique() < 2:
            continue
        for method, m in g.groupby("method", sort=True):
            ran = m[m["seeds_ok"] > 0].sort_values(["usable", "time_to_result_s_med"], ascending=[False, True],
                                                   kind="stable")
            best = ran.iloc[0] if len(ran) else None
            for _, r in m.iterrows():
                vs = "-"
                if best is not None and len(ran) > 1:
                    vs = ("fastest" if r["way"] == best["way"] else
                          _ratio(r, best, "time_to_result_s").text(noise_word=True) if r["seeds_ok"] > 0 else "-")
                rows.append([f"{model}/{dataset}", size_label(n), device, fmt(chains), method, r["way"],
                             fmt(r["time_to_result_s_med"]), fmt(r["ess_per_s_med"]), fmt(r.get("us_per_grad_med")),
                             fmt(r.get("lockstep")), vs, r["flag"] or "usable"])
            if len(ran) > 1:
                runner = ran.iloc[1]
                ratio = _ratio(runner, best, "time_to_result_s")
                verdict = (f"{ratio.text()} ahead of {runner['way']}" if ratio.decided()
                           else f"within noise of {runner['way']} ({ratio.text()})")
                budget = "" if best["usable"] else (" (no way usable at this budget: seconds for the same warmup and "
                                                    "draws, not time to a trustworthy posterior)")
                said.append(f"{model}/{dataset} N = {size_label(n)}, {fmt(chains)} chains, {method} ({device}): "
                            f"{best['way']} first, {verdict}{budget}.")
    table = Table(["target", "N", "device", "chains", "method", "chains run", "time to result s", "ESS/s", "us/grad",
                   "lockstep", "time / fastest way's", "flag"], rows,
                  "Per target, N, device and chain count where chains ran more than one way: time to result (compile + "
                  "init + warmup + sampling + checks), ESS/s and microseconds per gradient, medians over seeds; "
                  "lockstep: the longest trajectory of each iteration over the mean (what vectorized chains wait for; "
                  "1 = no waiting); each way's time over its method's fastest way's (usable ways first) [95 % interval: "
                  f"bootstrap over seeds, +-{stats.PROCESS_NOISE:.0%} process noise for a one-seed side].")
    return table, said
