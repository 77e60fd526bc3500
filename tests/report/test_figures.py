import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.markers import MarkerStyle

from harness.report import figures

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


def _lines(fig):
    """The curves' and floors' lines by label (fit lines, labelled "_fit ...", and the fit's legend key left out)."""
    return {line.get_label(): line for line in fig.axes[0].get_lines()
            if not line.get_label().startswith("_") and line.get_label() != figures.FIT}


def _fits(fig):
    """Curve label -> its fit line."""
    return {line.get_label().removeprefix("_fit "): line for line in fig.axes[0].get_lines()
            if line.get_label().startswith("_fit ")}


def _marker_vertices(marker):
    m = MarkerStyle(marker)
    return m.get_path().transformed(m.get_transform()).vertices


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
    hollow = next(c for c in ax.collections if c.get_label().startswith("_flagged handrolled_hmc"))
    np.testing.assert_allclose(hollow.get_offsets()[:, 1], _medians("ess_per_s", "handrolled_hmc", "cpu")[1])
    assert len(hollow.get_facecolors()) == 0 or hollow.get_facecolors()[:, 3].max() == 0
    colour = figures.method_styles(cells)["handrolled_hmc"].colour
    np.testing.assert_allclose(hollow.get_edgecolors()[0][:3], colour)
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
    points = {c.get_label(): c.get_offsets() for c in fig.axes[0].collections}
    assert "svi_autonormal (cpu, VI)" in points and "numpyro_nuts (cpu, MCMC)" in points
    raw = raw_rows()
    r = raw[(raw["method"] == "svi_autonormal") & (raw["n"] == 10000)]
    ttr = (r["compile_s"] + r["init_s"] + r["warmup_s"] + r["sample_s"]).median()
    np.testing.assert_allclose(points["svi_autonormal (cpu, VI)"], [[ttr, r["z_mean_max"].max()]])
    assert len(points) == 7  # every method on that size with an accuracy figure, on both devices


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
    styles = figures.method_styles(cells)
    assert sorted(styles) == sorted(set(cells["method"]))
    figs = [figures.ess_vs_n(cells, "sparse_logistic", "synthetic"),
            figures.compile_vs_n(cells, "sparse_logistic", "synthetic"),
            figures.per_grad_vs_n(cells, "sparse_logistic", "synthetic")]
    seen = {}
    for fig in figs:
        for label, line in _lines(fig).items():
            if not label.startswith("gradient floor"):
                seen.setdefault(label.split(" (")[0], set()).add((line.get_color(), line.get_marker()))
    assert {"numpyro_nuts", "blackjax_nuts", "svi_autonormal"} <= set(seen)  # svi: compile and per-gradient only
    for method, looks in seen.items():
        assert looks == {(styles[method].colour, styles[method].marker)}, method
    acc = figures.accuracy_vs_time(cells, "sparse_logistic", "synthetic", 10000)
    for points in acc.axes[0].collections:
        method = points.get_label().split(" (")[0]
        np.testing.assert_allclose(points.get_facecolors()[0][:3], styles[method].colour)
        np.testing.assert_allclose(points.get_paths()[0].vertices, _marker_vertices(styles[method].marker))


def test_method_styles_are_distinct_and_independent_of_row_order(cells):
    styles = figures.method_styles(cells)
    assert len(set(styles.values())) == len(styles)
    assert figures.method_styles(cells.iloc[::-1]) == styles
    many = pd.DataFrame({"method": [f"m{i:03d}" for i in range(90)]})
    assert len(set(figures.method_styles(many).values())) == 90
