"""Derived figures (harness.derived): no ESS figure for VI, convergence checks counted in time to result."""

import numpy as np
import pandas as pd

from harness import derived

ROW = dict(min_ess_bulk=800.0, min_ess_tail=600.0, sample_s=2.0, grad_evals=1000, compile_s=1.0, init_s=0.5,
           warmup_s=3.0)


def test_mcmc_row_has_its_ess_figures_and_vi_row_has_none():
    mcmc = derived.figures({**ROW, "family": "mcmc"})
    assert mcmc["ess_per_s"] == 400.0 and mcmc["ess_tail_per_s"] == 300.0 and mcmc["ess_per_grad"] == 0.8
    vi = derived.figures({**ROW, "family": "vi"})
    assert all(np.isnan(vi[c]) for c in derived.ESS_BASED)
    assert vi["us_per_grad"] == mcmc["us_per_grad"] == 2000.0 and vi["time_to_result_s"] == 6.5
    frame = pd.DataFrame([{**ROW, "family": "mcmc"}, {**ROW, "family": "vi"}])
    assert np.isnan(derived.figures(frame)["ess_per_s"]).tolist() == [False, True]


def test_time_to_result_counts_the_checks_from_the_column_or_an_older_rows_extra():
    assert derived.figures(ROW)["time_to_result_s"] == 6.5  # a fixed budget: no checks
    assert derived.figures({**ROW, "diagnostic_s": 1.25})["time_to_result_s"] == 7.75
    assert derived.figures({**ROW, "x_diagnostic_s": 1.25})["time_to_result_s"] == 7.75  # written before the column
    assert derived.figures({**ROW, "diagnostic_s": 0.5, "x_diagnostic_s": 1.25})["time_to_result_s"] == 7.0
    rows = pd.DataFrame([ROW, {**ROW, "x_diagnostic_s": 2.0}])
    assert derived.figures(rows)["time_to_result_s"].tolist() == [6.5, 8.5]
    assert derived.figures(ROW)["ttfd_s"] == 4.5  # the first draw comes before any check


def test_grads_to_result_counts_warmup_and_sampling_and_reaches_every_reader():
    from harness import schema
    from harness.report import compare

    row = {"grad_evals_warmup": 4000, "grad_evals": 2500, "sample_s": 1.0, "compile_s": 1.0, "warmup_s": 1.0}
    assert derived.figures(row)["grads_to_result"] == 6500.0
    assert np.isnan(derived.figures({**row, "no_grad_reason": "proxy work uncounted"})["grads_to_result"])
    # declared once in the schema: compare judges it (lower is better), the console shows it, asv tracks it as is
    assert compare.METRICS["grads_to_result"] is False
    assert "grads" in [c.label for c in schema.CONSOLE]
    assert dict(schema.TRACKED)["grads_to_result"].per is None
