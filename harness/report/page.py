"""The report page: blocks of tables, figures and diagnostics for :func:`harness.report.build`."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd

from harness.report import DEFAULT_BASELINE, crossovers, figures, frame, tables
from harness.report.render import Bullets, Code, Heading, Image, Table, Text, to_html, to_markdown


def _slug(*parts) -> str:
    text = "_".join("" if p is None or (isinstance(p, float) and pd.isna(p)) else str(p) for p in parts)
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_")


def _figures(cells: pd.DataFrame, out: Path, baseline: str) -> list:
    blocks = []
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    groups = figures.scaling_groups(cells)
    blocks.append(Heading("Scaling with N", 2))
    if not groups:
        blocks.append(Text("No target was measured at two sizes or more: no scaling figures."))
    for model, dataset in groups:
        blocks.append(Heading(f"{model}/{dataset}", 3))
        for name, fn, caption in (
            ("ess_per_s", figures.ess_vs_n, "ESS/s against N (log-log); legend: slope of the log-log fit"),
            ("compile_s", figures.compile_vs_n, "compile seconds against N"),
            ("us_per_grad", figures.per_grad_vs_n, "sampling µs per gradient against N; dashed: gradient floor"),
        ):
            path = fig_dir / f"{name}__{_slug(model, dataset)}.png"
            figures.save(fn(cells, model, dataset), path)
            blocks.append(Image(f"figures/{path.name}", f"{model}/{dataset}: {caption}"))
    blocks.append(Heading("Crossovers", 3))
    said = crossovers.statements(cells, baseline=baseline)
    blocks.append(Bullets(said) if said else
                  Text("No pair of curves to compare (needs GPU and CPU, or HMCECS / SVI and the baseline, "
                       "at two sizes or more)."))
    blocks.append(Heading("Accuracy against time (MCMC and VI)", 2))
    acc = figures.accuracy_groups(cells)
    if not acc:
        blocks.append(Text("No row carries an accuracy column (max |z| against a reference): no accuracy figures."))
    for model, dataset, n in acc:
        path = fig_dir / f"accuracy__{_slug(model, dataset, None if pd.isna(n) else int(n))}.png"
        figures.save(figures.accuracy_vs_time(cells, model, dataset, n), path)
        blocks.append(Image(f"figures/{path.name}",
                            f"{model}/{dataset} N = {tables.size_label(n)}: max |z| of means against time to result"))
    return blocks


def _diagnostics(df: pd.DataFrame, out: Path, traces: tuple) -> list:
    blocks = [Heading("Trace and rank plots", 2)]
    want = set(traces)
    diagnosable = (df["status"] == "ok") & (df["flag"] != "POINT ESTIMATE")  # a point has no chains to plot
    chosen = df[diagnosable & (df["flag"] != "")]
    if "all" in want:
        chosen = df[diagnosable]
    elif want - {"flagged"}:
        chosen = pd.concat([chosen, df[df["method"].isin(want) & diagnosable]]).drop_duplicates(subset=["_row"])
    if chosen.empty:
        return blocks + [Text("No flagged cell (and none requested): nothing to diagnose.")]
    from harness.report import traces as tr

    missing = []
    keys = frame.config_columns(chosen)
    for _, g in chosen.groupby(keys, dropna=False, sort=False):
        r0 = g.iloc[0]
        cell = f"{r0['model']}/{r0['dataset']} N={tables.size_label(r0['n'])} {r0['method']} ({r0['device']})"
        with_draws = g[g["draws_file"].map(lambda f: isinstance(f, str))]
        if with_draws.empty:
            missing.append(f"{cell} seed {', '.join(tables.fmt(s) for s in g['seed'])}")
            continue
        r = with_draws.iloc[0]  # one seed per cell keeps the page readable; the others are alike or listed
        stem = _slug(r["model"], r["dataset"], r["n"], r["method"], r["device"], f"seed{tables.fmt(r['seed'])}", r["_row"])
        for path in tr.plot(r["draws_file"], out / "diagnostics", stem):
            kind = "trace" if path.stem.endswith("trace") else "rank"
            blocks.append(Image(f"diagnostics/{path.name}", f"{cell} seed {tables.fmt(r['seed'])}: {kind} plot, worst R-hat "
                                "coordinates" + (f" [{r['flag']}]" if r["flag"] else "")))
    if missing:
        blocks.append(Text("No saved draws (run with `--save-draws`) for: " + "; ".join(missing) + "."))
    return blocks


def _failures(df: pd.DataFrame) -> list:
    bad = df[df["status"] != "ok"]
    blocks = [Heading("Failed, timed-out and skipped rows", 2)]
    if bad.empty:
        return blocks + [Text("Every row has status ok.")]
    rows = [[f"{r['model']}/{r['dataset']}", tables.size_label(r["n"]), r["method"], r["device"], r["seed"],
             r["status"], r["error"][:200] if isinstance(r.get("error"), str) else ""] for _, r in bad.iterrows()]
    return blocks + [Table(["target", "N", "method", "device", "seed", "status", "error"], rows)]


def build(run_dir, out_dir=None, baseline: str = DEFAULT_BASELINE, traces: tuple = ("flagged",)) -> Path:
    """Write the report of ``run_dir`` under ``out_dir`` (default RUN_DIR/report); returns the HTML path.

    ``traces``: which ok rows get ArviZ trace/rank plots when their draws were
    saved: 'flagged' (always), 'all', or method names.
    """
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir else run_dir / "report"
    df = frame.load(run_dir)
    df["_row"] = range(len(df))
    cells = frame.aggregate(df)
    out.mkdir(parents=True, exist_ok=True)

    status = df["status"].value_counts().to_dict()
    blocks = [
        Heading(f"Benchmark report: {run_dir.name}", 1),
        Text(f"{len(df)} rows, {len(cells)} cells (configurations; seeds pooled); status: "
             + ", ".join(f"{k} {v}" for k, v in status.items()) + "."),
        Heading("How to read", 2),
        Text("Each figure is the median over seeds with [min-max]. ESS is the minimum bulk ESS over all "
             "coordinates; ESS/s divides it by sampling seconds (compile and warmup excluded); 'first draw s' "
             "is compile + init + warmup seconds. A cell is ranked only when every seed is ok, converged "
             "(R-hat < 1.01, bulk ESS >= 400) and accurate; flagged cells sit below, unranked, with the reason. "
             "VI cells count as converged when the optimiser met its convergence rule, need a reference posterior "
             "(else NO REFERENCE: their accuracy is their only figure of merit) and are ranked among themselves "
             "by time to result; the ESS/s figures show MCMC only (a guide's draws are independent, so their ESS "
             "is no measure of the inference). A speedup ratio is '-' where either side is flagged. "
             "HMCECS's per-gradient figures count full-data-equivalent gradients. max R-hat, divergences and max |z| are "
             "the worst seed's. Ratios are ratios of medians with [min/max, max/min] over seeds."),
        Heading("Headline: per target and size", 2),
        *tables.headline(cells),
        Heading("Speedups", 2),
    ]
    speed = [tables.vs_baseline(cells, baseline), tables.gpu_vs_cpu(cells), tables.handrolled_vs_libraries(cells)]
    for t, none in zip(speed, (f"no cell has both {baseline} and another method.", "no cell was measured on both GPU and CPU.",
                               "no cell has both a hand-rolled and a library MCMC method.")):
        blocks.append(t if t.rows else Text(f"{t.caption.split(' (')[0].split(';')[0]}: {none}"))
    blocks += _figures(cells, out, baseline)
    blocks += _failures(df)
    blocks += _diagnostics(df, out, traces)
    commands = [str(c) for c in dict.fromkeys(df["command"].dropna()) if str(c)] if "command" in df else []
    blocks += [
        Heading("Environment", 2),
        env if (env := tables.environment(df)).rows else Text("The rows carry no environment columns."),
        Heading("Commands", 2),
        Text("The rows were produced by:"),
        Code("\n".join(commands) if commands else "(no command recorded in the rows)"),
        Text("This report was produced by:"),
        Code(f"harness report {shlex.quote(str(run_dir))} --out {shlex.quote(str(out))} --baseline {baseline}"
             + "".join(f" --traces {t}" for t in traces if t != "flagged")),
    ]
    (out / "report.md").write_text(to_markdown(blocks))
    html_path = out / "report.html"
    html_path.write_text(to_html(blocks, f"harness report: {run_dir.name}"))
    return html_path
