import numpy as np
import pandas as pd
import pytest

from harness import metrics, schema
from harness.cell import Cell, base_row
from harness.metrics import INACCURATE_Z
from harness.report import frame, tables

from tests.report.conftest import raw_rows


def _one(cells, method, n=1000, device="cpu"):
    c = cells[(cells["method"] == method) & (cells["n"] == n) & (cells["device"] == device)
              & (cells["model"] == "sparse_logistic")]
    assert len(c) == 1
    return c.iloc[0]


def test_flags_from_status_convergence_accuracy_and_point_estimates(cells):
    assert _one(cells, "numpyro_nuts")["flag"] == ""
    assert _one(cells, "handrolled_hmc")["flag"] == "NOT CONVERGED, INACCURATE"
    assert _one(cells, "svi_autodelta")["flag"] == "POINT ESTIMATE"
    assert _one(cells, "svi_autonormal")["flag"] == "" and _one(cells, "svi_autonormal")["family"] == "vi"
    err = _one(cells, "blackjax_nuts", n=100000)
    assert err["flag"] == "ERROR (1/3 seeds)" and (err["seeds"], err["seeds_ok"]) == (3, 2)


def test_aggregate_takes_median_and_range_over_ok_seeds_only(cells):
    raw = raw_rows()
    r = raw[(raw["method"] == "blackjax_nuts") & (raw["n"] == 100000) & (raw["status"] == "ok")]
    c = _one(cells, "blackjax_nuts", n=100000)
    assert np.isclose(c["ess_per_s_med"], r["ess_per_s"].median())
    assert np.isclose(c["ess_per_s_min"], r["ess_per_s"].min()) and np.isclose(c["ess_per_s_max"], r["ess_per_s"].max())
    # time to first usable draw = compile + init + warmup
    r0 = r.iloc[0]
    one = frame.normalise(pd.DataFrame([r0.to_dict()]))
    assert np.isclose(one["ttfd_s"].iloc[0], r0["compile_s"] + r0["init_s"] + r0["warmup_s"])


def test_accuracy_read_from_legacy_names_and_threshold_without_verdict():
    raw = raw_rows().drop(columns=["inaccurate", "z_sd_max", "bias2_mean"])
    raw = raw.rename(columns={"z_mean_max": "max_abs_mean_z"})
    df = frame.normalise(raw)
    hand = df[df["method"] == "handrolled_hmc"]
    assert hand["acc_z_mean"].eq(2.5).all() and hand["inaccurate"].all()  # 2.5 > metrics.INACCURATE_Z
    assert not df[df["method"] == "numpyro_nuts"]["inaccurate"].any()
    assert df["acc_z_sd"].isna().all()
    # the threshold is the producer's: a max |z| just above INACCURATE_Z (0.3) is inaccurate, not only above 0.5
    one = raw[raw["method"] == "numpyro_nuts"].iloc[:2].assign(max_abs_mean_z=[INACCURATE_Z * 1.1, INACCURATE_Z * 0.9])
    assert frame.normalise(one)["inaccurate"].tolist() == [True, False]


def test_producer_names_win_over_legacy_ones():
    raw = raw_rows().assign(max_abs_z_mean=0.0, max_abs_z_sd=0.0, bias2=0.0)
    df = frame.normalise(raw)
    hand = df[(df["method"] == "handrolled_hmc") & (df["status"] == "ok")]
    assert hand["acc_z_mean"].eq(2.5).all() and hand["acc_z_sd"].eq(1.5).all() and hand["acc_bias2"].eq(4.0).all()


def _produced_row(method: str, family: str, draws_shift: float, **fields) -> dict:
    """A row as harness.worker.run_cell builds it: base_row, the summary, metrics.accuracy, the run's fields."""
    cell = Cell(model="sparse_logistic", dataset="synthetic", n=1000, method=method, num_chains=2, num_samples=200)
    rng = np.random.default_rng(0)
    draws = {"beta": rng.normal(draws_shift, 1.0, size=(2, 200, 3))}
    row = base_row(cell)
    row.update(status="ok", error=None, family=family, compile_s=1.0, init_s=0.0, warmup_s=0.5, sample_s=2.0,
               grad_evals_warmup=1000, grad_evals=4000, grad_evals_full_equiv=4000, accept_rate=0.8,
               divergences=0, step_size=0.1, min_ess_bulk=500.0, min_ess_tail=450.0, max_rhat=1.001,
               converged=True, ess_per_s=250.0, ess_per_grad=0.125, floor_us_per_grad=100.0, floor_batch=2,
               overhead_ratio=5.0)
    row.update(metrics.accuracy(draws, {"beta": np.zeros(3)}, {"beta": np.ones(3)}), reference="test reference")
    row.update(fields)
    return row


