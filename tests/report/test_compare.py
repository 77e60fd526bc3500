import json
import re

import pandas as pd
import pytest

from harness import UsageError, cli
from harness.report import compare

from tests.report.conftest import raw_rows

SLOW = ("sparse_logistic", 10000, "numpyro_nuts", "cpu")


def _write(path, df):
    """Rows to a run directory. Their ``cell_key`` is dropped: the tests edit configuration columns, and a
    stale key would make the store read two edited cells as one cell's re-run (``store.latest``)."""
    path.mkdir(parents=True)
    (path / "rows.jsonl").write_text("".join(json.dumps({k: (None if v != v else v) for k, v in r.items()
                                                         if k != "cell_key"}) + "\n"
                                             for r in df.to_dict("records")))
    return path


def _planted(tmp_path, seeds=(0, 1, 2)):
    """BASE = fixture rows; NEW = every sampling loop 3 % slower (ESS/s x0.97, a wobble) and one cell 2x slower."""
    raw = raw_rows()
    raw = raw[raw["seed"].isin(seeds)]
    new = raw.copy()
    new["sample_s"], new["ess_per_s"] = new["sample_s"] / 0.97, new["ess_per_s"] * 0.97
    slow = (new["model"] == SLOW[0]) & (new["n"] == SLOW[1]) & (new["method"] == SLOW[2]) & (new["device"] == SLOW[3])
    new.loc[slow, "sample_s"], new.loc[slow, "ess_per_s"] = raw.loc[slow, "sample_s"] * 2, raw.loc[slow, "ess_per_s"] * 0.5
    return _write(tmp_path / "base", raw), _write(tmp_path / "new", new)


@pytest.mark.parametrize("seeds", [(0, 1, 2), (1,)], ids=["three seeds: seed spread", "one seed: 10% default"])
def test_flags_a_planted_2x_slowdown_and_not_a_3pct_wobble(tmp_path, seeds):
    base, new = _planted(tmp_path, seeds)
    t = compare.compare(base, new)
    slow = t[t["cell"].str.contains("N=10,000 numpyro_nuts cpu")]
    assert slow["verdict"].tolist() == ["slower"] and slow["ratio"].item() == pytest.approx(0.5)
    rest = t[~t.index.isin(slow.index) & t["base"].notna()]
    assert len(rest) == 12 and set(rest["verdict"]) == {"same"}
    # the failed seed is ignored; the point estimate has no ESS/s on either side, a VI guide none at all
    # (its draws are independent: ESS counts them), and the not-converged hand-rolled HMC no usable one:
    # none of them is compared
    nodata = t[t["base"].isna()]
    assert set(nodata["verdict"]) == {"no data"}
    assert sorted(c.split(" ")[2] for c in nodata["cell"]) == (["handrolled_hmc"] * 4 + ["svi_autodelta"] * 3
                                                               + ["svi_autonormal"] * 3)
    assert len(compare.regressions(t, 50)) == 1 and len(compare.regressions(t, 150)) == 0


def test_same_run_is_same_everywhere_and_a_faster_cell_is_faster(tmp_path):
    raw = raw_rows()
    fast = raw.copy()
    fast.loc[fast["method"] == "blackjax_nuts", "sample_s"] *= 0.5
    base, new = _write(tmp_path / "b", raw), _write(tmp_path / "n", fast)
    t = compare.compare(base, base, metric="sample_s")
    # a timing figure is compared on every ok row: the never-converging hand-rolled HMC and the point
    # estimate included (a per-gradient slowdown of an unconverged sampler is still a slowdown)
    assert set(t["verdict"]) == {"same"} and t["ratio"].eq(1).all()
    assert t["cell"].str.contains("handrolled_hmc").sum() == 4 and t["cell"].str.contains("svi_autodelta").any()
    t = compare.compare(base, new, metric="sample_s")
    assert set(t.loc[t["cell"].str.contains("blackjax_nuts"), "verdict"]) == {"faster"}


