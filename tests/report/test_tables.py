import pandas as pd

from harness.report import stats, tables


def test_flagged_cells_are_never_ranked_above_usable_ones(cells):
    for _, g in cells.groupby(["model", "dataset", "n"], dropna=False):
        order = tables.ranked(g)
        usable = order["usable"].tolist()
        # every usable cell comes before every flagged one, and only usable cells carry a rank
        # (but for MCMC cells flagged NO REFERENCE alone: 'no ref k', ranked apart among themselves)
        assert usable == sorted(usable, reverse=True)
        unchecked = order["rank"].str.startswith(tables.NO_REFERENCE_RANK)
        assert (order.loc[unchecked, "flag"] == "NO REFERENCE").all()
        assert (order.loc[~order["usable"] & ~unchecked, "rank"] == "-").all()
        assert (order.loc[order["usable"], "rank"] != "-").all()


def test_ranking_orders_mcmc_by_ess_per_s_even_when_a_flagged_method_is_faster(cells):
    g = cells[(cells["model"] == "sparse_logistic") & (cells["n"] == 1000)]
    order = tables.ranked(g)
    assert order["rank"].tolist()[:4] == ["1", "2", "3", "4"]
    assert order["method"].tolist()[:2] == ["blackjax_nuts", "numpyro_nuts"]
    hand = order[order["method"] == "handrolled_hmc"].iloc[0]
    assert hand["ess_per_s_med"] > order.iloc[0]["ess_per_s_med"] and hand["rank"] == "-"
    assert order[order["method"] == "svi_autonormal"]["rank"].item() == "vi 1"


def test_headline_table_ranks_and_lists_each_flagged_cell_on_one_line(cells):
    blocks = tables.headline(cells)
    i = next(i for i, b in enumerate(blocks) if getattr(b, "caption", "") == "sparse_logistic/synthetic, N = 100,000")
    t, flagged = blocks[i], blocks[i + 1]
    row = {r[1] + "@" + r[2]: dict(zip(t.columns, r)) for r in t.rows}
    assert all(r["rank"] != "-" for r in row.values())  # the table holds ranked cells only
    assert row["numpyro_nuts@cpu"]["ESS/s"] == "2 [1.9-2.1]" and row["numpyro_nuts@cpu"]["x floor"] == "1.7"
    assert "blackjax_nuts@cpu" not in row
    assert "not ranked: blackjax_nuts (cpu): ERROR (1/3 seeds)" in flagged.items
    # a guide's ESS is no measure of the inference: no ESS figure sits beside the MCMC ones
    assert row["svi_autonormal@cpu"]["ESS/s"] == row["svi_autonormal@cpu"]["ESS/grad"] == "n/a (VI)"


def test_a_flagged_line_names_the_number_that_failed(cells):
    lines = [line for b in tables.headline(cells) if hasattr(b, "items") for line in b.items]
    hand = [line for line in lines if line.startswith("not ranked: handrolled_hmc (cpu): NOT CONVERGED")]
    assert hand and all(": R-hat " in line for line in hand)
    r = cells[cells["method"].eq("handrolled_hmc")].iloc[0]
    assert tables.failed_figure(r) == f"R-hat {tables.fmt(r['max_rhat'], 3)}" and r["max_rhat"] >= 1.01