def test_rows_of_the_producer_are_read_by_their_real_names():
    """Producer / consumer name drift fails here: rows built the way run_cell builds them."""
    # the names read here are declared, from sources the cell's process fills (tests/test_worker.py: a real
    # cell's row carries every column of each such source)
    for name in ("family", "converged", "grad_evals_full_equiv", "floor_batch", "reference", "no_ess_reason"):
        assert name in schema.BY_NAME and schema.BY_NAME[name].source != "runner", f"no worker column {name!r}"
    rows = [
        _produced_row("numpyro_nuts", "mcmc", 0.0),
        _produced_row("numpyro_nuts", "mcmc", 1.0, seed=1),  # means 1 reference sd off: inaccurate
        _produced_row("numpyro_hmcecs", "mcmc", 0.0, grad_evals_full_equiv=400),
        _produced_row("meanfield", "vi", 0.0, converged=False, x_opt_converged=False),  # family from the column
        _produced_row("fullrank", "vi", 0.0, reference=None, **metrics.accuracy({}, None, None)),
        _produced_row("delta", "vi", 0.0, min_ess_bulk=float("nan"), ess_per_s=float("nan"),
                      no_ess_reason="point estimate: draws repeat one point"),
    ]
    df = frame.normalise(pd.DataFrame(rows))
    acc = metrics.accuracy({"beta": np.random.default_rng(0).normal(0.0, 1.0, size=(2, 200, 3))},
                           {"beta": np.zeros(3)}, {"beta": np.ones(3)})
    assert df["acc_z_mean"].iloc[0] == pytest.approx(acc["z_mean_max"]) and np.isfinite(acc["z_mean_max"])
    assert df["acc_z_sd"].iloc[0] == pytest.approx(acc["z_sd_max"])
    assert df["acc_bias2"].iloc[0] == pytest.approx(acc["bias2_mean"])
    assert df["family"].tolist() == ["mcmc", "mcmc", "mcmc", "vi", "vi", "vi"]
    assert df["flag"].tolist() == ["", "INACCURATE", "", "NOT CONVERGED", "NO REFERENCE", "POINT ESTIMATE"]
    assert df["us_per_grad"].tolist()[:3] == [500.0, 500.0, 5000.0]  # HMCECS: per full-data-equivalent gradient
    order = tables.ranked(frame.aggregate(df))
    assert set(order.loc[order["method"].isin(["meanfield", "fullrank", "delta"]), "rank"]) == {"-"}


def test_mcmc_row_without_reference_is_flagged_and_not_ranked_among_checked_rows():
    """No reference, no accuracy check: an MCMC row is flagged NO REFERENCE exactly as a VI one, and is
    ranked (by ESS/s) only among the other unchecked cells, in a table of its own."""
    unchecked = dict(reference=None, **metrics.accuracy({}, None, None))
    rows = [
        _produced_row("numpyro_nuts", "mcmc", 0.0),
        _produced_row("blackjax_nuts", "mcmc", 0.0, ess_per_s=900.0, **unchecked),  # faster than the checked one
        _produced_row("nutpie", "mcmc", 0.0, ess_per_s=600.0, **unchecked),
        _produced_row("handrolled_hmc", "mcmc", 0.0, ess_per_s=2000.0, converged=False, **unchecked),
        _produced_row("fullrank", "vi", 0.0, **unchecked),
    ]
    df = frame.normalise(pd.DataFrame(rows))
    assert df["has_reference"].tolist() == [True, False, False, False, False]
    assert df["flag"].tolist() == ["", "NO REFERENCE", "NO REFERENCE", "NO REFERENCE, NOT CONVERGED", "NO REFERENCE"]
    assert df["usable"].tolist() == [True, False, False, False, False]
    order = tables.ranked(frame.aggregate(df)).set_index("method")["rank"].to_dict()
    assert order == {"numpyro_nuts": "1", "blackjax_nuts": "no ref 1", "nutpie": "no ref 2",
                     "handrolled_hmc": "-", "fullrank": "-"}
    main, apart, flagged = tables.headline(frame.aggregate(df))
    assert main.caption == "sparse_logistic/synthetic, N = 1,000"
    assert apart.caption == f"sparse_logistic/synthetic, N = 1,000: {tables.NO_REFERENCE_TITLE}"
    assert "accuracy unchecked" in apart.caption
    assert [r[:2] for r in main.rows] == [["1", "numpyro_nuts"]]  # the unranked are one line each below
    assert [line.split(":")[0] for line in flagged.items] == ["not ranked", "not ranked"]
    assert any("handrolled_hmc (" in line for line in flagged.items) and any("fullrank (" in line for line in flagged.items)
    assert [(r[0], r[1], r[-1]) for r in apart.rows] == [("no ref 1", "blackjax_nuts", "NO REFERENCE"),
                                                          ("no ref 2", "nutpie", "NO REFERENCE")]
    # a speed ratio against an unchecked cell is no speedup to quote: the pair is left out
    vs = {r[3]: r for r in tables.vs_baseline(frame.aggregate(df), "numpyro_nuts").rows}
    assert "blackjax_nuts" not in vs


def test_rows_without_optional_columns_still_load():
    raw = raw_rows()[["model", "dataset", "n", "method", "device", "seed", "status", "compile_s", "warmup_s",
                      "sample_s", "grad_evals", "min_ess_bulk", "max_rhat", "converged", "ess_per_s"]]
    cells = frame.aggregate(frame.normalise(raw))
    assert len(cells) == 23 and cells["acc_z_mean"].isna().all()
    assert set(cells.loc[cells["method"] == "svi_autonormal", "family"]) == {"vi"}  # from the name
