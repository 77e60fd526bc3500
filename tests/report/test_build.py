import html as _html
import json
import re

import pytest

from harness import cli, report


@pytest.fixture(scope="module")
def built(run_small, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return report.build(run_small, out), out


def test_the_report_records_each_methods_look(built, rows):
    import json

    from harness.report import styles
    from harness.report.page import STYLES_FILE

    looks = json.loads((built[1] / STYLES_FILE).read_text())
    assert sorted(looks) == sorted(rows["method"].unique())
    assert all(styles.style(m)._asdict() == look for m, look in looks.items())


def test_every_figure_exists_and_every_linked_image_exists(built):
    html_path, out = built
    html = html_path.read_text()
    md = (out / "report.md").read_text()
    html_imgs = re.findall(r'<img src="([^"]+)"', html)
    md_imgs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert md_imgs and set(md_imgs) < set(html_imgs)  # the figures in both; diagnostics folded in the HTML only
    for rel in html_imgs:
        assert not rel.startswith(("/", "http")) and (out / rel).is_file() and (out / rel).stat().st_size > 1000
    names = {p.name for p in (out / "figures").iterdir()}
    assert {"ess_per_s__sparse_logistic_synthetic.png", "compile_s__sparse_logistic_synthetic.png",
            "us_per_grad__sparse_logistic_synthetic.png", "accuracy__sparse_logistic_synthetic_10000.png",
            "accuracy__eight_schools_noncentered_posteriordb_8.png"} <= names
    assert set(names) == {p.split("/")[-1] for p in html_imgs if p.startswith("figures/")}
    assert "<script" not in html and "http" not in html.split("</style>")[0]


def test_traces_for_the_flagged_cell_with_draws_and_a_note_for_the_rest(built):
    html_path, out = built
    diag = sorted(p.name for p in (out / "diagnostics").iterdir())
    assert len(diag) == 2 and diag[0].endswith("_rank.png") and "handrolled_hmc" in diag[0] and "seed0" in diag[0]
    page = _html.unescape(html_path.read_text())
    assert "No saved draws (run with `--save-draws`) for: sparse_logistic/synthetic N=10,000 handrolled_hmc (cpu) seed 0, 1, 2;" in page
    assert "N=1,000 handrolled_hmc (cpu) seed 1" not in page  # that cell was plotted from seed 0's draws
    assert "svi_autodelta (cpu) seed" not in page  # a point estimate has no chains to plot


def test_report_states_crossovers_environment_and_commands(built):
    md = (built[1] / "report.md").read_text()
    assert "numpyro_nuts on GPU overtakes numpyro_nuts on CPU (ESS/s) at N ~ 19,307" in md
    assert "numpyro_hmcecs (cpu) overtakes numpyro_nuts (cpu) (ESS/s) at N ~ 40,000" in md
    assert "svi_autonormal (cpu) is ahead of numpyro_nuts (cpu) (time to result) at every measured size" in md
    assert "harness run --suite fixture --seed 0 --seed 1 --seed 2" in md
    page = _html.unescape(built[0].read_text())  # folded sections: in the HTML
    assert "<td>numpyro</td><td>0.22.0</td>" in page and "<td>git_commit</td><td>0123456789abcdef" in page
    assert "XlaRuntimeError: RESOURCE_EXHAUSTED" in page


def test_the_markdown_leads_with_the_summary_and_stays_short(built):
    md = (built[1] / "report.md").read_text()
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Summary: first to a trustworthy posterior" and headings[1] == "## Crossovers"
    captions = [line for line in md.splitlines() if line.startswith("*") and line.endswith("*")]
    assert captions[0].startswith("*Per target and size: the usable cell")  # the first table is the summary
    assert "| rank |" not in md  # the per-target tables are folded in the HTML
    assert "Folded in [report.html](report.html)" in md and len(md.splitlines()) < 200
    page = built[0].read_text()
    assert page.index("<nav>") < page.index("<table>") and page.count("<details") >= 6


def test_cli_report_and_bad_paths(run_small, tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness: error:") and "rows.jsonl" in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "rows.jsonl").write_text("")
    assert cli.main(["report", str(tmp_path / "empty")]) == 2 and "no rows" in capsys.readouterr().err
    assert cli.main(["compare", str(tmp_path / "x"), str(run_small)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not a run directory" in err


def test_stored_fixture_is_what_its_script_writes(run_small, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_run_small", run_small.parent / "make_run_small.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path / "again")
    assert (tmp_path / "again" / "rows.jsonl").read_text() == (run_small / "rows.jsonl").read_text()


def test_traces_on_request(run_small, tmp_path):
    """'--traces METHOD' adds that method's converged rows to the diagnosed ones (here: no draws saved)."""
    lines = [ln for ln in (run_small / "rows.jsonl").read_text().splitlines() if "eight_schools" in ln]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "rows.jsonl").write_text("\n".join(lines) + "\n")
    for traces, listed in ((("flagged",), False), (("flagged", "numpyro_nuts"), True)):
        page = _html.unescape(report.build(tmp_path / "run", tmp_path / "out", traces=traces).read_text())
        assert "N=8 handrolled_hmc (cpu) seed 0, 1, 2" in page
        assert ("N=8 numpyro_nuts (cpu) seed 0, 1, 2" in page) is listed


def test_no_report_module_imports_a_name_from_the_package():
    """The package's ``build`` imports the page lazily (to keep matplotlib out of the light reader), so
    a module importing a name back from ``harness.report`` would make a cycle: they import submodules only."""
    import ast
    from pathlib import Path

    package = Path(report.__file__).parent
    submodules = {p.stem for p in package.glob("*.py")} - {"__init__"}
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "harness.report":
                names = {a.name for a in node.names}
                assert names <= submodules, f"{path.name} imports {sorted(names - submodules)} from harness.report"


def test_the_markdown_quotes_hostile_names_without_letting_them_out(run_small, tmp_path):
    """A model path holding HTML and a command holding a newline and a code fence: report.md shows them as
    text (no raw tag, the Commands block not closed early, no heading injected), as report.html does."""
    rows = [json.loads(line) for line in (run_small / "rows.jsonl").read_text().splitlines()]
    hostile = 'file:/tmp/"><img src=x onerror=alert(1)>.py'
    fence = "x\n```\n# injected\n<script>alert(2)</script>\n```"
    model = rows[0]["model"]
    for row in rows:
        if row["model"] == model:
            row["model"] = hostile
        row["command"] = f"harness run --model-file '/tmp/{fence}'"
    run = tmp_path / "run"
    run.mkdir()
    (run / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report.build(run, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert hostile.replace("<", "&lt;") in md  # the path is shown, as text
    prose = _outside_code(md)
    assert not any("<img" in line or "<script" in line or line.startswith("# injected") for line in prose)
    commands = md[md.index("## Commands"):]
    opening = re.search(r"^(`{3,})$", commands, re.M).group(1)
    assert len(opening) > 3  # longer than the fence inside, so that one cannot close it
    assert commands.count("\n" + opening + "\n") == 2 and "# injected" in commands.split(opening)[1]


def _outside_code(md: str) -> list[str]:
    """The lines of ``md`` outside fenced code blocks (a fence closes on a run of backticks at least as long)."""
    fence, prose = None, []
    for line in md.splitlines():
        if fence is None and (m := re.match(r"^(`{3,})\s*$", line)):
            fence = m.group(1)
        elif fence is not None:
            if re.match(r"^`{%d,}\s*$" % len(fence), line):
                fence = None
        else:
            prose.append(line)
    return prose