def test_new_side_failing_or_flagged_is_broken(tmp_path):
    """A cell usable in BASE is broken in NEW when it fails, or when it runs but is flagged: a faster
    ESS/s from a run that no longer converges, or no longer hits the reference, is no speedup."""
    raw = raw_rows()
    new = raw.copy()
    new.loc[new["method"] == "svi_autonormal", "status"] = "timeout"
    blackjax = new["method"] == "blackjax_nuts"
    new.loc[blackjax, "ess_per_s"] *= 3
    new.loc[blackjax & new["n"].eq(1000), "converged"] = False
    new.loc[blackjax & new["n"].eq(10000), "inaccurate"] = True
    b, n = _write(tmp_path / "b", raw), _write(tmp_path / "n", new)
    t = compare.compare(b, n).set_index("cell")
    assert set(t.loc[t.index.str.contains("svi_autonormal"), "verdict"]) == {"no data"}  # VI: no ESS/s either side
    assert t.loc[t.index.str.contains("N=1,000 blackjax_nuts"), "verdict"].item() == "broken"
    assert t.loc[t.index.str.contains("N=10,000 blackjax_nuts"), "verdict"].item() == "broken"
    assert t.loc[t.index.str.contains("N=100,000 blackjax_nuts"), "verdict"].item() == "faster"
    assert len(compare.regressions(t.reset_index(), 1000)) == 2
    by_time = compare.compare(b, n, metric="time_to_result_s").set_index("cell")
    assert set(by_time.loc[by_time.index.str.contains("svi_autonormal"), "verdict"]) == {"broken"}


def test_cells_differing_only_in_xla_setup_are_not_pooled(tmp_path):
    raw = raw_rows()
    raw = raw[(raw["method"] == "numpyro_nuts") & (raw["n"] == 1000) & (raw["device"] == "cpu")]
    two = raw.assign(xla_devices=4, ess_per_s=raw["ess_per_s"] * 2)
    both = _write(tmp_path / "b", pd.concat([raw, two]))
    cells = compare.read_run(both, "ess_per_s")
    assert len(cells) == 2 and sorted(s.med for s in cells.values()) == [200.0, 400.0]


@pytest.mark.parametrize("column, value", [("num_warmup", 100), ("num_samples", 2000), ("data_seed", 7)])
def test_cells_differing_only_in_run_length_or_data_seed_are_distinct(tmp_path, column, value):
    raw = raw_rows()
    raw = raw[(raw["method"] == "numpyro_nuts") & (raw["n"] == 1000) & (raw["device"] == "cpu")]
    other = raw.assign(**{column: value}, ess_per_s=raw["ess_per_s"] * 2)
    cells = compare.read_run(_write(tmp_path / "b", pd.concat([raw, other])), "ess_per_s")
    assert len(cells) == 2 and sorted(s.med for s in cells.values()) == [200.0, 400.0]
    label = next(k for k, s in cells.items() if s.med == 400.0)
    assert (f"+{value} iters" if column == "num_samples" else
            f"{value}+" if column == "num_warmup" else f"data seed {value}") in label


def test_cli_writes_table_and_fails_on_regression(tmp_path, capsys):
    base, new = _planted(tmp_path)
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(base), str(new), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| slower |" in printed and (out / "compare.md").is_file() and (out / "compare.csv").is_file()
    assert "slower" in (out / "compare.csv").read_text()
    assert cli.main(["compare", str(base), str(new), "--out", str(out), "--fail-on-regression", "20"]) == 1
    assert "1 cell(s) regressed" in capsys.readouterr().err
    assert cli.main(["compare", str(base), str(new), "--out", str(out), "--fail-on-regression", "200"]) == 0
    assert cli.main(["compare", str(base), str(new), "--metric", "nope"]) == 2
    assert "unknown metric 'nope'" in capsys.readouterr().err


def test_the_review_shows_changed_cells_then_counts_the_rest(tmp_path, capsys):
    base, new = _planted(tmp_path)
    t = compare.compare(base, new)
    same = int((t["verdict"] == "same").sum())
    text = compare.review(t)
    table_rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| cell")]
    assert [r.split(" | ")[-1].strip(" |") for r in table_rows] == ["slower"]  # only what changed
    assert f"{same} cell(s) unchanged within noise" in text
    assert cli.main(["compare", str(base), str(new), "--out", str(tmp_path / "c"), "--format", "github"]) == 0
    gh = capsys.readouterr().out
    assert gh.startswith("### harness compare: ess_per_s") and "<details><summary>every cell" in gh
    assert gh.count("| same |") == same and "</details>" in gh
    quiet = compare.review(t[t["verdict"] == "same"]).splitlines()
    assert quiet[0].startswith("BASE (") and quiet[1].startswith("NEW (") and quiet[2].startswith("host: ")
    assert quiet[4] == "No cell changed beyond noise."


