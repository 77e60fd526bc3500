import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import same_color, to_rgba

from harness.report import figures
from harness.report.styles import style

from tests.report.conftest import raw_rows


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _medians(col, method, device):
    raw = raw_rows()
    r = raw[(raw["model"] == "sparse_logistic") & (raw["method"] == method) & (raw["device"] == device)
            & (raw["status"] == "ok")]
    m = r.groupby("n")[col].median()
    return m.index.to_numpy(float), m.to_numpy(float)


KEYS = {figures.FIT, figures.FLAGGED, figures.FLAGGED_POINT, figures.GPU}


def _lines(fig):
    """The curves' and floors' lines by label (fit lines, hollow points and GPU rings, labelled "_...",
    and the legend's keys left out)."""
    return {line.get_label(): line for line in fig.axes[0].get_lines()
            if not line.get_label().startswith("_") and line.get_label() not in KEYS}


def _fits(fig):
    """Curve label -> its fit line."""
    return {line.get_label().removeprefix("_fit "): line for line in fig.axes[0].get_lines()
            if line.get_label().startswith("_fit ")}


def _points(fig) -> tuple[set, set]:
    """(filled, hollow): the (x, y) of every marker drawn for a cell, read from the artists
    (legend keys, fit lines and GPU rings left out)."""
    filled, hollow = set(), set()
    for line in fig.axes[0].get_lines():
        label = line.get_label()
        if line.get_marker() in ("None", "", None) or label.startswith(("_fit", "_gpu")) or label in KEYS:
            continue
        x, y = line.get_xdata(), line.get_ydata()
        every = line.get_markevery()
        kind = hollow if line.get_markerfacecolor() == "none" else filled
        kind.update((float(x[i]), round(float(y[i]), 9)) for i in (range(len(x)) if every is None else every))
    return filled, hollow


def _cell_points(g, xcol, ycol) -> tuple[set, set]:
    """(usable, flagged) cells of ``g`` as (x, y) pairs, rounded like :func:`_points`."""
    pts = lambda c: {(float(x), round(float(y), 9)) for x, y in zip(c[xcol], c[ycol])}  # noqa: E731
    return pts(g[g["usable"]]), pts(g[~g["usable"]])


def _slope(line):
    x, y = np.log10(line.get_xdata()), np.log10(line.get_ydata())
    return (y[-1] - y[0]) / (x[-1] - x[0])


def test_ess_vs_n_plots_each_mcmc_method_and_device_median_with_slope(cells):
    fig = figures.ess_vs_n(cells, "sparse_logistic", "synthetic")
    lines = _lines(fig)
    # MCMC only: svi_autonormal has an ESS/s column (of iid guide draws) but no curve here
    assert set(lines) == {"numpyro_nuts (cpu): slope -1.00", "numpyro_nuts (gpu): slope -0.30",
                          # blackjax_nuts' N = 1e5 seed 2 failed: that cell is flagged, so out of the fit
                          "blackjax_nuts (cpu): slope -1.00", "numpyro_hmcecs (cpu): slope -0.50",
                          # flagged at every size: no fit at all
                          "handrolled_hmc (cpu): no fit (under 2 unflagged sizes)"}
    for label, line in lines.items():
        method, device = label.split(" (")[0], label.split("(")[1].split(")")[0]
        x, y = _medians("ess_per_s", method, device)
        np.testing.assert_allclose(line.get_xdata(), x)
        np.testing.assert_allclose(line.get_ydata(), y)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    # the non-converged method's points are hollow, in its colour, and the legend says what hollow means
    hollow = next(line for line in ax.get_lines() if line.get_label().startswith("_flagged handrolled_hmc"))
    np.testing.assert_allclose(hollow.get_ydata(), _medians("ess_per_s", "handrolled_hmc", "cpu")[1])
    assert hollow.get_markerfacecolor() == "none"
    assert same_color(hollow.get_markeredgecolor(), style("handrolled_hmc").colour)
    assert figures.FLAGGED in [t.get_text() for t in ax.get_legend().get_texts()]


