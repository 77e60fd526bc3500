"""A cell run in this process: the row it writes (scoring, run to a target)."""

from __future__ import annotations

import json

import pytest


def test_a_guides_draws_are_scored_on_the_references_transformed_parameters_too(monkeypatch):
    """A guide draws only the sampled sites (eight_schools: mu, tau, theta_trans); the reference also holds
    Stan's transformed parameter theta, which the cell computes through the model before scoring."""
    from harness import metrics
    from harness.cell import Cell, validate
    from harness.worker import run_cell

    seen = {}
    real = metrics.accuracy

    def spy(draws, ref_mean, ref_sd):
        seen.update(draws=set(draws), ref=set(ref_mean or {}))
        return real(draws, ref_mean, ref_sd)

    monkeypatch.setattr(metrics, "accuracy", spy)
    cell = validate(Cell("eight_schools-eight_schools_noncentered", "posteriordb", None, "svi_autonormal",
                         {"max_steps": 500, "window": 250}, num_chains=2, num_warmup=0, num_samples=100))
    row = run_cell(cell)
    assert row["status"] == "ok", row.get("error")
    assert "theta" in seen["ref"] and seen["ref"] <= seen["draws"]  # every reference site is scored
    assert row["z_mean_max"] >= 0


def test_a_cell_run_to_a_target_records_where_it_stopped():
    from harness.cell import Cell, validate
    from harness.worker import run_cell

    cell = validate(Cell("sparse_logistic", "breast_cancer", None, "handrolled_hmc_tuned", num_chains=4,
                         num_warmup=300, num_samples=50, target_ess=100, max_draws=800))
    row = run_cell(cell)
    assert row["status"] == "ok", row.get("error")
    assert row["target_ess"] == 100 and row["max_draws"] == 800 and isinstance(row["reached_target"], bool)
    from harness.methods.to_target import check_schedule

    assert row["draws_per_chain"] in [50 * k for k in check_schedule(16)]
    assert row["x_target_draws"] == row["draws_per_chain"]
    # the checks' seconds are a column, counted in the time to result
    assert row["diagnostic_s"] == row["x_diagnostic_s"] > 0
    assert row["time_to_result_s"] == pytest.approx(row["ttfd_s"] + row["sample_s"] + row["diagnostic_s"])
    assert row["grad_evals"] == 4 * row["draws_per_chain"] * row["x_num_steps"]  # the chunks' gradients, all of them
    if row["reached_target"]:
        assert row["max_rhat"] < 1.01 and row["min_ess_bulk"] >= 100 and row["min_ess_tail"] >= 100
    else:
        assert row["draws_per_chain"] == 800


def test_a_cell_is_resolved_once_and_its_loop_comes_from_the_result(monkeypatch):
    """One registry lookup of the method and one of the target per cell (the worker passes what it resolved
    down: the floor and host groups take its density); the replayed loop is the one the method returned."""
    from harness import methods, targets
    from harness.cell import Cell, validate
    from harness.worker import measure

    cell = validate(Cell("eight_schools_noncentered", "eight_schools", None, "handrolled_hmc", num_chains=2,
                         num_warmup=20, num_samples=20))
    looked_up = []
    for registry in (methods, targets):
        monkeypatch.setattr(registry, "get", lambda name, real=registry.get: looked_up.append(name) or real(name))
    row, loop = measure(cell)
    assert row["status"] == "ok", row.get("error")
    assert sorted(looked_up) == ["eight_schools_noncentered", "handrolled_hmc"]
    assert row["family"] == "mcmc" and row["floor_density"] == "target" == json.loads(row["floor_group"])["density"]
    assert loop is not None and loop.seconds == row["sample_s_first"]
