"""harness.suites.calibration: a machine's speed fitted from its rows, stored, looked up, and priced."""

import json
from pathlib import Path

import pytest

from harness import cli, store, suites
from harness.cell import Cell
from harness.suites import calibration
from harness.suites.calibration import Measured, Speed

MACHINE = "Test CPU | 2 cores | 8 GiB | no accelerator | jax 0 #00000000"


def _cells():
    """Cells whose fixed and per-gradient parts differ in proportion: small posteriordb-like and large ones."""
    out = []
    for method in ("handrolled_hmc", "numpyro_nuts", "blackjax_nuts", "svi_autonormal"):
        for n in (569, 10_000, 100_000):
            out.append(Cell("sparse_logistic", "synthetic", n, method, num_warmup=200, num_samples=400))
    return out


def test_fit_recovers_the_factors_that_priced_the_cells():
    truth = Speed(1.7, 0.6)
    cells = [Measured(c, suites.estimate_cell_s(c, None, rechecked=False, speed=truth), 0.0, "") for c in _cells()]
    got = calibration.fit(cells)
    assert got.fixed == pytest.approx(truth.fixed, rel=0.02) and got.work == pytest.approx(truth.work, rel=0.02)
    assert got.rerun == 0.0


def test_rerun_share_counts_host_reruns_among_cells_not_rerun_for_a_short_loop():
    c = _cells()[0]
    cells = [Measured(c, 10.0, 20.0, "host"), Measured(c, 10.0, 20.0, "host+spread"), Measured(c, 10.0, 10.0, ""),
             Measured(c, 10.0, 10.0, ""), Measured(c, 10.0, 20.0, "short"), Measured(c, 10.0, 20.0, "host+short")]
    assert calibration.fit(cells).rerun == pytest.approx(2 / 4)


def test_speed_scales_the_fixed_and_per_gradient_parts_and_reruns_a_share():
    cell = Cell("sparse_logistic", "synthetic", 100_000, "handrolled_hmc", num_warmup=200, num_samples=2000)
    base = suites.estimate_cell_s(cell, rechecked=False)
    work_only = suites.estimate_cell_s(cell, rechecked=False, speed=Speed(0.0, 1.0))
    fixed_only = base - work_only
    assert fixed_only > 0 and work_only > 0
    assert suites.estimate_cell_s(cell, rechecked=False, speed=Speed(2.0, 1.0)) == pytest.approx(2 * fixed_only + work_only)
    scaled = suites.estimate_cell_s(cell, rechecked=False, speed=Speed(1.0, 3.0))
    # 3x the seconds per gradient: 3x that part, less the replay budget's floor (timing.replay_budget_s)
    assert 2.8 * work_only < scaled - fixed_only <= 3 * work_only
    assert suites.estimate_cell_s(cell, speed=Speed(rerun=0.5)) == pytest.approx(1.5 * base)
    short = Cell("sparse_logistic", "breast_cancer", None, "handrolled_hmc", num_warmup=10, num_samples=10)
    assert suites.estimate_cell_s(short, speed=Speed(rerun=0.5)) == pytest.approx(
        2 * suites.estimate_cell_s(short, rechecked=False))  # a short loop always runs twice


def _row(cell, seconds, status="ok", machine=MACHINE, **extra):
    return {"cell_key": cell.key(), "status": status, "process_s": seconds, "machine": machine, **extra}


def _run(tmp_path, name, rows) -> Path:
    run = tmp_path / name
    for r in rows:
        store.append(run, r)
    return run


def test_measured_sums_attempts_keeps_the_first_and_leaves_out_failures(tmp_path):
    a, b, c = _cells()[:3]
    other = "Other | 2 cores | ? GiB | no accelerator | jax 0 #11111111"
    first = _run(tmp_path, "first", [_row(a, 10.0), _row(b, 20.0), _row(c, 5.0, status="timeout"),
                                     _row(b, 30.0, attempts=2, recheck="host")])
    second = _run(tmp_path, "second", [_row(a, 4.0, machine=other)])
    got = calibration.measured([first, second])
    assert got == {MACHINE: [Measured(a, 10.0, 10.0, "", "", str(first)), Measured(b, 20.0, 50.0, "host", "", str(first))],
                   other: [Measured(a, 4.0, 4.0, "", "", str(second))]}  # rows without git_commit: no commit


