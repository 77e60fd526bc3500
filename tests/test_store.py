import json

import numpy as np

from harness import store


def test_append_never_rewrites_and_load_returns_dataframe(tmp_path):
    store.append(tmp_path, {"model": "m", "method": "a", "min_ess_bulk": 1.5, "max_rhat": float("nan")})
    first = store.rows_path(tmp_path).read_bytes()
    store.append(tmp_path, {"model": "m", "method": "b", "min_ess_bulk": np.float32(2.0), "extra_col": 3})
    assert store.rows_path(tmp_path).read_bytes().startswith(first)
    df = store.load(tmp_path)
    assert list(df["method"]) == ["a", "b"]
    assert set(store.COLUMNS) <= set(df.columns) and "extra_col" in df.columns
    assert np.isnan(df["max_rhat"][0])  # NaN stored as null, read back as missing, never 0


def test_load_skips_a_torn_last_line(tmp_path):
    store.append(tmp_path, {"model": "m", "method": "a"})
    with open(store.rows_path(tmp_path), "a") as f:
        f.write(json.dumps({"model": "m", "method": "b"})[:10])  # a writer killed mid-row
    assert list(store.load(tmp_path)["method"]) == ["a"]