def _bench(path, medians):
    path.write_text(json.dumps({"benchmarks": [
        {"fullname": name, "stats": {"median": m, "q1": m * 0.98, "q3": m * 1.02, "rounds": 10}}
        for name, m in medians.items()]}))
    return path


def test_pytest_benchmark_json(tmp_path):
    base = _bench(tmp_path / "a.json", {"t::step[hmc]": 1e-3, "t::step[nuts]": 2e-3, "t::ess": 5e-3})
    new = _bench(tmp_path / "b.json", {"t::step[hmc]": 2e-3, "t::step[nuts]": 2.06e-3, "t::svi": 1.0})
    t = compare.compare(base, new).set_index("cell")
    assert t.loc["t::step[hmc]", "verdict"] == "slower" and t.loc["t::step[nuts]", "verdict"] == "same"
    assert t.loc["t::ess", "verdict"] == "only base" and t.loc["t::svi", "verdict"] == "only new"
    with pytest.raises(UsageError, match="cannot compare"):
        compare.compare(base, _write(tmp_path / "r", raw_rows()))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(UsageError, match="not a pytest-benchmark JSON"):
        compare.compare(tmp_path / "bad.json", new)


def _one_seed(tmp_path, name, scale, spread):
    """Fixture rows of seed 0, sampling seconds x ``scale``, replays within +-``spread`` (None: no replays)."""
    raw = raw_rows()
    raw = raw[raw["seed"].eq(0)].copy()
    raw["sample_s"] *= scale
    raw["ess_per_s"] /= scale
    if spread is not None:
        raw["sample_s_min"], raw["sample_s_max"] = raw["sample_s"] * (1 - spread), raw["sample_s"] * (1 + spread)
        raw["sample_replays"] = 7
    return _write(tmp_path / name, raw)


def test_noise_band_is_the_measured_replay_spread(tmp_path):
    """One seed a side: the band is the replays' spread, not a fixed 10 %, and never below the
    between-process noise (stats.PROCESS_NOISE, 17 %). Replays within +-2 % call a 1.25x change slower
    but not a 1.15x one (two processes of one commit differ that much), and replays within +-10 %
    widen the band past it (23.5 %), keeping a 1.22x change 'same'."""
    base = _one_seed(tmp_path, "b", 1.0, 0.02)
    t = compare.compare(base, _one_seed(tmp_path, "n", 1.25, 0.02), metric="sample_s")
    assert set(t["verdict"]) == {"slower"} and t["noise_pct"].round(1).eq(17.0).all()
    t = compare.compare(base, _one_seed(tmp_path, "same", 1.15, 0.02), metric="sample_s")
    assert set(t["verdict"]) == {"same"}
    wide = _one_seed(tmp_path, "wb", 1.0, 0.10)
    t = compare.compare(wide, _one_seed(tmp_path, "wn", 1.22, 0.10), metric="sample_s")
    assert set(t["verdict"]) == {"same"} and t["noise_pct"].round(1).eq(23.5).all()
    t = compare.compare(base, _one_seed(tmp_path, "wn2", 1.22, 0.02), metric="sample_s")
    assert set(t["verdict"]) == {"slower"}  # the same change with tight replays
    # ESS/s moves inversely with the sampling seconds and shares their spread
    t = compare.compare(base, _one_seed(tmp_path, "ess", 1.25, 0.02), metric="ess_per_s")
    assert set(t.loc[t["base"].notna(), "verdict"]) == {"slower"}
    # rows without replays (loops timed once, older rows): the default threshold stands in, and with
    # one process a side not below the between-process noise either: 1.12x is same, 1.2x slower
    ob = _one_seed(tmp_path, "ob", 1.0, None)
    t = compare.compare(ob, _one_seed(tmp_path, "on", 1.12, None), metric="sample_s")
    assert set(t["verdict"]) == {"same"} and t["noise_pct"].round(1).eq(17.0).all()
    t = compare.compare(ob, _one_seed(tmp_path, "on2", 1.2, None), metric="sample_s")
    assert set(t["verdict"]) == {"slower"}
    t = compare.compare(ob, _one_seed(tmp_path, "on3", 1.2, None), metric="sample_s", threshold=0.3)
    assert set(t["verdict"]) == {"same"} and t["noise_pct"].round(1).eq(30.0).all()  # a wider --noise stands


