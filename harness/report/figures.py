"""Report figures (matplotlib, Agg backend), drawn from seed-aggregated cells.

Each function returns a ``Figure`` (the caller saves and closes it), so tests
can read the plotted data back from the artists. A curve is one (method,
device[, chains]) over N: the median over seeds, with the min-max over seeds
as vertical bars. A method has one colour and marker in every figure of every
report, looked up by its name (:mod:`harness.report.styles`); the device and
chain count vary the line style (:func:`variant_linestyles`). Cells with a flag
(not converged, inaccurate, a seed failed) are drawn hollow and left out of the
log-log fit: their figure is not a speed anyone may quote, so it must not bend a
slope. Legends sit outside the axes, right of them, so they hide no point.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from harness.report import stats  # noqa: E402
from harness.report.styles import Style, style  # noqa: E402

LINESTYLES = ("-", "--", ":", "-.")
FLAGGED_POINT = "hollow: flagged (not converged, inaccurate\nor a seed failed)"
FLAGGED = f"{FLAGGED_POINT}, not in the fit"
FIT = "wide pale line: log-log fit\nthrough the filled points"
GPU = "black ring: run on a GPU"


def variant_linestyles(cells: pd.DataFrame) -> dict[tuple, str]:
    """(device, num_chains) -> line style, by place among the report's sorted pairs.

    The curve key's parts other than the method; taken from all the report's
    cells, so a device keeps its line style across figures.
    """
    pairs = sorted(set(zip(cells["device"], cells["num_chains"])), key=str)
    return {p: LINESTYLES[i % len(LINESTYLES)] for i, p in enumerate(pairs)}


def scaling_groups(cells: pd.DataFrame) -> list[tuple]:
    """(model, dataset) pairs measured at two sizes or more."""
    ok = cells[cells["seeds_ok"] > 0]
    counts = ok.groupby(["model", "dataset"])["n"].nunique()
    return [k for k, v in counts.items() if v >= 2]


def _curve_keys(g: pd.DataFrame) -> list[str]:
    keys = ["method", "device"]
    if g["num_chains"].nunique() > 1:
        keys.append("num_chains")
    return keys


def _label(key: tuple, keys: list[str]) -> str:
    d = dict(zip(keys, key))
    extra = f", {int(d['num_chains'])} chains" if "num_chains" in d else ""
    return f"{d['method']} ({d['device']}{extra})"


def curves(cells: pd.DataFrame, model: str, dataset: str, col: str, usable_only: bool = False,
           family: str | None = None) -> dict:
    """label -> DataFrame (sorted by N) of the cells of one scaling group with a finite positive median ``col``
    (of one ``family`` only, when given)."""
    g = cells[(cells["model"] == model) & (cells["dataset"] == dataset) & (cells["seeds_ok"] > 0)]
    if usable_only:
        g = g[g["usable"]]
    if family is not None:
        g = g[g["family"] == family]
    g = g[np.isfinite(g[f"{col}_med"]) & (g[f"{col}_med"] > 0)]
    keys = _curve_keys(g) if len(g) else ["method", "device"]
    out = {}
    for key, c in g.groupby(keys, sort=True):
        out[_label(key if isinstance(key, tuple) else (key,), keys)] = c.sort_values("n")
    return out


def ranked_fit(c: pd.DataFrame, col: str) -> stats.Fit:
    """Log-log fit of one curve's medians through its unflagged cells only (NaN slope under two such sizes)."""
    ranked = c[c["usable"].to_numpy(bool)]
    return stats.loglog_fit(ranked["n"], ranked[f"{col}_med"])


def _draw_fit(ax, c: pd.DataFrame, col: str, label: str, st: Style) -> tuple[str, bool]:
    """Draw the ranked fit of curve ``c`` across its ranked sizes (none under two): (legend label with the slope, drawn)."""
    f = ranked_fit(c, col)
    if not np.isfinite(f.slope):
        return f"{label}: no fit (under 2 unflagged sizes)", False
    n = c.loc[c["usable"].to_numpy(bool), "n"].to_numpy(float)
    x = np.array([n.min(), n.max()])
    ax.plot(x, 10 ** (f.intercept + f.slope * np.log10(x)), color=st.colour, linewidth=6, alpha=0.2,
            solid_capstyle="round", label=f"_fit {label}")
    return f"{label}: slope {f.slope:+.2f}", True


