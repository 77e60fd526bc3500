"""The report page: blocks of tables, figures and diagnostics for :func:`harness.report.build`."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pandas as pd

from harness.report import crossovers, figures, frame, published, stats, styles, tables
from harness.report import traces as tr
from harness.report.baseline import DEFAULT_BASELINE
from harness.report.render import Bullets, Code, Fold, Heading, Image, Table, Text, to_html, to_markdown

#: Written beside report.md: method -> the colour and marker its figures draw it with.
STYLES_FILE = "styles.json"


def _slug(*parts) -> str:
    text = "_".join("" if p is None or (isinstance(p, float) and pd.isna(p)) else str(p) for p in parts)
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_")


def _scaling_figures(cells: pd.DataFrame, out: Path) -> list:
    blocks = []
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    groups = figures.scaling_groups(cells)
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
    return blocks


def _noise_figure(df: pd.DataFrame, out: Path) -> list:
    if not ((df["status"] == "ok") & (df["sample_replays"] >= 3)).any():
        return [Text("No row was timed three times or more: no spread to draw.")]
    path = out / "figures" / "replay_spread.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figures.save(figures.replay_spread(df), path)
    return [Image(f"figures/{path.name}", "each row's sampling seconds over its replays: min and max around the median")]


def _compile_section(df: pd.DataFrame) -> list:
    table = tables.compile_anatomy(df)
    return [table] if table.rows else [Text("No row splits its compile time (rows written before trace_s existed).")]


def _chains_section(cells: pd.DataFrame, df: pd.DataFrame) -> list:
    table, said = tables.chain_ways(cells, df)
    if not table.rows:
        return [Text("No cell ran its chains more than one way (the chains suite does: harness run --suite chains).")]
    return [Bullets(said) if said else Text("No method had two usable ways to compare."), table]


def _protocol_section(df: pd.DataFrame) -> list:
    table = tables.protocol_cost(df)
    return [table] if table.rows else [Text("No row records its phases (rows written before method_s existed).")]


def _crossovers(cells: pd.DataFrame, baseline: str) -> list:
    said = crossovers.statements(cells, baseline=baseline)
    return [Bullets(said) if said else
            Text("No pair of curves to compare (needs GPU and CPU, or HMCECS / SVI and the baseline, "
                 "at two sizes or more).")]


def _accuracy_figures(cells: pd.DataFrame, out: Path) -> list:
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    acc = figures.accuracy_groups(cells)
    if not acc:
        return [Text("No row carries an accuracy column (max |z| against a reference): no accuracy figures.")]
    blocks = []
    for model, dataset, n in acc:
        path = fig_dir / f"accuracy__{_slug(model, dataset, None if pd.isna(n) else int(n))}.png"
        figures.save(figures.accuracy_vs_time(cells, model, dataset, n), path)
        blocks.append(Image(f"figures/{path.name}",
                            f"{model}/{dataset} N = {tables.size_label(n)}: max |z| of means against time to result"))
    return blocks


def _diagnostics(df: pd.DataFrame, out: Path, traces: tuple) -> list:
    blocks = []
    want = set(traces)
    diagnosable = (df["status"] == "ok") & (df["flag"] != "POINT ESTIMATE")  # a point has no chains to plot
    chosen = df[diagnosable & (df["flag"] != "")]
    if "all" in want:
        chosen = df[diagnosable]
    elif want - {"flagged"}:
        chosen = pd.concat([chosen, df[df["method"].isin(want) & diagnosable]]).drop_duplicates(subset=["_row"])
    if chosen.empty:
        return blocks + [Text("No flagged cell (and none requested): nothing to diagnose.")]
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
    blocks = []
    if bad.empty:
        return blocks + [Text("Every row has status ok.")]
    rows = [[f"{r['model']}/{r['dataset']}", tables.size_label(r["n"]), r["method"], r["device"], r["seed"],
             r["status"], r["error"][:200] if isinstance(r.get("error"), str) else ""] for _, r in bad.iterrows()]
    return blocks + [Table(["target", "N", "method", "device", "seed", "status", "error"], rows)]


def build(run_dir, out_dir=None, baseline: str = DEFAULT_BASELINE, traces: tuple = ("flagged",),
          machine: str | None = None) -> Path:
    """Write the report of ``run_dir`` under ``out_dir`` (default RUN_DIR/report); returns the HTML path.

    ``traces``: which ok rows get ArviZ trace/rank plots when their draws were
    saved: 'flagged' (always), 'all', or method names. ``machine``: report the rows of this
    machine only (:func:`harness.report.frame.select_machine`); rows from two machines without it
    are refused (UsageError), since no table, ratio or fit may mix them. The page names its
    machine, commits and measured dates at the top.
    """
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir else run_dir / "report"
    df = frame.select_machine(frame.load(run_dir), machine).reset_index(drop=True)
    df["_row"] = range(len(df))
    cells = frame.aggregate(df)
    out.mkdir(parents=True, exist_ok=True)

    status = df["status"].value_counts().to_dict()
    speed = [tables.vs_baseline(cells, baseline), tables.gpu_vs_cpu(cells), tables.handrolled_vs_libraries(cells)]
    speed = [t if t.rows else Text(f"{t.caption.split(' (')[0].split(';')[0]}: {none}") for t, none in zip(speed, (
        f"no pair of ranked cells with {baseline} and another method.", "no cell was measured on both GPU and CPU.",
        "no pair of ranked cells with a hand-rolled and a library MCMC method."))]
    commands = [str(c) for c in dict.fromkeys(df["command"].dropna()) if str(c)] if "command" in df else []
    env = tables.environment(df)
    blocks = [
        Heading(f"Benchmark report: {run_dir.name}", 1),
        Text(frame.provenance_line(frame.provenance(df))),
        Text(f"{len(df)} rows, {len(cells)} cells (configurations; seeds pooled); status: "
             + ", ".join(f"{k} {v}" for k, v in status.items()) + "."),
        Heading("Summary: first to a trustworthy posterior", 2),
        tables.summary(cells),
        Heading("Crossovers", 2),
        *_crossovers(cells, baseline),
        Heading("How to read", 2),
        Text("Figures are medians over seeds with [min-max]. A cell is ranked only when every seed is ok, "
             "converged (R-hat < 1.01, bulk ESS >= 400; VI: the optimiser met its rule), accurate against a "
             "reference and free of divergent transitions after warmup (else DIVERGENT n); the others are listed under their target with the flag and the number that failed. "
             "Time to result = compile + init + warmup + sampling seconds, + the convergence checks' seconds of a run to a "
             "target; every ratio is a ratio of medians over seeds with its 95 % interval (bootstrap over seeds; one "
             f"seed a side: +-{stats.PROCESS_NOISE:.0%} process noise), 'within noise' where the interval holds 1; "
             "ESS is the minimum bulk ESS over all "
             "coordinates and ESS/s divides it by sampling seconds (MCMC only: a guide's draws are independent). "
             "MCMC cells ranked by ESS/s, VI cells among themselves by time to result; NO REFERENCE cells by speed "
             "in a table of their own. HMCECS's per-gradient figures are n/a (its proxy's work is uncounted)."),
        Fold("Per target and size", tables.headline(cells)),
        Fold("Speedups", speed),
        Fold("Scaling with N", _scaling_figures(cells, out), in_markdown=True),
        Fold("Accuracy against time (MCMC and VI)", _accuracy_figures(cells, out), in_markdown=True),
        Fold("Noise: the replay spread", _noise_figure(df, out)),
        Fold("Where compile time goes", _compile_section(df)),
        Fold("How to run chains", _chains_section(cells, df), in_markdown=True),
        Fold("What the protocol costs", _protocol_section(df)),
        *([Fold("Published figures: NumPyro's covtype benchmark", covtype, in_markdown=True)]
          if (covtype := published.covtype(df)) else []),
        Fold("Failed, timed-out and skipped rows", _failures(df)),
        Fold("Trace and rank plots", _diagnostics(df, out, traces)),
        Fold("Environment", [env if env.rows else Text("The rows carry no environment columns.")]),
        Heading("Commands", 2),
        Text("The rows were produced by:"),
        Code("\n".join(commands) if commands else "(no command recorded in the rows)"),
        Text("This report was produced by:"),
        Code(f"harness report {shlex.quote(str(run_dir))} --out {shlex.quote(str(out))} --baseline {baseline}"
             + "".join(f" --traces {t}" for t in traces if t != "flagged")
             + (f" --machine {shlex.quote(machine)}" if machine else "")),
    ]
    (out / "report.md").write_text(to_markdown(blocks))
    # the look of each method in this report's figures, for a reader's legend and the test that every
    # committed report draws a method alike (tests/report/test_styles.py)
    looks = {m: styles.style(m)._asdict() for m in sorted(df["method"].dropna().astype(str).unique())}
    (out / STYLES_FILE).write_text(json.dumps(looks, indent=1) + "\n")
    html_path = out / "report.html"
    html_path.write_text(to_html(blocks, f"harness report: {run_dir.name}"))
    return html_path
