"""A cell run in this process: the row it writes (each column from its declared source, failures, scoring,
run to a target)."""

from __future__ import annotations

import json

import numpy as np
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


@pytest.mark.parametrize("model, dataset, method, floors", [
    ("eight_schools_noncentered", "eight_schools", "numpyro_hmc", [1]),
    ("eight_schools_noncentered", "eight_schools", "handrolled_hmc", [1, 1]),
    ("eight_schools-eight_schools_noncentered", "posteriordb", "handrolled_hmc", [1]),
])
def test_a_small_cells_floor_is_one_copy_and_its_host_reference_shares_it_where_both_are_the_models(
        monkeypatch, model, dataset, method, floors):
    """At small N a floor is one compiled copy (timing.floor_copies); where the floor is the model's
    potential (a NumPyro method's, or any method's on a target with no hand-written density) the host
    reference is timed on that same compiled program at the fixed points, so only a method with its
    own density (the hand-written eight schools) compiles a second floor program."""
    from harness import timing
    from harness.cell import Cell, validate
    from harness.worker import run_cell

    seen = []
    real = timing.floor_loop
    monkeypatch.setattr(timing, "floor_loop", lambda *a, **k: seen.append(k.get("copies")) or real(*a, **k))
    cell = validate(Cell(model, dataset, None, method, num_chains=2, num_warmup=20, num_samples=20))
    row = run_cell(cell, host_reference=True)
    assert row["status"] == "ok", row.get("error")
    assert seen == floors and row["ref_us_per_grad"] > 0 and row["floor_us_per_grad"] > 0
    assert len(row["ref_program"]) == 16


def _fake(behaviour: str = "ok"):
    """A cell of the runner's fake method on the toy Gaussian (tests/fake_cells.py, registered on import)."""
    import tests.fake_cells  # noqa: F401 - registers test_tiny and test_fake in this process
    from harness.cell import Cell, validate

    return validate(Cell("test_tiny", "analytic", None, "test_fake", {"behaviour": behaviour}, num_chains=2,
                         num_warmup=0, num_samples=50))


def _declared(*sources: str) -> set[str]:
    from harness import schema

    return {c.name for c in schema.COLUMN_LIST if c.source in sources}


#: The cell's process fills every source but the runner's.
WORKER = ("cell", "registry", "result", "run", "summary", "replay", "derived", "verdict", "process", "phases",
          "environment")


def test_a_cells_row_takes_every_column_from_the_source_its_schema_declares(monkeypatch, tmp_path):
    """Run in this process, an ok cell's row has every column of each source the cell's process fills (an
    MCMC run no ``no_ess_reason``, a roofline no error, an ok run no failed phase), nothing of the runner's,
    and each source's values: the RunResult's fields, the summary of its draws, the replays, the figures
    derived from them, the draws saved."""
    import dataclasses

    from harness import derived, methods, metrics, schema
    from harness.cell import method_columns
    from harness.worker import measure

    cell = _fake()
    fake = methods.get("test_fake")
    results = []

    def keep(*args):
        results.append(fake.run(*args))
        return results[-1]

    monkeypatch.setattr(methods, "get", lambda name: dataclasses.replace(fake, run=keep))
    row, loop = measure(cell, str(tmp_path / "draws.nc"))
    assert (row["status"], row["error"]) == ("ok", None)
    assert all(k in schema.BY_NAME or k.startswith("x_") for k in row)
    assert set(row) & set(schema.BY_NAME) == _declared(*WORKER) - {"no_ess_reason", "roofline_error", "failed_s"}

    (result,) = results
    from_result = schema.from_result(result)
    assert {k: row[k] for k in from_result} == from_result
    assert (row["grad_evals"], row["sample_s_first"], row["diagnostic_s"]) == (100, result.sample_s, None)
    assert row["x_dtype"] == "float32" and row["sample_s_first"] == loop.seconds
    assert {k: row[k] for k in method_columns(fake)} == method_columns(fake) and row["no_grad_reason"] is None
    summary = metrics.summarize(np.asarray(result.draws["x"]))
    assert {k: row[k] for k in summary} == pytest.approx(summary)
    assert (row["chains_run"], row["draws_per_chain"], row["reference"]) == (2, 50, None)
    assert row["floor_batch"] == 2 and row["floor_group"] == cell.floor_group(2, "target")
    assert row["sample_s_min"] <= row["sample_s"] <= row["sample_s_max"] and row["sample_replays"] >= 1
    figures = derived.figures(row)
    assert {k: row[k] for k in figures} == pytest.approx(figures, nan_ok=True)
    assert row["us_per_grad"] == pytest.approx(1e6 * row["sample_s"] / 100)
    assert row["compiles"] >= 1 and row["hlo_ops"] > 0 and row["wall_s"] > 0
    assert row["draws_path"] == str(tmp_path / "draws.nc") and (tmp_path / "draws.nc").exists()


def test_a_failed_cell_keeps_what_it_had_measured(tmp_path):
    """A method that raised: the configuration, the registry's method columns, the verdict, the process, the
    environment and the phases so far. A failure after every measurement (saving the draws): every column."""
    from harness import schema
    from harness.worker import run_cell

    row = run_cell(_fake("raise"))
    assert (row["status"], row["error"]) == ("error", "ValueError: fake failure")
    assert set(row) == (_declared("cell", "verdict", "environment") | {"family", "library", "subsamples", "wall_s",
                                                                     "peak_rss_mb", "startup_s", "data_s", "failed_s",
                                                                     "environment_s"})
    row = run_cell(_fake(), draws_path=str(tmp_path))  # a directory: the draws cannot be written there
    assert row["status"] == "error" and row["sample_s"] > 0 and row["ess_per_s"] > 0
    unsaved = {"no_ess_reason", "roofline_error", "draws_path", "draws_s"}
    assert set(row) & set(schema.BY_NAME) == _declared(*WORKER) - unsaved