def test_agreement_line_and_changed_cells_first(tmp_path):
    base = _one_seed(tmp_path, "b", 1.0, 0.02)
    raw = raw_rows()
    raw = raw[raw["seed"].eq(0)].copy()
    raw["sample_s_min"], raw["sample_s_max"], raw["sample_replays"] = raw["sample_s"] * 0.98, raw["sample_s"] * 1.02, 7
    blackjax = raw["method"].eq("blackjax_nuts")
    for col in ("sample_s", "sample_s_min", "sample_s_max"):
        raw.loc[blackjax, col] *= 1.5
    t = compare.compare(base, _write(tmp_path / "n", raw), metric="sample_s")
    line = compare.agreement(t)
    slow = int(t["verdict"].eq("slower").sum())
    assert slow == int(blackjax.sum()) and slow > 0
    assert line.startswith(f"{len(t)} cells on both sides: {len(t) - slow} ") and "worst 1.50x" in line
    assert f"slower {slow}, same {len(t) - slow}" in line
    rows = compare.as_table(t).rows
    assert [r[-1] for r in rows[:slow]] == ["slower"] * slow and {r[-1] for r in rows[slow:]} == {"same"}


def test_rank_swaps_counts_pairs_and_says_whether_a_swap_was_marked_within_noise(tmp_path):
    raw = raw_rows()
    base = _write(tmp_path / "base", raw)
    same = compare.rank_swaps(base, base)
    assert same[0].startswith("ranking: ") and ", 0 swapped" in same[0] and len(same) == 1
    pairs = int(same[0].split()[1])
    assert pairs > 0
    # NEW: blackjax_nuts at N = 1000 (ranked first) becomes 10x slower: it swaps with every cell it led
    new = raw.copy()
    hit = (new["n"] == 1000) & (new["method"] == "blackjax_nuts") & (new["device"] == "cpu")
    new.loc[hit, "ess_per_s"] = new.loc[hit, "ess_per_s"] / 10
    swaps = compare.rank_swaps(base, _write(tmp_path / "new", new))
    assert ", 0 swapped" not in swaps[0] and len(swaps) > 1
    assert any("blackjax_nuts@cpu" in line and "N=1,000" in line for line in swaps[1:])
    # with numpyro_nuts, its neighbour before: 10x is beyond any band, and neither report marks the pair
    assert ("sparse_logistic/synthetic N=1,000: blackjax_nuts@cpu and numpyro_nuts@cpu swap (NOT marked within noise)"
            in swaps)


def test_verdict_agreement_finds_opposite_decided_verdicts_and_a_first_untrustworthy_elsewhere(tmp_path):
    raw = raw_rows()
    base = _write(tmp_path / "base", raw)
    same = compare.verdict_agreement(base, base)
    decided = int(same[0].split()[1])
    assert decided > 0 and f"{decided} agree, 0 opposite" in same[0] and same[0].endswith("0 disagreement(s)")
    assert all(": first " in line for line in same[1:])  # one line per size: the two runs' firsts
    first_1000 = next(line for line in same if "N=1,000: first" in line).split("first ")[1].split(" | ")[0]
    # NEW: that first cell 10x slower on every seed (decided behind everything it led), and the N = 1,000
    # runner-up flagged divergent on one seed: it can no longer be called trustworthy
    new = raw.copy()
    method, device = first_1000.split("@")
    hit = (new["n"] == 1000) & (new["method"] == method) & (new["device"] == device)
    seconds = [c for c in new if c.endswith("_s") and c != "ess_per_s" and pd.api.types.is_numeric_dtype(new[c])]
    new.loc[hit, seconds] = new.loc[hit, seconds] * 10  # every phase: the time to result is derived from them
    new.loc[hit, "ess_per_s"] = new.loc[hit, "ess_per_s"] / 10
    out = compare.verdict_agreement(base, _write(tmp_path / "slow", new))
    assert int(re.search(r"(\d+) opposite", out[0]).group(1)) > 0
    assert any(f"N=1,000: {first_1000} vs" in line or f"vs {first_1000}" in line for line in out if "(opposite)" in line)
    flagged = raw.copy()
    hit = (flagged["n"] == 1000) & (flagged["method"] == method) & (flagged["device"] == device)
    flagged.loc[hit & flagged["seed"].eq(0), "divergences"] = 3
    out = compare.verdict_agreement(base, _write(tmp_path / "flagged", flagged))
    assert f"sparse_logistic/synthetic N=1,000: {first_1000} is first in BASE and not trustworthy in NEW" in out