def test_compile_and_per_gradient_figures_with_the_floor(cells):
    comp = _lines(figures.compile_vs_n(cells, "sparse_logistic", "synthetic"))
    line = next(v for k, v in comp.items() if k.startswith("numpyro_nuts (gpu)"))
    np.testing.assert_allclose(line.get_ydata(), _medians("compile_s", "numpyro_nuts", "gpu")[1])
    grad = _lines(figures.per_grad_vs_n(cells, "sparse_logistic", "synthetic"))
    floor = grad["gradient floor (cpu, batch 4)"]
    x, y = _medians("floor_us_per_grad", "numpyro_nuts", "cpu")
    np.testing.assert_allclose(floor.get_xdata(), x)
    np.testing.assert_allclose(floor.get_ydata(), y)
    assert floor.get_linestyle() == "--" and "gradient floor (gpu, batch 4)" in grad
    # the SVI cells' floor was measured at batch 1 (their floor_batch), not at their 4 "chains"
    assert "gradient floor (cpu, batch 1)" in grad and "gradient floor (gpu, batch 1)" not in grad
    raw = raw_rows()
    r = raw[(raw["method"] == "numpyro_nuts") & (raw["device"] == "cpu") & (raw["model"] == "sparse_logistic")]
    us = (1e6 * r["sample_s"] / r["grad_evals"]).groupby(r["n"]).median().to_numpy()
    nuts = next(v for k, v in grad.items() if k.startswith("numpyro_nuts (cpu)"))
    np.testing.assert_allclose(nuts.get_ydata(), us)
    # HMCECS: per full-data-equivalent gradient (its subsample gradients touch a tenth of the data)
    r = raw[(raw["method"] == "numpyro_hmcecs") & (raw["model"] == "sparse_logistic")]
    us = (1e6 * r["sample_s"] / r["grad_evals_full_equiv"]).groupby(r["n"]).median().to_numpy()
    ecs = next(v for k, v in grad.items() if k.startswith("numpyro_hmcecs (cpu)"))
    np.testing.assert_allclose(ecs.get_ydata(), us)
    assert not np.allclose(us, (1e6 * r["sample_s"] / r["grad_evals"]).groupby(r["n"]).median().to_numpy())


def test_accuracy_vs_time_puts_mcmc_and_vi_on_one_axes(cells):
    fig = figures.accuracy_vs_time(cells, "sparse_logistic", "synthetic", 10000)
    points = {k: np.column_stack([v.get_xdata(), v.get_ydata()]) for k, v in _lines(fig).items()}
    assert "svi_autonormal (cpu, VI)" in points and "numpyro_nuts (cpu, MCMC)" in points
    raw = raw_rows()
    r = raw[(raw["method"] == "svi_autonormal") & (raw["n"] == 10000)]
    ttr = (r["compile_s"] + r["init_s"] + r["warmup_s"] + r["sample_s"]).median()
    np.testing.assert_allclose(points["svi_autonormal (cpu, VI)"], [[ttr, r["z_mean_max"].max()]])
    assert len(points) == 7  # every method on that size with an accuracy figure, on both devices
    # the GPU point sits inside a black ring, and the legend keys it
    ring = next(line for line in fig.axes[0].get_lines() if line.get_label() == "_gpu numpyro_nuts (gpu, MCMC)")
    np.testing.assert_allclose(np.column_stack([ring.get_xdata(), ring.get_ydata()]),
                               points["numpyro_nuts (gpu, MCMC)"])
    assert same_color(ring.get_markeredgecolor(), "black") and ring.get_markerfacecolor() == "none"
    assert figures.GPU in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_groups(cells):
    assert figures.scaling_groups(cells) == [("sparse_logistic", "synthetic")]  # eight schools has one size
    assert len(figures.accuracy_groups(cells)) == 4


def test_fits_go_through_the_unflagged_points_only(cells):
    fig = figures.ess_vs_n(cells, "sparse_logistic", "synthetic")
    fits = _fits(fig)
    # blackjax_nuts at N = 1e5 is flagged (a seed failed) and would bend the slope: -1.01 through all three sizes
    x, y = _medians("ess_per_s", "blackjax_nuts", "cpu")
    assert np.polyfit(np.log10(x), np.log10(y), 1)[0] == pytest.approx(-1.01, abs=5e-3)
    fit = fits["blackjax_nuts (cpu)"]
    np.testing.assert_allclose(fit.get_xdata(), x[:2])  # drawn across the unflagged sizes only
    assert _slope(fit) == pytest.approx(np.polyfit(np.log10(x[:2]), np.log10(y[:2]), 1)[0])
    c = figures.curves(cells, "sparse_logistic", "synthetic", "ess_per_s")["blackjax_nuts (cpu)"]
    assert figures.ranked_fit(c, "ess_per_s").points == 2
    # every size of handrolled_hmc is flagged: no fit line, though its points are drawn
    assert not any(k.startswith("handrolled_hmc") for k in fits)
    assert any(k.startswith("handrolled_hmc") for k in _lines(fig))


def test_a_method_has_one_colour_and_marker_in_every_figure(cells):
    figs = [figures.ess_vs_n(cells, "sparse_logistic", "synthetic"),
            figures.compile_vs_n(cells, "sparse_logistic", "synthetic"),
            figures.per_grad_vs_n(cells, "sparse_logistic", "synthetic"),
            figures.accuracy_vs_time(cells, "sparse_logistic", "synthetic", 10000)]
    seen = set()
    for fig in figs:
        for label, line in _lines(fig).items():
            if not label.startswith(("gradient floor", "memory roofline")):
                method = label.split(" (")[0]
                seen.add(method)
                assert same_color(line.get_color(), style(method).colour), label
                assert line.get_marker() == style(method).marker, label
    assert {"numpyro_nuts", "blackjax_nuts", "svi_autonormal", "handrolled_hmc"} <= seen