def test_speedup_tables_list_only_pairs_of_ranked_cells(cells):
    base = tables.vs_baseline(cells, "numpyro_nuts")
    r = [x for x in base.rows if x[1] == "1,000" and x[3] == "blackjax_nuts"][0]
    assert r[4].startswith("1.5x") and r[6].startswith("1.79x")  # time to result 11.5 s / 6.44 s
    vi = [x for x in base.rows if x[3] == "svi_autonormal"]
    assert vi and all(x[4] == x[5] == "n/a (VI)" for x in vi)
    # a flagged side has no speed to quote: no 10x speedup for the non-converged HMC, and no row at all
    assert not [x for x in base.rows if x[3] == "handrolled_hmc"]
    assert not [x for x in base.rows if x[1] == "100,000" and x[3] == "blackjax_nuts"]
    assert "pairs not comparable (a side not ranked: see its flag)" in base.caption
    gpu = tables.gpu_vs_cpu(cells)
    assert [x[3].split("x")[0] for x in gpu.rows] == ["0.126", "0.631", "3.16"]
    hand = tables.handrolled_vs_libraries(cells)
    assert hand.rows == [] and "10 pairs not comparable" in hand.caption
    env = dict(tables.environment(pd.DataFrame([{"jax": "0.10.2", "git_commit": "abc"}, {"jax": "0.9.0"}])).rows)
    assert env == {"jax": "0.10.2, 0.9.0", "git_commit": "abc"}


def test_summary_names_the_first_the_runner_up_and_whether_the_gap_is_noise(cells):
    t = tables.summary(cells)
    row = {(r[0], r[1]): dict(zip(t.columns, r)) for r in t.rows}
    assert list(row) == [("eight_schools_noncentered/posteriordb", "8"), ("sparse_logistic/synthetic", "1,000"),
                         ("sparse_logistic/synthetic", "10,000"), ("sparse_logistic/synthetic", "100,000")]
    # N = 1,000, worked out from the fixture's rows (tests/fixtures/run_small/rows.jsonl): time to result is
    # compile + init + warmup + sampling, the median seed of three is seed 1. Ranked cells:
    #   svi_autonormal cpu  3.00 + 0.05 + 0.01728 + 0.0288 = 3.09608 s
    #   blackjax_nuts  cpu  6.00 + 0.05 + 0.14616 + 0.2436 = 6.43976 s  -> 6.43976 / 3.09608 = 2.08x
    #   numpyro_nuts cpu 11.5 s, numpyro_nuts gpu 14.1 s, numpyro_hmcecs 15.1 s
    # Not there: handrolled_hmc (NOT CONVERGED, INACCURATE) and svi_autodelta (POINT ESTIMATE), of 7 cells.
    # Noise: svi's band reaches 3.93 s (compile +-25 %), blackjax's starts at 4.79 s: no overlap.
    one = row[("sparse_logistic/synthetic", "1,000")]
    assert one == {"target": "sparse_logistic/synthetic", "N": "1,000",
                   "first to a trustworthy posterior": "svi_autonormal (cpu)", "time to result s": "3.1",
                   "ESS/s": "n/a (VI)", "runner-up": "blackjax_nuts (cpu)",
                   "runner-up's time / first's": one["runner-up's time / first's"],
                   "not there": "2 of 7 (mostly NOT CONVERGED)"}
    # the ratio of medians, with its interval over the three seeds (stats.ratio_interval), decided: above 1
    ratio = one["runner-up's time / first's"]
    assert ratio.startswith("2.08x [") and "within noise" not in ratio
    low = float(ratio.split("[")[1].split(",")[0])
    assert 1.0 < low < 2.08
    # eight schools: numpyro_nuts is the only ranked cell (the hand-rolled HMC does not converge): no runner-up
    eight = row[("eight_schools_noncentered/posteriordb", "8")]
    assert (eight["first to a trustworthy posterior"], eight["runner-up"], eight["runner-up's time / first's"],
            eight["not there"]) == ("numpyro_nuts (cpu)", "-", "-", "1 of 2 (mostly NOT CONVERGED)")


