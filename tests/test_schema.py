"""The row schema is the one list: the Cell, the environment, the worker and the readers agree with it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from harness import derived, environment, schema, store
from harness.cell import Cell
from harness.report import compare, frame


def test_the_cell_is_the_config_group():
    assert [f.name for f in dataclasses.fields(Cell)] == schema.CONFIG


def _value(col: str, which: int):
    """A value of configuration column ``col``'s declared type, one of two distinct ones."""
    kind = schema.BY_NAME[col].type
    return {int: [1, 2], float: [1.0, 2.0], dict: ['{"a": 1}', '{"a": 2}']}.get(kind, ["a", "b"])[which]


def _config_row(**change) -> dict:
    row = {c: _value(c, 0) for c in schema.CONFIG}
    row.update(status="ok", sample_s=1.0, **change)
    return row


def test_rows_differing_in_the_seed_alone_are_repeats_of_one_cell_and_any_other_config_column_splits():
    """The report pools seeds over rows equal on every other configuration column."""
    one = frame.aggregate(frame.normalise(pd.DataFrame([_config_row(seed=0), _config_row(seed=1)])))
    assert len(one) == 1 and one["seeds"].iloc[0] == 2
    for col in schema.CONFIG:
        if col == "seed":
            continue
        two = frame.aggregate(frame.normalise(pd.DataFrame([_config_row(), _config_row(**{col: _value(col, 1)})])))
        assert len(two) == 2, f"rows differing in {col} were pooled as seeds of one cell"


def test_two_methods_are_compared_only_on_the_same_setup():
    """The speedup table pairs a method with the baseline when every setup column agrees; the methods'
    own options may differ, and the cap of a run to a target; anything else (target, N, device, chains,
    budget, ...) may not."""
    from harness.report import tables

    base = dict(family="mcmc", converged=True, inaccurate=False, reference="ref", max_rhat=1.0, min_ess_bulk=500.0,
                compile_s=1.0, init_s=0.0, warmup_s=1.0, grad_evals=1000)

    def pairs(**other):
        rows = [_config_row(method="base", **base), _config_row(**{**base, "method": "other", **other})]
        return len(tables.vs_baseline(frame.aggregate(frame.normalise(pd.DataFrame(rows))), "base").rows)

    assert pairs() == 1 and pairs(options=_value("options", 1)) == 1 and pairs(seed=_value("seed", 1)) == 1
    # runs to one target under different caps on draws are paired, on time to result only (tables.vs_baseline)
    assert pairs(max_draws=_value("max_draws", 1)) == 1
    for col in schema.CONFIG:
        if col not in ("method", "options", "seed", "max_draws"):
            assert pairs(**{col: _value(col, 1)}) == 0, f"cells differing in {col} were compared"


def test_environment_columns_are_declared_and_captured():
    env = environment.capture(with_device=False)
    assert set(env) == set(schema.names("environment"))


def test_the_store_puts_every_declared_column_first_in_schema_order(tmp_path):
    store.append(tmp_path, {"zz_extra": 1, "seed": 0, "model": "m", "status": "ok"})
    df = store.load(tmp_path)
    assert list(df.columns) == schema.COLUMNS + ["zz_extra"]


def test_the_reader_coerces_every_numeric_column():
    """A row whose numbers arrive as text (an older writer, a hand edit) is read as numbers, for every
    int and float column of the schema."""
    numeric = [c.name for c in schema.COLUMN_LIST if c.type in (int, float)]
    df = frame.normalise(pd.DataFrame([{**{c: "2" for c in numeric}, "status": "ok"}]))
    assert [c for c in numeric if not pd.api.types.is_numeric_dtype(df[c])] == []
    assert all(float(df[c].iloc[0]) == 2.0 for c in numeric if c not in derived.figures({}))


def test_readers_take_their_columns_from_the_schema():
    assert set(derived.figures({})) == set(schema.names("derived"))
    assert all(isinstance(c.type, type) for c in schema.COLUMN_LIST)


def test_every_configuration_column_reaches_the_compare_label(monkeypatch):
    rec = {c: None for c in schema.CONFIG}
    rec.update(model="m", dataset="d", n=10, method="x", device="cpu", num_chains=4, num_warmup=1, num_samples=2,
               data_seed=3, precision="float64", xla_devices=2, xla_flags="--f", target_ess=100.0, max_draws=8,
               options='{"a": 1}')
    label = compare._cell_label(rec)
    for word in ("m/d", "N=10", "x", "cpu", "4 chains", "float64", "1+2 iters", "data seed 3", "2 xla devices",
                 "--f", "to ESS 100 (cap 8)", '{"a": 1}'):
        assert word in label, word
    monkeypatch.setattr(frame, "CONFIG", frame.CONFIG + ["new_config"])
    rec["new_config"] = "z"  # a configuration column the label has no wording for still shows
    assert compare._cell_label(rec).endswith('new_config=z {"a": 1}')


