"""The report's "How to run chains" table: ways of one method compared by time to result, with intervals."""

import json

import pandas as pd

from harness.report import frame, tables
from tests.report.conftest import RUN_SMALL


def _two_ways(slow: float) -> pd.DataFrame:
    raw = pd.DataFrame([json.loads(line) for line in (RUN_SMALL / "rows.jsonl").read_text().splitlines()])
    vec = raw[(raw["method"] == "numpyro_nuts") & (raw["device"] == "cpu") & (raw["n"] == 1000)].copy()
    vec["x_lockstep_factor"] = 1.8
    seq = vec.copy()
    seq["options"] = json.dumps({"chain_method": "sequential"})
    seq["cell_key"] = seq["cell_key"] + "-sequential"
    for col in ("compile_s", "warmup_s", "sample_s"):
        seq[col] = seq[col] * slow
    seq["x_lockstep_factor"] = 1.0
    return pd.concat([vec, seq], ignore_index=True)


def _table(tmp_path, slow):
    (tmp_path / "rows.jsonl").write_text("\n".join(r.to_json() for _, r in _two_ways(slow).iterrows()) + "\n")
    df = frame.load(tmp_path)
    return tables.chain_ways(frame.aggregate(df), df)


def test_the_slower_way_is_named_with_its_ratio_and_the_lockstep_factor(tmp_path):
    table, said = _table(tmp_path, slow=3.0)
    rows = {r[5]: dict(zip(table.columns, r)) for r in table.rows}
    assert set(rows) == {"vectorized", "sequential"}
    assert rows["vectorized"]["time / fastest way's"] == "fastest"
    assert rows["sequential"]["time / fastest way's"].startswith("2.") and "within noise" not in rows["sequential"]["time / fastest way's"]
    assert rows["vectorized"]["lockstep"] == "1.8" and rows["sequential"]["lockstep"] == "1"
    assert len(said) == 1 and "vectorized first" in said[0] and "ahead of sequential" in said[0]


def test_ways_within_noise_are_called_so(tmp_path):
    _, said = _table(tmp_path, slow=1.02)
    assert len(said) == 1 and "within noise of" in said[0]


def test_a_run_with_one_way_per_cell_has_no_table(rows, cells):
    table, said = tables.chain_ways(cells, rows)
    assert not table.rows and not said


def test_ways_that_did_not_converge_are_still_compared_on_the_same_budget(tmp_path):
    rows = _two_ways(3.0).assign(converged=False)
    (tmp_path / "rows.jsonl").write_text("\n".join(r.to_json() for _, r in rows.iterrows()) + "\n")
    df = frame.load(tmp_path)
    table, said = tables.chain_ways(frame.aggregate(df), df)
    assert all("NOT CONVERGED" in r[-1] for r in table.rows)
    assert len(said) == 1 and "vectorized first" in said[0] and "no way usable at this budget" in said[0]