def _draw_curves(ax, cells: pd.DataFrame, cs: dict, col: str) -> bool:
    """Each curve in its method's colour and marker: filled where ranked, hollow where flagged; fits through the filled.

    Returns whether any fit line was drawn (the legend then keys it).
    """
    linestyles = variant_linestyles(cells)
    fitted = False
    for label, c in cs.items():
        x, y = c["n"].to_numpy(float), c[f"{col}_med"].to_numpy(float)
        st = style(c["method"].iloc[0])
        bad = ~c["usable"].to_numpy(bool)
        label, drawn = _draw_fit(ax, c, col, label, st)
        fitted |= drawn
        # all flagged: no filled marker to draw, so the legend's key is hollow too
        ax.plot(x, y, color=st.colour, marker=st.marker, markevery=np.flatnonzero(~bad).tolist(),
                markerfacecolor="none" if bad.all() else st.colour,
                linestyle=linestyles[(c["device"].iloc[0], c["num_chains"].iloc[0])], label=label)
        lo, hi = c[f"{col}_min"].to_numpy(float), c[f"{col}_max"].to_numpy(float)
        ax.vlines(x, lo, hi, color=st.colour, alpha=0.5)
        if bad.any():
            ax.plot(x[bad], y[bad], linestyle="", color=st.colour, marker=st.marker, markerfacecolor="none",
                    zorder=5, label=f"_flagged {label}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (data size)")
    ax.grid(True, which="both", alpha=0.3)
    return fitted


def _new(title: str):
    """A figure with room on the right for the legend (:func:`_outside`)."""
    fig, ax = plt.subplots(figsize=(10.5, 4.8), dpi=100, layout="constrained")
    ax.set_title(title, fontsize=10)
    return fig, ax