def test_summary_within_noise_follows_the_interval_of_the_ratio():
    from harness.report import frame

    base = {"model": "m", "dataset": "d", "n": 10, "device": "cpu", "status": "ok", "family": "mcmc",
            "converged": True, "inaccurate": False, "reference": "ref", "max_rhat": 1.0, "min_ess_bulk": 500.0,
            "compile_s": 1.0, "init_s": 0.0, "warmup_s": 1.0, "sample_s": 1.0, "sample_s_min": 0.99,
            "sample_s_max": 1.01, "seed": 0, "num_chains": 4}
    rows = [{**base, "method": "a"}, {**base, "method": "b", "sample_s": 1.2, "sample_s_min": 1.19, "sample_s_max": 1.21},
            {**base, "method": "c", "sample_s": 9.0, "sample_s_min": 8.9, "sample_s_max": 9.1}]
    cells = frame.aggregate(frame.normalise(pd.DataFrame(rows)))
    (r,) = tables.summary(cells).rows
    # one seed a side: 3.2 s over 3.0 s, times [1/1.17, 1.17] (the process noise), holds 1
    assert r[2] == "a (cpu)" and r[5] == "b (cpu)" and r[6] == "1.07x [0.912, 1.25] within noise"
    cells = frame.aggregate(frame.normalise(pd.DataFrame([rows[0], rows[2]])))
    assert tables.summary(cells).rows[0][6] == "3.67x [3.13, 4.29]"  # 11 s over 3 s: beyond the noise
    # three seeds a side, each within 2 % of its median: a bootstrap interval, narrower than the one-seed rule
    seeded = [{**row, "seed": k, "sample_s": row["sample_s"] * f} for row in rows[:2]
              for k, f in enumerate((0.98, 1.0, 1.02))]
    three = tables.summary(frame.aggregate(frame.normalise(pd.DataFrame(seeded)))).rows[0][6]
    assert three.startswith("1.07x [") and not three.endswith("within noise")


def test_an_ensemble_shows_the_chains_it_ran_and_unequal_pairs_are_marked():
    from harness.report import frame
    from tests.report.conftest import raw_rows

    raw = raw_rows()
    raw = raw[raw["n"].eq(1000) & raw["device"].eq("cpu")].copy()
    raw.loc[raw["method"].eq("blackjax_nuts"), "chains_run"] = 16  # ran 16 chains for a cell of 4 (as ChEES does)
    cells = frame.aggregate(frame.normalise(raw))
    head = tables.headline(cells)[0]
    assert "blackjax_nuts (16 chains run)" in [r[1] for r in head.rows]  # ranked at N = 1000
    assert "numpyro_nuts" in [r[1] for r in head.rows]  # 4 of 4: the name alone
    base = tables.vs_baseline(cells, "numpyro_nuts")
    (bj,) = [r for r in base.rows if r[3].startswith("blackjax_nuts")]
    assert "unequal chains run: blackjax_nuts (16 chains run), numpyro_nuts" in bj[-1]
    assert all("unequal" not in r[-1] for r in base.rows if r is not bj)


def test_vs_next_marks_neighbours_whose_ess_per_s_ratio_interval_holds_one():
    from harness.report import frame

    base = {"model": "m", "dataset": "d", "n": 10, "device": "cpu", "status": "ok", "family": "mcmc",
            "converged": True, "inaccurate": False, "reference": "ref", "max_rhat": 1.0, "min_ess_bulk": 500.0,
            "compile_s": 1.0, "init_s": 0.0, "warmup_s": 1.0, "seed": 0, "num_chains": 4}
    rows = [{**base, "method": "a", "sample_s": 1.00, "sample_s_min": 0.98, "sample_s_max": 1.02, "ess_per_s": 500.0},
            {**base, "method": "b", "sample_s": 1.03, "sample_s_min": 1.01, "sample_s_max": 1.05, "ess_per_s": 485.4},
            {**base, "method": "c", "sample_s": 2.00, "sample_s_min": 1.98, "sample_s_max": 2.02, "ess_per_s": 250.0}]
    cells = frame.aggregate(frame.normalise(pd.DataFrame(rows)))
    (t,) = [b for b in tables.headline(cells) if hasattr(b, "rows")]
    got = {r[1]: r[t.columns.index("vs next")] for r in t.rows}
    # one seed a side: 500 / 485 = 1.03x, within the 17 % process noise; 485 / 250 = 1.94x beyond it
    assert got == {"a": "within noise 1.03x [0.88, 1.21]", "b": "ahead 1.94x [1.66, 2.27]", "c": ""}