def test_save_keeps_other_machines_and_lookup_prefers_the_users_file(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "machines.json"
    monkeypatch.setenv(calibration.CACHE_ENV, str(path.parent))
    monkeypatch.setattr(calibration, "shipped", lambda: {MACHINE: {"fixed": 9.0, "work": 9.0, "rerun": 0.9,
                                                                     "runs": ["results/x"]}})
    assert calibration.lookup(MACHINE)[:3] == (9.0, 9.0, 0.9)
    assert "results/x" in calibration.lookup(MACHINE).source
    cell = _cells()[0]
    calibration.save({"other": (Speed(2.0, 2.0, 0.0), [Measured(cell, 1.0, 1.0, "", "abc1234", "r0")])})
    calibration.save({MACHINE: (Speed(1.5, 0.5, 0.25), [Measured(cell, 1.0, 1.0, "", "def5678", "r1")] * 7)})
    table = json.loads(path.read_text())
    assert set(table) == {"other", MACHINE} and table[MACHINE]["cells"] == 7
    assert table[MACHINE]["commits"] == ["def5678"] and table["other"]["runs"] == ["r0"]
    assert calibration.lookup(MACHINE)[:3] == (1.5, 0.5, 0.25) and str(path) in calibration.lookup(MACHINE).source
    assert calibration.lookup("never seen") == calibration.MODEL


def test_cli_calibrate_stores_this_machine_and_list_suites_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(calibration.CACHE_ENV, str(tmp_path / "cache"))
    here = calibration.this_machine()
    cells = _cells()
    truth = Speed(1.3, 0.8)
    run = _run(tmp_path, "run", [_row(c, suites.estimate_cell_s(c, rechecked=False, speed=truth), machine=here)
                                 for c in cells])
    assert cli.main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    if here not in calibration.shipped():
        assert "this machine is not calibrated" in out
    assert cli.main(["calibrate", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"{here}: fixed seconds x1.3" in out and f"from {len(cells)} cell(s)" in out
    assert cli.main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    assert "this machine: fixed seconds x1.3" in out and str(run) in out
    quick = suites.load("quick")
    minutes = suites.estimate_s(quick, suites.expand(quick), 1800.0, suites.jobs(quick), speed=calibration.lookup()) / 60
    assert f"estimated {minutes:6.1f} min" in next(ln for ln in out.splitlines() if ln.strip().startswith("quick"))


def test_cli_calibrate_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(calibration.CACHE_ENV, str(tmp_path / "cache"))
    assert cli.main(["calibrate", str(tmp_path / "missing")]) == 2
    assert "is not a run directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["calibrate", str(tmp_path / "empty")]) == 2
    assert "no rows to calibrate from" in capsys.readouterr().err
    run = _run(tmp_path, "unknown", [_row(Cell("sparse_logistic", "synthetic", 569, "no_such_method"), 3.0)])
    assert cli.main(["calibrate", str(run)]) == 2
    assert "no finished cell of a known method" in capsys.readouterr().err
    assert not (tmp_path / "cache" / "machines.json").exists()
    good = _run(tmp_path, "good", [_row(c, 10.0) for c in _cells()])
    foreign = tmp_path / "notes.json"
    foreign.write_text("[1, 2, 3]\n")
    assert cli.main(["calibrate", str(good), "--out", str(foreign)]) == 2
    assert "is not a calibration file" in capsys.readouterr().err and foreign.read_text() == "[1, 2, 3]\n"


def test_shipped_calibrations_are_what_their_runs_give():
    """Each shipped entry is refitted from the committed runs it names: the figures are the rows', not typed."""
    root = Path(__file__).resolve().parent.parent
    for machine, entry in calibration.shipped().items():
        runs = [root / r for r in entry["runs"]]
        assert all((r / "rows.jsonl").exists() for r in runs), entry["runs"]
        cells = calibration.measured(runs)[machine]
        assert len(cells) == entry["cells"]
        assert calibration.fit(cells) == Speed(entry["fixed"], entry["work"], entry["rerun"])