def _outside(ax) -> None:
    """The legend right of the axes, top-aligned: it hides no point however many curves there are."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _legend(ax, flagged: bool, fitted: bool, flagged_key: str = FLAGGED):
    """The legend, with keys for the hollow (flagged) points and the fit line where the figure has them."""
    if flagged:
        ax.plot([], [], linestyle="", color="grey", marker="o", markerfacecolor="none", label=flagged_key)
    if fitted:
        ax.plot([], [], color="grey", linewidth=6, alpha=0.2, label=FIT)
    _outside(ax)


def _any_flagged(cs: dict) -> bool:
    return any((~c["usable"]).any() for c in cs.values())


def ess_vs_n(cells: pd.DataFrame, model: str, dataset: str):
    """Median ESS/s against N, log-log, one line per MCMC method and device; slope of the log-log fit in the legend.

    MCMC only: a VI guide's draws are independent, so their "ESS" measures the
    number of draws taken, not the efficiency of an inference, and would not be
    comparable with a Markov chain's.
    """
    cs = curves(cells, model, dataset, "ess_per_s", family="mcmc")
    fig, ax = _new(f"{model}/{dataset}: min bulk ESS per second of sampling (MCMC)")
    fitted = _draw_curves(ax, cells, cs, "ess_per_s")
    ax.set_ylabel("ESS/s (median over seeds)")
    _legend(ax, _any_flagged(cs), fitted)
    return fig


def compile_vs_n(cells: pd.DataFrame, model: str, dataset: str):
    """Median compile seconds against N."""
    cs = curves(cells, model, dataset, "compile_s")
    fig, ax = _new(f"{model}/{dataset}: compile seconds")
    fitted = _draw_curves(ax, cells, cs, "compile_s")
    ax.set_ylabel("compile s (median over seeds)")
    _legend(ax, _any_flagged(cs), fitted)
    return fig


def floors(cells: pd.DataFrame, model: str, dataset: str, col: str = "floor_us_per_grad",
           name: str = "gradient floor") -> dict:
    """label -> (N, median µs per gradient) per device and gradient batch, from ``col`` (the measured
    floor, or the memory roofline ``roofline_us_per_grad``).

    The batch is ``floor_batch`` (the number of points the floor's gradient was
    taken at once, as the method evaluates them), else the number of chains.
    """
    g = cells[(cells["model"] == model) & (cells["dataset"] == dataset)]
    if f"{col}_med" not in g:
        return {}
    g = g[np.isfinite(g[f"{col}_med"]) & (g[f"{col}_med"] > 0)]
    batch = g["floor_batch"] if "floor_batch" in g else pd.Series(np.nan, index=g.index)
    g = g.assign(_batch=batch.fillna(g["num_chains"]))
    out = {}
    for (device, b), c in g.groupby(["device", "_batch"], sort=True):
        per_n = c.groupby("n")[f"{col}_med"].median().sort_index()
        out[f"{name} ({device}, batch {int(b)})"] = (per_n.index.to_numpy(float), per_n.to_numpy(float))
    return out


def per_grad_vs_n(cells: pd.DataFrame, model: str, dataset: str):
    """Sampling µs per gradient per chain against N, with the measured gradient floor dashed and the
    memory roofline (:mod:`harness.roofline`) dotted."""
    cs = curves(cells, model, dataset, "us_per_grad")
    fig, ax = _new(f"{model}/{dataset}: sampling cost per gradient evaluation")
    fitted = _draw_curves(ax, cells, cs, "us_per_grad")
    fl = floors(cells, model, dataset)
    for label, (x, y) in fl.items():
        ax.plot(x, y, linestyle="--", color="black", linewidth=1.5, label=label)
    for label, (x, y) in floors(cells, model, dataset, "roofline_us_per_grad", "memory roofline").items():
        ax.plot(x, y, linestyle=":", color="black", linewidth=1.5, label=label)
    if not fl:
        ax.text(0.02, 0.02, "no gradient floor in these rows", transform=ax.transAxes, fontsize=8)
    ax.set_ylabel("µs per gradient per chain (median)")
    _legend(ax, _any_flagged(cs), fitted)
    return fig


def accuracy_groups(cells: pd.DataFrame) -> list[tuple]:
    """(model, dataset, n) groups with an accuracy figure in at least one ok cell."""
    g = cells[(cells["seeds_ok"] > 0) & np.isfinite(cells["acc_z_mean"])]
    return sorted({(m, d, n) for m, d, n in zip(g["model"], g["dataset"], g["n"])}, key=str)


def accuracy_vs_time(cells: pd.DataFrame, model: str, dataset: str, n):
    """Max |z| of posterior means against time to result (compile + init + warmup + sampling), MCMC and VI together.

    Each method in its colour and marker (:mod:`harness.report.styles`), hollow where the cell is
    flagged; GPU points inside a black ring.
    """
    g = cells[(cells["model"] == model) & (cells["dataset"] == dataset) & (cells["seeds_ok"] > 0)]
    g = g[(g["n"] == n) | (pd.isna(n) & g["n"].isna())]
    g = g[np.isfinite(g["acc_z_mean"]) & np.isfinite(g["time_to_result_s_med"])]
    title = f"{model}/{dataset}" + ("" if pd.isna(n) else f", N = {int(n):,}")
    fig, ax = _new(f"{title}: accuracy against time to result")
    for (method, device, family), c in g.groupby(["method", "device", "family"], sort=True):
        st = style(method)
        x, y = c["time_to_result_s_med"].to_numpy(float), c["acc_z_mean"].to_numpy(float)
        bad = ~c["usable"].to_numpy(bool)
        label = f"{method} ({device}, {family.upper()})"
        if device == "gpu":
            ax.plot(x, y, linestyle="", color="black", marker=st.marker, markersize=12, markerfacecolor="none",
                    label=f"_gpu {label}")
        if (~bad).any():
            ax.plot(x[~bad], y[~bad], linestyle="", marker=st.marker, color=st.colour, label=label)
        if bad.any():
            ax.plot(x[bad], y[bad], linestyle="", color=st.colour, marker=st.marker, markerfacecolor="none",
                    label=f"_flagged {label}" if (~bad).any() else label)
    if (g["device"] == "gpu").any():
        ax.plot([], [], linestyle="", color="black", marker="o", markersize=12, markerfacecolor="none", label=GPU)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time to result, s (compile + init + warmup + sampling; median over seeds)")
    ax.set_ylabel("max |z| of posterior means (worst seed)")
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, bool((~g["usable"].to_numpy(bool)).any()), False, FLAGGED_POINT)
    return fig


def replay_spread(df: pd.DataFrame):
    """Each ok row's sampling-time spread over its replays, in % of its median: the noise of the run.

    One horizontal bar per row with three timings or more (``sample_s_min`` to ``sample_s_max``
    over ``sample_s``, minus 1), sorted by width, coloured by method (:mod:`harness.report.styles`);
    a row whose cell was run twice by the second pass (``attempts``) is marked with an x.
    """
    ok = df[(df["status"] == "ok") & (df["sample_replays"] >= 3) & (df["sample_s"] > 0)].copy()
    ok["lo"] = 100 * (ok["sample_s_min"] / ok["sample_s"] - 1)
    ok["hi"] = 100 * (ok["sample_s_max"] / ok["sample_s"] - 1)
    ok = ok.assign(width=ok["hi"] - ok["lo"]).sort_values("width", kind="stable")
    fig, ax = plt.subplots(figsize=(10.5, max(3.0, 0.12 * len(ok) + 1.2)), dpi=100, layout="constrained")
    ax.set_title(f"Sampling-time spread over the replays, {len(ok)} rows (median = 0 %)", fontsize=10)
    for y, (_, r) in enumerate(ok.iterrows()):
        st = style(r["method"])
        ax.hlines(y, r["lo"], r["hi"], color=st.colour, linewidth=2.5)
        if r["attempts"] > 1:
            ax.plot([r["hi"]], [y], marker="x", color="black", markersize=4)
    for m in dict.fromkeys(ok["method"]):
        ax.plot([], [], color=style(m).colour, linewidth=2.5, label=m)
    if (ok["attempts"] > 1).any():
        ax.plot([], [], marker="x", linestyle="", color="black", label="run twice (second pass): faster kept")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("replay min and max, % from the median")
    ax.set_yticks([])
    _outside(ax)
    return fig


def save(fig, path) -> None:
    fig.savefig(path)
    plt.close(fig)
