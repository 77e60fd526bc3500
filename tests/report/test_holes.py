"""Holes the report must not paper over: old rows' uncounted checks, VI's ESS, a reference that scores nothing."""

import numpy as np
import pandas as pd

from harness import metrics
from harness.report import frame, tables

from tests.report.conftest import raw_rows


def _cell(method="numpyro_nuts", n=1000):
    raw = raw_rows()
    return raw[(raw["method"] == method) & (raw["n"] == n) & (raw["device"] == "cpu")
               & (raw["model"] == "sparse_logistic") & (raw["status"] == "ok")].copy()


def test_an_older_rows_time_to_result_gets_its_checks_and_a_new_rows_stays():
    rows = _cell().iloc[:2]
    stored = (rows["compile_s"] + rows["init_s"] + rows["warmup_s"] + rows["sample_s"]).to_numpy(copy=True)
    stored[1] += 3.0  # the first row as an older writer stored it (checks left out), the second as the worker now does
    rows = rows.assign(x_diagnostic_s=[3.0, 3.0], diagnostic_s=[np.nan, 3.0], time_to_result_s=stored)
    df = frame.normalise(rows)
    assert np.allclose(df["time_to_result_s"], [stored[0] + 3.0, stored[1]])  # neither counted twice
    assert (df["ttr_hi_s"] > df["time_to_result_s"]).all() and (df["ttr_lo_s"] < df["time_to_result_s"]).all()


def test_a_vi_row_that_stored_ess_per_s_loses_it():
    rows = _cell("svi_autonormal")
    assert rows["ess_per_s"].notna().all()  # the fixture's older writer stored one
    df = frame.normalise(rows)
    assert df[["ess_per_s", "ess_tail_per_s", "ess_per_grad"]].isna().all().all()


def test_a_reference_sharing_no_coordinate_with_the_draws_is_no_reference():
    draws = {"x": np.zeros((2, 10, 3))}
    scored = metrics.accuracy(draws, {"other": np.zeros(3)}, {"other": np.ones(3)})
    assert scored["inaccurate"] is None and np.isnan(scored["z_mean_max"])
    rows = _cell().iloc[:1].drop(columns=["z_sd_max", "bias2_mean", "bias2_max"], errors="ignore")
    rows = rows.assign(**scored, reference="posteriordb: some other posterior")
    df = frame.normalise(rows)
    assert not df["has_reference"].item() and "NO REFERENCE" in df["flag"].item()
    checked = frame.normalise(_cell().iloc[:1].assign(reference="posteriordb"))
    assert checked["has_reference"].item() and checked["flag"].item() == ""


def test_pairs_with_different_draw_caps_are_compared_on_time_to_result_and_counted():
    raw = raw_rows()
    raw = raw[(raw["model"] == "sparse_logistic") & (raw["n"] == 1000) & (raw["device"] == "cpu")
              & raw["method"].isin(["numpyro_nuts", "blackjax_nuts"])].assign(target_ess=400.0, max_draws=1000)
    same = tables.vs_baseline(frame.aggregate(frame.normalise(raw)), "numpyro_nuts")
    assert len(same.rows) == 1 and same.rows[0][4] != "n/a (caps differ)" and "draw caps" not in same.caption
    raw.loc[raw["method"] == "blackjax_nuts", "max_draws"] = 2000
    differ = tables.vs_baseline(frame.aggregate(frame.normalise(raw)), "numpyro_nuts")
    assert len(differ.rows) == 1 and differ.rows[0][4] == differ.rows[0][5] == "n/a (caps differ)"
    assert differ.rows[0][6] == same.rows[0][6]  # the time to result is compared all the same
    assert "1 pair with different draw caps compared on time to result only" in differ.caption


def test_compare_reads_no_ess_figure_of_a_vi_row(tmp_path):
    from harness.report import compare
    from tests.report.test_compare import _write

    run = _write(tmp_path / "run", raw_rows())
    for metric in compare.ESS_BASED:
        cells = compare.read_run(run, metric)
        vi = [s for label, s in cells.items() if " svi_autonormal " in f" {label} "]
        assert vi and all(s.k == 0 for s in vi), metric
    assert all(s.k > 0 for label, s in compare.read_run(run, "time_to_result_s").items() if "svi_autonormal" in label)
