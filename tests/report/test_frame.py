import numpy as np
import pandas as pd

from harness.report import frame

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


def test_accuracy_read_from_alternative_names_and_threshold_without_verdict():
    raw = raw_rows().drop(columns=["inaccurate", "max_abs_z_sd", "bias2"])
    raw = raw.rename(columns={"max_abs_z_mean": "max_abs_mean_z"})
    df = frame.normalise(raw)
    hand = df[df["method"] == "handrolled_hmc"]
    assert hand["acc_z_mean"].eq(2.5).all() and hand["inaccurate"].all()  # 2.5 > Z_MEAN_MAX
    assert not df[df["method"] == "numpyro_nuts"]["inaccurate"].any()
    assert df["acc_z_sd"].isna().all()


def test_rows_without_optional_columns_still_load():
    raw = raw_rows()[["model", "dataset", "n", "method", "device", "seed", "status", "compile_s", "warmup_s",
                      "sample_s", "grad_evals", "min_ess_bulk", "max_rhat", "converged", "ess_per_s"]]
    cells = frame.aggregate(frame.normalise(raw))
    assert len(cells) == 23 and cells["acc_z_mean"].isna().all()
    assert set(cells.loc[cells["method"] == "svi_autonormal", "family"]) == {"vi"}  # from the name
