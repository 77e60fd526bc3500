"""The console table of ``harness run`` (harness.table) follows the report's rules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from harness.table import format_table

from tests.report.conftest import raw_rows


def _fixture(**where) -> pd.DataFrame:
    raw = raw_rows()
    for k, v in where.items():
        raw = raw[raw[k] == v]
    return raw


def test_flags_are_the_reports_and_flagged_rows_show_them():
    text = format_table(_fixture(model="sparse_logistic", n=100000))
    lines = {(ln.split()[3], ln.split()[7]): ln for ln in text.split("\n\n")[0].splitlines()[1:]
             if ln.split()[4] == "cpu"}
    assert lines[("handrolled_hmc", "ok")].endswith("NOT CONVERGED, INACCURATE")
    assert lines[("svi_autodelta", "ok")].endswith("POINT ESTIMATE")
    assert lines[("blackjax_nuts", "error")].endswith("ERROR")
    assert not lines[("numpyro_nuts", "ok")].rstrip().endswith(("ESTIMATE", "CONVERGED", "INACCURATE", "REFERENCE"))


def test_mcmc_row_without_reference_is_flagged_no_reference():
    raw = _fixture(model="sparse_logistic", n=1000, method="numpyro_nuts", device="cpu", seed=0)
    raw = raw.assign(reference=None, inaccurate=None, z_mean_max=np.nan, z_sd_max=np.nan, bias2_mean=np.nan)
    line = format_table(raw).splitlines()[1]
    assert line.rstrip().endswith("NO REFERENCE")


def test_vi_rows_and_point_estimates_show_no_ess_figures():
    raw = _fixture(model="sparse_logistic", n=1000, device="cpu", seed=0)
    assert raw.loc[raw["method"] == "svi_autonormal", "ess_per_s"].notna().all()  # the row carries one...
    text = format_table(raw)
    header = text.splitlines()[0].split()
    assert header[:8] == ["model", "data", "N", "method", "device", "chains", "seed", "status"]
    assert {"ESS/s", "ESS/grad", "flag"} <= set(header) and "ESS bulk" in text.splitlines()[0]
    body = {ln.split()[3]: ln.split() for ln in text.split("\n\n")[0].splitlines()[1:]}
    for method in ("svi_autonormal", "svi_autodelta"):  # ...but a guide's iid draws have no ESS to show
        assert body[method][8:10] == ["n/a", "n/a"], body[method]
        assert body[method].count("n/a") == 3  # ESS/s, ESS/grad, bulk ESS
    nuts = body["numpyro_nuts"]
    assert "n/a" not in nuts and float(nuts[8]) > 0 and float(nuts[9]) > 0


def test_closing_line_names_the_rows_and_the_report_command(tmp_path):
    run_dir = tmp_path / "my run"
    text = format_table(_fixture(model="sparse_logistic", n=1000, seed=0), run_dir)
    last = text.splitlines()[-1]
    assert str(run_dir / "rows.jsonl") in last
    assert last.endswith(f"harness report '{run_dir}'")
    assert text.splitlines()[-2] == ""  # set apart from the table
    assert format_table(raw_rows().iloc[:0], run_dir).splitlines()[-1] == last
    assert format_table(_fixture(seed=0)).splitlines()[-1].endswith("harness report RUN_DIR")


def test_importing_the_table_loads_no_plotting():
    code = "import sys, harness.table; sys.exit(('matplotlib' in sys.modules) + 2 * ('arviz' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
