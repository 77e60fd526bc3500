"""The row schema is the one list: the Cell, the environment, the worker and the readers agree with it."""

from __future__ import annotations

import dataclasses

import pandas as pd

from harness import derived, environment, schema, store
from harness.cell import Cell
from harness.report import compare, frame


def test_the_cell_is_the_config_group():
    assert [f.name for f in dataclasses.fields(Cell)] == schema.CONFIG
    assert schema.REPEAT_KEY == [c for c in schema.CONFIG if c != "seed"]
    assert set(schema.SETUP) == set(schema.CONFIG) - {"method", "options", "seed"}


def test_environment_columns_are_declared_and_captured():
    env = environment.capture(with_device=False)
    assert set(env) == set(schema.names("environment"))


def test_readers_take_their_columns_from_the_schema():
    assert store.COLUMNS == schema.COLUMNS and frame.CONFIG == schema.REPEAT_KEY and frame.NUMERIC == schema.NUMERIC
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
           "init_s": None, "warmup_s": 3.0}
    one = derived.figures(row)
    assert one == {"ess_per_s": 200.0, "ess_tail_per_s": 150.0, "ess_per_grad": 0.1, "us_per_grad": 500.0, "ttfd_s": 4.0,
                   "time_to_result_s": 6.0}
    many = derived.figures(pd.DataFrame([row, {**row, "no_grad_reason": "proxy", "grad_evals_full_equiv": 8000}]))
    assert list(many["ess_per_s"]) == [200.0, 200.0]
    assert many["us_per_grad"][0] == 500.0 and pd.isna(many["us_per_grad"][1]) and pd.isna(many["ess_per_grad"][1])
    assert pd.isna(derived.figures({**row, "sample_s": 0.0})["ess_per_s"])