def _host_pair(tmp_path, loop: float, ref: float, program_new: str = "p1", sample_scale=None):
    """One cell, three seeds a side, each seed's loop within 1 % of the others; NEW's loop ``loop`` times
    BASE's and its host reference ``ref`` times BASE's, timed on reference program ``program_new``."""
    raw = raw_rows()
    raw = raw[(raw["method"] == "numpyro_nuts") & (raw["n"] == 1000) & (raw["device"] == "cpu")].copy()
    raw["sample_s"] = [1.0, 1.01, 0.995]
    raw = raw.assign(sample_s_min=raw["sample_s"], sample_s_max=raw["sample_s"], sample_replays=5,
                     ref_us_per_grad=[2.0, 2.02, 1.99], ref_program="p1")
    new = raw.assign(sample_s=raw["sample_s"] * loop, sample_s_min=raw["sample_s"] * loop,
                     sample_s_max=raw["sample_s"] * loop, ess_per_s=raw["ess_per_s"] / loop,
                     ref_us_per_grad=raw["ref_us_per_grad"] * ref,
                     ref_program=program_new)
    return _write(tmp_path / "base", raw), _write(tmp_path / "new", new)


def test_a_host_that_slowed_between_runs_is_taken_out_where_both_timed_one_reference_program(tmp_path):
    """An hour later the host runs everything 1.5x slower (drift-a to drift-b moved it 1.07x-2.2x), the
    cell's loop and its host reference alike: put at one host speed the cell is the same; as measured
    (--raw) it reads 1.5x slower. The header and the table say how far the host moved."""
    base, new = _host_pair(tmp_path, 1.5, 1.5)
    t = compare.compare(base, new, metric="sample_s")
    assert t["verdict"].tolist() == ["same"] and t["ratio"].item() == pytest.approx(1.0)
    assert t["host"].item() == pytest.approx(1.5)
    assert any(line.startswith("host: 1 of 1 cells") and "1.500x" in line for line in t.attrs["header"])
    assert "1.500x" in compare.review(compare.compare(base, new, metric="sample_s").assign(verdict="slower"))
    raw = compare.compare(base, new, metric="sample_s", host=False)
    assert raw["verdict"].tolist() == ["slower"] and raw["ratio"].item() == pytest.approx(1.5)
    assert "host: figures as measured (--raw)" in raw.attrs["header"][-1]
    per_grad = compare.compare(base, new, metric="ess_per_s")  # ESS/s moves the other way, and is normalised too
    assert per_grad["ratio"].item() == pytest.approx(1.0) and per_grad["verdict"].item() == "same"


def test_a_change_to_the_reference_program_itself_is_compared_as_measured(tmp_path):
    """The planted slowdown's case: more data makes the loop and the host reference 1.5x slower, but the
    reference is then another program (its inputs' shapes changed): nothing is divided out, it is slower."""
    base, new = _host_pair(tmp_path, 1.5, 1.5, program_new="p2")
    t = compare.compare(base, new, metric="sample_s")
    assert t["verdict"].tolist() == ["slower"] and t["ratio"].item() == pytest.approx(1.5)
    assert t["host"].isna().all() and "no cell timed one host reference program" in t.attrs["header"][-1]


@pytest.mark.parametrize("loop, verdict", [(1.25, "same"), (0.8, "same"), (1.4, "slower"), (0.7, "faster")])
def test_seed_sets_tight_within_a_run_are_judged_against_the_between_run_noise(tmp_path, loop, verdict):
    """Three seeds a side agreeing within 1 %: a 1.25x move is within what two runs' seed medians hours apart
    differ by (SEEDS_NOISE, 30 %), a 1.4x one is not."""
    base, new = _host_pair(tmp_path, loop, 1.0)
    t = compare.compare(base, new, metric="sample_s")
    assert t["verdict"].tolist() == [verdict] and t["noise_pct"].item() == pytest.approx(30.0)


def test_cli_raw_compares_the_figures_as_measured(tmp_path, capsys):
    base, new = _host_pair(tmp_path, 1.5, 1.5)
    assert cli.main(["compare", str(base), str(new), "--metric", "sample_s", "--out", str(tmp_path / "c")]) == 0
    assert "same 1" in capsys.readouterr().out
    assert cli.main(["compare", str(base), str(new), "--metric", "sample_s", "--raw", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "slower 1" in out and "host: figures as measured (--raw)" in out
