"""Published figures beside ours: the covtype table normalises both to the bandwidth a step implies."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.report import published


def test_a_step_that_reads_x_twice_implies_its_bandwidth():
    # 2 x 581,012 x 55 x 4 bytes = 255.6 MB per step: 27.8 ms is 9.2 GB/s, 1.6 ms 160 GB/s (issue #15)
    assert published.x_gb_per_s(27.8) == pytest.approx(9.19, abs=0.01)
    assert published.x_gb_per_s(1.6) == pytest.approx(159.8, abs=0.1)


def test_our_covtype_rows_stand_beside_the_published_ones():
    row = {"model": "covtype_synthetic", "status": "ok", "method": "numpyro_hmc", "device": "cpu", "cpu": "Test CPU",
           "n": 581012, "num_chains": 1, "us_per_grad": 12_780.0, "bandwidth_gbs": 40.0,
           "roofline_us_per_grad": 6_390.0}
    (table, note) = published.covtype(pd.DataFrame([row, {**row, "model": "other"}]))
    ours, *theirs = table.rows
    assert len(theirs) == len(published.COVTYPE) == 4
    assert ours[:5] == ["this run", "numpyro_hmc", "cpu / Test CPU", "581,012", "12.8"]
    assert ours[5] == "20" and ours[6].startswith("50% of 40") and ours[7] == "2"  # 255.6 MB / 12.78 ms
    assert any(r[2] == "gpu / NVIDIA RTX 2070" and r[6].startswith("36%") for r in theirs)
    assert published.covtype(pd.DataFrame([{**row, "model": "other"}])) == []
    gpu = {**row, "device": "gpu", "device_kind": "NVIDIA H200", "cpu": "Host Xeon"}  # named by its accelerator
    assert published.covtype(pd.DataFrame([gpu]))[0].rows[0][2] == "gpu / NVIDIA H200"