def _colour_of(fig, method: str):
    return next(line.get_color() for label, line in _lines(fig).items() if label.startswith(f"{method} (cpu)"))


def test_a_method_keeps_its_colour_in_reports_of_other_method_sets(cells):
    """NumPyro NUTS and HMCECS drawn from all the fixture's methods, then from a report without BlackJAX
    and the hand-rolled HMC (which sort before them): the same colour and marker both times."""
    few = cells[~cells["method"].isin(["blackjax_nuts", "handrolled_hmc"])]
    for fn in (figures.ess_vs_n, figures.compile_vs_n):
        every, fewer = fn(cells, "sparse_logistic", "synthetic"), fn(few, "sparse_logistic", "synthetic")
        for method in ("numpyro_nuts", "numpyro_hmcecs"):
            assert same_color(_colour_of(every, method), _colour_of(fewer, method)), method
    assert not same_color(style("numpyro_nuts").colour, style("numpyro_hmcecs").colour)


@pytest.mark.parametrize("draw", [figures.ess_vs_n, figures.compile_vs_n, figures.per_grad_vs_n])
def test_flagged_cells_are_hollow_and_ranked_cells_filled(cells, draw):
    fig = draw(cells, "sparse_logistic", "synthetic")
    col = {figures.ess_vs_n: "ess_per_s", figures.compile_vs_n: "compile_s", figures.per_grad_vs_n: "us_per_grad"}[draw]
    g = cells[(cells["model"] == "sparse_logistic") & (cells["seeds_ok"] > 0)]
    if draw is figures.ess_vs_n:
        g = g[g["family"] == "mcmc"]
    g = g[np.isfinite(g[f"{col}_med"]) & (g[f"{col}_med"] > 0)]
    usable, flagged = _cell_points(g, "n", f"{col}_med")
    filled, hollow = _points(fig)
    assert flagged and usable  # the fixture has both: handrolled_hmc never converges, blackjax_nuts lost a seed
    assert (filled, hollow) == (usable, flagged)
    # a curve flagged at every size shows a hollow key in the legend
    key = next(line for label, line in _lines(fig).items() if label.startswith("handrolled_hmc"))
    assert key.get_markerfacecolor() == "none"


def test_accuracy_figure_draws_flagged_cells_hollow(cells):
    fig = figures.accuracy_vs_time(cells, "sparse_logistic", "synthetic", 10000)
    g = cells[(cells["model"] == "sparse_logistic") & (cells["n"] == 10000) & np.isfinite(cells["acc_z_mean"])]
    usable, flagged = _cell_points(g, "time_to_result_s_med", "acc_z_mean")
    assert (flagged, usable) != (set(), set())
    assert _points(fig) == (usable, flagged)
    assert figures.FLAGGED_POINT in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def _replayed(rows):
    """The fixture rows as if each had been timed three times, each row's spread wider than the last's
    (so the figure, sorted by width, keeps the rows' order), two cells run twice."""
    wider = 0.01 * np.arange(1, len(rows) + 1)
    return rows.assign(sample_replays=3, sample_s_min=(1 - wider) * rows["sample_s"],
                       sample_s_max=(1 + wider) * rows["sample_s"], attempts=[2, 2] + [1] * (len(rows) - 2))


def test_replay_spread_colours_each_row_by_its_method(rows):
    fig = figures.replay_spread(_replayed(rows))
    bars = fig.axes[0].collections
    ok = rows[rows["status"] == "ok"]
    assert [tuple(b.get_colors()[0]) for b in bars] == [to_rgba(style(m).colour) for m in ok["method"]]
    keys = {line.get_label(): line.get_color() for line in fig.axes[0].get_lines()
            if line.get_label() in set(ok["method"])}
    assert set(keys) == set(ok["method"]) and all(same_color(c, style(m).colour) for m, c in keys.items())


def test_legends_sit_outside_the_axes(cells, rows):
    for fig in (figures.ess_vs_n(cells, "sparse_logistic", "synthetic"),
                figures.accuracy_vs_time(cells, "sparse_logistic", "synthetic", 10000),
                figures.replay_spread(_replayed(rows))):
        fig.canvas.draw()
        ax = fig.axes[0]
        legend, axes = ax.get_legend().get_window_extent(), ax.get_window_extent()
        assert legend.x0 >= axes.x1  # wholly right of the axes
        assert legend.x1 <= fig.bbox.x1  # and inside the figure
