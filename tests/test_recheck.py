"""The second pass's rule (harness.recheck): which cells run again, and which attempt is kept."""

from __future__ import annotations

import math

from harness import recheck


def _row(key, ref, sample_s=1.0, group="g", status="ok"):
    return {"cell_key": key, "ref_us_per_grad": ref, "ref_group": group, "sample_s": sample_s, "status": status}


def test_a_cell_whose_host_reference_is_slower_than_its_groups_best_runs_again():
    rows = [_row("a", 10.0), _row("b", 10.9), _row("c", 11.2), _row("d", 30.0, group="h"),
            _row("e", 50.0, status="error")]
    assert recheck.suspects(rows) == {"c": "host"}  # 1.12x its group's best; 1.09x is within HOST_TOL


def test_a_group_of_one_and_a_missing_reference_are_not_suspects():
    rows = [_row("a", 10.0), _row("b", math.nan), _row("c", None, group=None), _row("d", 99.0, group="alone")]
    assert recheck.suspects(rows) == {}


def test_a_short_loop_runs_again_and_both_reasons_are_named():
    rows = [_row("a", 10.0, sample_s=0.01), _row("b", 20.0, sample_s=0.01), _row("c", 10.0, sample_s=0.2)]
    assert recheck.suspects(rows) == {"a": "short", "b": "host+short"}


def test_a_cell_whose_median_timing_was_slowed_runs_again():
    """kidiq NUTS of the noise suite: timings 0.254-0.715 s, median 0.373 s (1.47x its fastest)."""
    rows = [{**_row("a", 10.0, sample_s=0.373), "sample_s_min": 0.254, "sample_replays": 5},
            {**_row("b", 10.0, sample_s=0.26), "sample_s_min": 0.254, "sample_replays": 5},  # 1.02x: fine
            {**_row("c", 10.0, sample_s=8.0), "sample_s_min": 4.0, "sample_replays": 1}]  # one timing: no spread
    assert recheck.suspects(rows) == {"a": "spread"}


def test_merge_keeps_the_faster_ok_attempt_and_records_both():
    first, second = _row("a", 12.0, sample_s=0.30), _row("a", 10.0, sample_s=0.20)
    kept = recheck.merge(first, second, "host")
    assert kept["sample_s"] == 0.20 and kept["ref_us_per_grad"] == 10.0 and kept["kept_attempt"] == 2
    assert kept["attempts"] == 2 and kept["recheck"] == "host"
    assert kept["sample_s_attempts"] == [0.30, 0.20] and kept["ref_us_per_grad_attempts"] == [12.0, 10.0]
    assert recheck.merge(second, first, "host")["kept_attempt"] == 1


def test_merge_keeps_the_first_when_the_second_failed():
    first, second = _row("a", 12.0, sample_s=0.30), {"cell_key": "a", "status": "crashed", "error": "SIGKILL"}
    kept = recheck.merge(first, second, "short")
    assert kept["sample_s"] == 0.30 and kept["kept_attempt"] == 1 and kept["recheck_error"] == "crashed: SIGKILL"
