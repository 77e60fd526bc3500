"""Divergences count: a cell with divergent transitions after warmup is flagged DIVERGENT n and never ranked."""

import pandas as pd

from harness.report import frame, tables

from tests.report.conftest import raw_rows

NUTS = dict(model="sparse_logistic", n=1000, device="cpu", method="numpyro_nuts")


def _cells(divergences_by_seed: dict):
    raw = raw_rows()
    nuts = pd.concat([raw[k].eq(v) for k, v in NUTS.items()], axis=1).all(axis=1)
    assert nuts.sum() == 3
    for seed, d in divergences_by_seed.items():
        raw.loc[nuts & raw["seed"].eq(seed), "divergences"] = d
    return frame.aggregate(frame.normalise(raw))


def _group(cells):
    return cells[(cells["model"] == "sparse_logistic") & (cells["n"] == 1000)]


def test_a_cell_with_divergences_is_flagged_with_its_worst_count_and_not_ranked():
    def rank(cells):
        order = tables.ranked(_group(cells))
        return order.loc[(order["method"] == "numpyro_nuts") & (order["device"] == "cpu"), "rank"].item()

    def missed(cells):  # the summary's last column: 'k of n' cells did not reach a trustworthy posterior
        return int(tables.summary(_group(cells)).rows[0][-1].split(" of ")[0])

    before = _cells({})
    assert rank(before) != "-"
    cells = _cells({0: 52, 1: 4})
    nuts = _group(cells).query("method == 'numpyro_nuts' and device == 'cpu'").iloc[0]
    assert nuts["flag"] == "DIVERGENT 52 (2/3 seeds)" and not nuts["usable"]
    assert rank(cells) == "-" and missed(cells) == missed(before) + 1
    lines = tables.flagged_lines(_group(cells))
    assert any(line.startswith("numpyro_nuts (cpu): DIVERGENT 52") and "52 divergent transitions after warmup" in line
               for line in lines)


def test_zero_divergences_is_no_flag():
    nuts = _group(_cells({0: 0, 1: 0, 2: 0})).query("method == 'numpyro_nuts' and device == 'cpu'").iloc[0]
    assert nuts["flag"] == ""
