"""benchmarks/planted_ab.py: the interleaved A/B read-out of results/noise/planted-interleaved."""

from __future__ import annotations

from pathlib import Path

from benchmarks import planted_ab
from harness.report import stats

RUN = Path(__file__).resolve().parents[2] / "results/noise/planted-interleaved"


def test_each_cell_gets_the_bootstrap_interval_of_its_ratio_and_the_count_adds_up(capsys):
    assert planted_ab.main([str(RUN / "base"), str(RUN / "new")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    cells, total = lines[:-1], lines[-1]
    assert len(cells) == 10 and total.startswith("10 cells: ")
    verdicts = [ln.rsplit("  ", 1)[1] for ln in cells]
    slower, faster = verdicts.count("slower"), verdicts.count("faster")
    assert total == f"10 cells: {slower} slower, {faster} faster, {10 - slower - faster} within noise"
    # a line's ratio is stats.ratio_interval of the seeds it prints
    first = cells[0]
    base = [float(x) for x in first.split("base [")[1].split("]")[0].split(",")]
    new = [float(x) for x in first.split("new [")[1].split("]")[0].split(",")]
    r = stats.ratio_interval(new, base)
    assert f"new/base {r.text()}" in first or abs(r.value - float(first.split("new/base ")[1].split("x")[0])) < 0.02


def test_usage_is_exit_2(capsys):
    assert planted_ab.main(["only-one"]) == 2
    assert "usage" in capsys.readouterr().err


def test_the_interleaved_aa_readme_quotes_the_count_its_read_out_prints(capsys):
    """results/noise/planted-interleaved-aa: both sides unpadded; its README quotes the read-out's last line."""
    aa = RUN.parent / "planted-interleaved-aa"
    assert planted_ab.main([str(aa / "a"), str(aa / "b")]) == 0
    total = capsys.readouterr().out.strip().splitlines()[-1]
    assert total.startswith("10 cells: ") and f"`{total}`" in (aa / "README.md").read_text()


def test_the_recheck_probe_readme_quotes_the_three_read_outs(capsys):
    """results/noise/planted-recheck: a and b unpadded, n padded; its README quotes each comparison's count."""
    probe = RUN.parent / "planted-recheck"
    readme = (probe / "README.md").read_text()
    for base, new in (("a", "n"), ("b", "n"), ("a", "b")):
        assert planted_ab.main([str(probe / base), str(probe / new)]) == 0
        total = capsys.readouterr().out.strip().splitlines()[-1]
        (row,) = [ln for ln in readme.splitlines() if ln.startswith(f"| {base}, {new} ")]
        assert total.startswith("10 cells: ") and f"`{total}`" in row


def test_the_side_by_side_readmes_quote_the_counts_their_read_outs_print(capsys):
    """results/noise/planted-paired (a planted 1.25x) and -aa (nothing planted), written by
    benchmarks/paired_ab.py: each README quotes its read-out's last line."""
    for folder, sides in (("planted-paired", ("base", "new")), ("planted-paired-aa", ("a", "b"))):
        run = RUN.parent / folder
        assert planted_ab.main([str(run / s) for s in sides]) == 0
        total = capsys.readouterr().out.strip().splitlines()[-1]
        assert total.startswith("10 cells: ") and f"`{total}`" in (run / "README.md").read_text()
