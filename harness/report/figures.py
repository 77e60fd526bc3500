"""Report figures (matplotlib, Agg backend), drawn from seed-aggregated cells.

Each function returns a ``Figure`` (the caller saves and closes it), so tests
can read the plotted data back from the artists. A curve is one (method,
device[, chains]) over N: the median over seeds, with the min-max over seeds
as vertical bars. Cells with a flag (not converged, inaccurate) are drawn
with a red cross over the point: their ESS/s is not a speed anyone may quote.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from harness.report import stats  # noqa: E402

MARKERS = {"mcmc": "o", "vi": "^"}


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


def _draw_curves(ax, cs: dict, col: str, fit: bool):
    for label, c in cs.items():
        x, y = c["n"].to_numpy(float), c[f"{col}_med"].to_numpy(float)
        if fit:
            f = stats.loglog_fit(x, y)
            label = f"{label}: slope {f.slope:+.2f}" if np.isfinite(f.slope) else f"{label}: one size"
        (line,) = ax.plot(x, y, marker="o", label=label)
        lo, hi = c[f"{col}_min"].to_numpy(float), c[f"{col}_max"].to_numpy(float)
        ax.vlines(x, lo, hi, color=line.get_color(), alpha=0.5)
        bad = ~c["usable"].to_numpy(bool)
        if bad.any():
            ax.scatter(x[bad], y[bad], marker="x", s=80, color="red", zorder=5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (data size)")
    ax.grid(True, which="both", alpha=0.3)


def _new(title: str):
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=100)
    ax.set_title(title, fontsize=10)
    return fig, ax


def _legend(ax, flagged: bool):
    if flagged:
        ax.scatter([], [], marker="x", s=80, color="red", label="flagged: not converged, inaccurate or a seed failed")
    ax.legend(fontsize=7, loc="best")


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
    _draw_curves(ax, cs, "ess_per_s", fit=True)
    ax.set_ylabel("ESS/s (median over seeds)")
    _legend(ax, _any_flagged(cs))
    return fig


def compile_vs_n(cells: pd.DataFrame, model: str, dataset: str):
    """Median compile seconds against N."""
    cs = curves(cells, model, dataset, "compile_s")
    fig, ax = _new(f"{model}/{dataset}: compile seconds")
    _draw_curves(ax, cs, "compile_s", fit=True)
    ax.set_ylabel("compile s (median over seeds)")
    _legend(ax, _any_flagged(cs))
    return fig


def floors(cells: pd.DataFrame, model: str, dataset: str) -> dict:
    """label -> (N, median floor µs per gradient) per device and gradient batch, from ``floor_us_per_grad``.

    The batch is ``floor_batch`` (the number of points the floor's gradient was
    taken at once, as the method evaluates them), else the number of chains.
    """
    g = cells[(cells["model"] == model) & (cells["dataset"] == dataset)]
    g = g[np.isfinite(g["floor_us_per_grad_med"]) & (g["floor_us_per_grad_med"] > 0)]
    batch = g["floor_batch"] if "floor_batch" in g else pd.Series(np.nan, index=g.index)
    g = g.assign(_batch=batch.fillna(g["num_chains"]))
    out = {}
    for (device, b), c in g.groupby(["device", "_batch"], sort=True):
        per_n = c.groupby("n")["floor_us_per_grad_med"].median().sort_index()
        out[f"gradient floor ({device}, batch {int(b)})"] = (per_n.index.to_numpy(float), per_n.to_numpy(float))
    return out


def per_grad_vs_n(cells: pd.DataFrame, model: str, dataset: str):
    """Sampling µs per gradient per chain against N, with the measured gradient floor dashed."""
    cs = curves(cells, model, dataset, "us_per_grad")
    fig, ax = _new(f"{model}/{dataset}: sampling cost per gradient evaluation")
    _draw_curves(ax, cs, "us_per_grad", fit=True)
    fl = floors(cells, model, dataset)
    for label, (x, y) in fl.items():
        ax.plot(x, y, linestyle="--", color="black", linewidth=1.5, label=label)
    if not fl:
        ax.text(0.02, 0.02, "no gradient floor in these rows", transform=ax.transAxes, fontsize=8)
    ax.set_ylabel("µs per gradient per chain (median)")
    _legend(ax, _any_flagged(cs))
    return fig


def accuracy_groups(cells: pd.DataFrame) -> list[tuple]:
    """(model, dataset, n) groups with an accuracy figure in at least one ok cell."""
    g = cells[(cells["seeds_ok"] > 0) & np.isfinite(cells["acc_z_mean"])]
    return sorted({(m, d, n) for m, d, n in zip(g["model"], g["dataset"], g["n"])}, key=str)


def accuracy_vs_time(cells: pd.DataFrame, model: str, dataset: str, n):
    """Max |z| of posterior means against time to result (compile + init + warmup + sampling), MCMC and VI together."""
    g = cells[(cells["model"] == model) & (cells["dataset"] == dataset) & (cells["seeds_ok"] > 0)]
    g = g[(g["n"] == n) | (pd.isna(n) & g["n"].isna())]
    g = g[np.isfinite(g["acc_z_mean"]) & np.isfinite(g["time_to_result_s_med"])]
    title = f"{model}/{dataset}" + ("" if pd.isna(n) else f", N = {int(n):,}")
    fig, ax = _new(f"{title}: accuracy against time to result")
    for (method, device, family), c in g.groupby(["method", "device", "family"], sort=True):
        ax.scatter(c["time_to_result_s_med"], c["acc_z_mean"], marker=MARKERS.get(family, "s"), s=50,
                   label=f"{method} ({device}, {family.upper()})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time to result, s (compile + init + warmup + sampling; median over seeds)")
    ax.set_ylabel("max |z| of posterior means (worst seed)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


def save(fig, path) -> None:
    fig.savefig(path)
    plt.close(fig)
