import pandas as pd

from harness.report import tables


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


def test_headline_table_marks_failures_and_shows_spread(cells):
    t = {tb.caption: tb for tb in tables.headline(cells)}["sparse_logistic/synthetic, N = 100,000"]
    row = {r[1] + "@" + r[2]: dict(zip(t.columns, r)) for r in t.rows}
    assert row["blackjax_nuts@cpu"]["flag"] == "ERROR (1/3 seeds)" and row["blackjax_nuts@cpu"]["rank"] == "-"
    assert row["numpyro_nuts@cpu"]["ESS/s"] == "2 [1.9-2.1]" and row["numpyro_nuts@cpu"]["x floor"] == "1.7"
    assert t.rows[-1][1] in ("svi_autodelta", "blackjax_nuts", "handrolled_hmc")
    # a guide's ESS is no measure of the inference: no ESS figure sits beside the MCMC ones
    assert row["svi_autonormal@cpu"]["ESS/s"] == row["svi_autonormal@cpu"]["ESS/grad"] == "n/a (VI)"


def test_speedup_tables(cells):
    base = tables.vs_baseline(cells, "numpyro_nuts")
    r = [x for x in base.rows if x[1] == "1,000" and x[3] == "blackjax_nuts"][0]
    assert r[4].startswith("1.5x") and r[6].startswith("1.79x")  # time to result 11.5 s / 6.44 s
    vi = [x for x in base.rows if x[3] == "svi_autonormal"]
    assert len(vi) == 3 and all(x[4] == x[5] == "n/a (VI)" for x in vi)
    # a flagged side gets no ratio, only its flag: not a 10x speedup for the non-converged HMC
    hand = [x for x in base.rows if x[3] == "handrolled_hmc"]
    assert len(hand) == 4 and all(x[4] == x[5] == x[6] == "-" and "NOT CONVERGED, INACCURATE" in x[7] for x in hand)
    err = [x for x in base.rows if x[1] == "100,000" and x[3] == "blackjax_nuts"][0]
    assert err[4] == err[6] == "-" and "ERROR (1/3 seeds)" in err[7]
    gpu = tables.gpu_vs_cpu(cells)
    assert [x[3].split("x")[0] for x in gpu.rows] == ["0.126", "0.631", "3.16"]
    hand = tables.handrolled_vs_libraries(cells)
    assert all("NOT CONVERGED" in x[-1] and x[5] == x[6] == "-" for x in hand.rows) and len(hand.rows) == 10
    env = dict(tables.environment(pd.DataFrame([{"jax": "0.10.2", "git_commit": "abc"}, {"jax": "0.9.0"}])).rows)
    assert env == {"jax": "0.10.2, 0.9.0", "git_commit": "abc"}


def test_an_ensemble_shows_the_chains_it_ran_and_unequal_pairs_are_marked():
    from harness.report import frame
    from tests.report.conftest import raw_rows

    raw = raw_rows()
    raw = raw[raw["n"].eq(1000) & raw["device"].eq("cpu")].copy()
    raw.loc[raw["method"].eq("blackjax_nuts"), "chains_run"] = 16  # ran 16 chains for a cell of 4 (as ChEES does)
    cells = frame.aggregate(frame.normalise(raw))
    head = tables.headline(cells)[0]
    assert "blackjax_nuts (16 chains run)" in [r[1] for r in head.rows]
    assert "numpyro_nuts" in [r[1] for r in head.rows]  # 4 of 4: the name alone
    base = tables.vs_baseline(cells, "numpyro_nuts")
    (bj,) = [r for r in base.rows if r[3].startswith("blackjax_nuts")]
    assert "unequal chains run: blackjax_nuts (16 chains run), numpyro_nuts" in bj[-1]
    assert all("unequal" not in r[-1] for r in base.rows if r is not bj)