def test_derived_figures_one_row_and_a_frame_agree():
    row = {"min_ess_bulk": 400.0, "min_ess_tail": 300.0, "sample_s": 2.0, "grad_evals": 4000, "compile_s": 1.0,
           "init_s": None, "warmup_s": 3.0, "grad_evals_warmup": 6000}
    one = derived.figures(row)
    assert one == {"ess_per_s": 200.0, "ess_tail_per_s": 150.0, "ess_per_grad": 0.1, "us_per_grad": 500.0, "ttfd_s": 4.0,
                   "time_to_result_s": 6.0, "grads_to_result": 10000.0}
    many = derived.figures(pd.DataFrame([row, {**row, "no_grad_reason": "proxy", "grad_evals_full_equiv": 8000}]))
    assert list(many["ess_per_s"]) == [200.0, 200.0]
    assert many["us_per_grad"][0] == 500.0 and pd.isna(many["us_per_grad"][1]) and pd.isna(many["ess_per_grad"][1])
    assert pd.isna(derived.figures({**row, "sample_s": 0.0})["ess_per_s"])


def _from(source: str) -> set[str]:
    """The columns the schema declares from ``source``."""
    return {c.name for c in schema.COLUMN_LIST if c.source == source}


def test_each_source_is_used_and_the_code_that_owns_it_fills_exactly_its_columns():
    from harness.cell import base_row, method_columns

    assert {c.source for c in schema.COLUMN_LIST} == set(schema.SOURCES)
    cell = Cell("m", "d", 10, "x")
    assert set(base_row(cell, registry=False)) == _from("cell")
    assert set(environment.capture(with_device=False)) == _from("environment")
    assert set(derived.figures({})) == _from("derived")
    facts = method_columns(type("Method", (), {"family": "mcmc", "library": "l", "subsamples": False}))
    assert set(facts) | {"no_grad_reason"} == _from("registry")


def test_a_row_is_assembled_only_from_the_sources_its_columns_declare():
    row = schema.assemble({"cell": {"seed": 3}, "result": {"compile_s": 1.5, "x_num_steps": 7},
                           "phases": {"data_s": 0.5}})
    assert row == {"seed": 3, "compile_s": 1.5, "x_num_steps": 7, "data_s": 0.5}
    with pytest.raises(ValueError, match="'compile_s' came from 'summary'; the schema declares it from 'result'"):
        schema.assemble({"summary": {"compile_s": 1.5}})
    with pytest.raises(ValueError, match="'x_roofline' came from 'result'"):  # a declared x_ column is not a record
        schema.assemble({"result": {"x_roofline": 2.0}})
    with pytest.raises(ValueError, match="'zz' came from 'run'; the schema declares it nowhere"):
        schema.assemble({"run": {"zz": 1}})
    with pytest.raises(ValueError, match="'x_a'"):  # a method's records come with its result only
        schema.assemble({"replay": {"x_a": 1}})


def _result(**fields):
    from harness.methods.base import RunResult

    base = dict(draws={}, grad_evals_warmup=11, grad_evals_sample=12, compile_s=1.5, warmup_s=2.5, sample_s=3.5,
                accept_rate=0.75, divergences=3, step_size=0.125)
    return RunResult(**{**base, **fields})


def test_the_result_columns_of_a_row_are_the_run_results_fields():
    """Each column from the RunResult carries its declared field, renamed where the column is (grad_evals <-
    grad_evals_sample, sample_s_first <- sample_s, diagnostic_s <- extra["diagnostic_s"]); the method's
    scalar extras and the typed fields a reader may want beside them become x_ records; per-draw arrays do not."""
    result = _result(init_s=0.5, grad_batch=2, parallel_devices=2, grad_evals_full_equiv_warmup=1.1,
                     grad_evals_full_equiv_sample=1.2, opt_converged=False, point_estimate=True, reached_target=True,
                     extra={"diagnostic_s": 0.25, "num_steps": 7, "accept_prob": np.ones((2, 3))})
    assert schema.from_result(result) == {
        "reached_target": True, "compile_s": 1.5, "init_s": 0.5, "warmup_s": 2.5, "sample_s_first": 3.5,
        "diagnostic_s": 0.25, "grad_evals_warmup": 11, "grad_evals": 12, "grad_evals_full_equiv": 1.2,
        "accept_rate": 0.75, "divergences": 3, "step_size": 0.125,
        "x_diagnostic_s": 0.25, "x_num_steps": 7, "x_grad_evals_full_equiv_sample": 1.2,
        "x_grad_evals_full_equiv_warmup": 1.1, "x_opt_converged": False, "x_point_estimate": True}
    plain = schema.from_result(_result())  # all the data's gradients, a fixed budget, no records
    assert plain["grad_evals_full_equiv"] == 12 and plain["diagnostic_s"] is None and plain["init_s"] == 0.0
    assert plain["reached_target"] is None and not [k for k in plain if k.startswith("x_")]
    assert set(plain) == _from("result")


def test_every_result_column_names_a_run_result_field_or_an_extra_a_run_writes():
    """A ``result`` column's field is one of RunResult's (or one of its properties); an ``extra.KEY`` is a key
    a run to a target writes (:func:`harness.methods.to_target.run_chunks`, whose record reaches
    ``RunResult.extra`` through the driver)."""
    from harness.methods.base import RunResult
    from harness.methods.to_target import ToTarget, run_chunks

    rng = np.random.default_rng(0)

    def chunk(carry, k):  # ten draws of two chains, untimed
        return (carry, rng.normal(size=(10, 2, 1))), 0.0

    *_, did = run_chunks(chunk, None, 10, ToTarget(1e9, 20), lambda out: out)
    for c in schema.COLUMN_LIST:
        if c.source != "result":
            continue
        field = c.field or c.name
        if field.startswith("extra."):
            assert field.removeprefix("extra.") in did, c.name
        else:
            assert field in RunResult._fields or isinstance(getattr(RunResult, field, None), property), c.name
