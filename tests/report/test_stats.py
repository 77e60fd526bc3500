import math

import numpy as np
import pytest

from harness.report import figures, frame, stats

from tests.report.conftest import raw_rows


def test_scaling_exponent_of_rows_with_known_slope_is_recovered():
    """Rows built with ESS/s = c N^p times seed noise: the fit over medians gets p back."""
    rng = np.random.default_rng(1)
    raw = raw_rows()
    base = raw[(raw["method"] == "numpyro_nuts") & (raw["device"] == "cpu") & (raw["model"] == "sparse_logistic")]
    rows = []
    sizes = [1000, 3000, 10000, 30000, 100000]
    for n in sizes:
        for seed in range(5):
            r = base.iloc[0].to_dict()
            r.update(n=n, seed=seed, ess_per_s=7e3 * n ** -0.73 * math.exp(rng.normal(0, 0.02)))
            rows.append(r)
    import pandas as pd

    cells = frame.aggregate(frame.normalise(pd.DataFrame(rows)))
    (label, c), = figures.curves(cells, "sparse_logistic", "synthetic", "ess_per_s").items()
    fit = stats.loglog_fit(c["n"], c["ess_per_s_med"])
    assert fit.slope == pytest.approx(-0.73, abs=0.02) and fit.points == len(sizes)


def test_fixture_slopes_are_the_ones_it_was_built_with(cells):
    cs = figures.curves(cells, "sparse_logistic", "synthetic", "ess_per_s")
    assert stats.loglog_fit(cs["numpyro_nuts (cpu)"]["n"], cs["numpyro_nuts (cpu)"]["ess_per_s_med"]).slope == pytest.approx(-1.0)
    assert stats.loglog_fit(cs["numpyro_nuts (gpu)"]["n"], cs["numpyro_nuts (gpu)"]["ess_per_s_med"]).slope == pytest.approx(-0.3)
    assert math.isnan(stats.loglog_fit([10, 10], [1, 2]).slope)


def test_crossover_interpolated_in_log_log():
    n = [1e3, 1e4, 1e5]
    gpu, cpu = [200 * x ** -0.3 for x in n], [2e5 / x for x in n]
    c = stats.crossover(n, gpu, n, cpu)
    assert c.state == "a_overtakes" and c.between == (1e4, 1e5)
    assert c.n == pytest.approx(1000 ** (1 / 0.7), rel=1e-9)  # exact for power laws
    assert stats.crossover(n, cpu, n, gpu).state == "b_overtakes"
    assert stats.crossover(n, [2 * y for y in cpu], n, cpu).state == "a_ahead"
    assert stats.crossover(n, cpu, n, [2 * y for y in cpu]).state == "b_ahead"
    assert stats.crossover([1e3], [1], [1e3], [2]).state == "too_few"
    # lower is better (times): a is faster where its time is smaller
    assert stats.crossover(n, [1, 1, 1], n, [0.5, 2, 4], higher_is_better=False).state == "a_overtakes"


def test_one_seed_a_side_gives_the_ratio_times_the_process_noise():
    r = stats.ratio_interval([10.0], [5.0])
    noise = 1 + stats.PROCESS_NOISE
    assert r.value == 2.0 and math.isclose(r.low, 2 / noise) and math.isclose(r.high, 2 * noise)
    assert r.text() == f"2x [{2 / noise:.3g}, {2 * noise:.3g}]" and r.decided()
    close = stats.ratio_interval([1.1], [1.0])  # inside the 17 % two processes differ by: not decided
    assert not close.decided() and close.text(noise_word=True).endswith(" within noise")
    assert math.isnan(stats.ratio_interval([10.0], [float("nan")]).value) and stats.ratio_interval([], [1]).text() == "-"


def test_several_seeds_a_side_bootstrap_the_ratio_of_medians_reproducibly():
    a, b = [2.0, 2.1, 1.9, 2.05, 1.95], [1.0, 1.02, 0.98, 1.01, 0.99]
    r = stats.ratio_interval(a, b)
    assert r.value == 2.0 and 1.8 < r.low < 2.0 < r.high < 2.2 and r.decided()
    assert stats.ratio_interval(a, b) == r  # a fixed seed: the same report twice
    noisy = stats.ratio_interval([1.0, 1.5, 0.7], [1.0, 1.05, 0.95])  # seeds that straddle 1
    assert noisy.low < 1 < noisy.high and not noisy.decided()
    # several seeds against one: the one-seed side still carries the process noise
    mixed = stats.ratio_interval(a, [1.0])
    assert mixed.low < r.low / (1 + stats.PROCESS_NOISE) * 1.01 and mixed.high > 2 * (1 + stats.PROCESS_NOISE) * 0.99
