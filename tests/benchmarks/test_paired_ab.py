"""benchmarks/paired_ab.py: both sides of an A/B side by side, one core each, the cores swapped seed by seed."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from benchmarks import paired_ab
from harness import store
from tests.conftest import EVERY_CORE

ROOT = Path(__file__).resolve().parents[2]
RUN_ARGS = ["--model", "test_tiny", "--method", "test_fake", "--samples", "50", "--warmup", "20"]
SLEEP_S = 3.0  # each fake cell sleeps this long, so the sides' overlap outlasts the rows' one-second timestamps


@pytest.mark.parametrize("argv, message", [
    (["o", "--seeds", "3", "--side", "a", "--side", "b"], "give harness run's arguments after --"),
    (["o", "--seeds", "1", "--side", "a", "--side", "b", "--", *RUN_ARGS], "--seeds must be 2 or more"),
    (["o", "--seeds", "x", "--side", "a", "--side", "b", "--", *RUN_ARGS], "invalid int value"),
    (["o", "--seeds", "3", "--side", "a", "--", *RUN_ARGS], "exactly two --side"),
    (["o", "--seeds", "3", "--side", "a", "--side", "a:X=1", "--", *RUN_ARGS], "exactly two --side"),
    (["o", "--seeds", "3", "--side", "a:X", "--side", "b", "--", *RUN_ARGS], "'X' is not VAR=VALUE"),
    (["o", "--seeds", "3", "--side", "a-1", "--side", "b", "--", *RUN_ARGS], "the name must be a word"),
    (["o", "--seeds", "3", "--side", "a", "--side", "b", "--", *RUN_ARGS, "--seed", "4"], "--seed: the driver sets"),
    (["o", "--seeds", "3", "--side", "a", "--side", "b", "--", *RUN_ARGS, "--out=x"], "--out=x: the driver sets"),
])
def test_bad_input_is_one_line_and_exit_2_before_anything_runs(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paired_ab.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o").exists()


@pytest.mark.every_core
@pytest.mark.skipif(len(EVERY_CORE) < 2, reason="needs two usable cores")
def test_each_seed_runs_both_sides_at_once_on_two_cores_swapped_each_seed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_cells")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    out = tmp_path / "ab"
    code = paired_ab.main([str(out), "--seeds", "2", "--side", "base:HARNESS_AB_SIDE=0", "--side",
                           "new:HARNESS_AB_SIDE=1", "--", *RUN_ARGS, "--option", f"sleep_s={SLEEP_S}"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert code == 0, printed
    rows = {side: {r["seed"]: r for r in store.read_rows(out / side)} for side in ("base", "new")}
    assert all(sorted(rows[side]) == [0, 1] for side in rows)
    a, b = (str(c) for c in EVERY_CORE[-2:])
    assert [rows["base"][s]["cpu_affinity"] for s in (0, 1)] == [a, b]
    assert [rows["new"][s]["cpu_affinity"] for s in (0, 1)] == [b, a]
    # the two sides of a seed overlapped in time: each started before the other ended
    for s in (0, 1):
        pair = (rows["base"][s], rows["new"][s])
        ends = [datetime.datetime.fromisoformat(r["timestamp"]).timestamp() for r in pair]
        starts = [e - r["process_s"] for e, r in zip(ends, pair)]
        assert all(r["process_s"] > SLEEP_S for r in pair)
        assert starts[0] + 1 < ends[1] and starts[1] + 1 < ends[0]
    assert all(r["jobs"] == 1 and f"--seed {r['seed']} --jobs 1 --no-recheck" in r["command"]
               for side in rows.values() for r in side.values())
    # then the read-out of planted_ab over both sides' seeds
    assert printed[0] == f"seed 0: base on core {a} exit 0, new on core {b} exit 0"
    assert printed[-1].startswith("1 cells: ") and "seeds 2/2" in printed[-2]
