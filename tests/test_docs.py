"""The user docs hold together: README is a short guide without commit hashes, and every relative
link in README.md, docs/*.md and results/README.md reaches a file of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "results" / "README.md"]
#: A commit hash: 7 to 40 hex digits with at least one letter and one digit (1000000 is a number,
#: "effaced" a word).
HASH = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}(?![0-9A-Za-z])")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    """Targets of Markdown links that are paths in the repository (no scheme, no bare anchor)."""
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_hash_pattern_finds_hashes_and_spares_numbers():
    text = "at 1b106ac and 0cffbcb1d, not 1000000, 1.55e+04, effaced or a #1d007219x fingerprint"
    assert HASH.findall(text) == ["1b106ac", "0cffbcb1d"]


def test_readme_is_a_short_guide_without_commit_hashes():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert HASH.findall(text) == []


def test_readme_names_every_shipped_suite():
    text = README.read_text(encoding="utf-8")
    suites = sorted(p.stem for p in (ROOT / "harness" / "suites").glob("*.toml") if not p.stem.startswith("_"))
    assert suites, "no suites found"
    assert [s for s in suites if f"`{s}`" not in text] == []


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings (lower case, punctuation dropped, spaces
    to hyphens)."""
    heads = re.findall(r"^#+ (.*)$", path.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file(doc):
    text = doc.read_text(encoding="utf-8")
    links = relative_links(text) + [t for t in LINK.findall(text) if t.startswith("#")]
    missing = [t for t in links if not (doc.parent / t.split("#")[0]).exists()]
    assert missing == []
    sections = [t for t in links if "#" in t and (not t.split("#")[0] or t.split("#")[0].endswith(".md"))]
    unknown = [t for t in sections if t.split("#")[1] not in anchors(doc.parent / t.split("#")[0] if t.split("#")[0] else doc)]
    assert unknown == []


def test_link_check_sees_a_broken_link(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("[a](https://example.org) [b](#top) [c](missing.md#part) [d](x.md)")
    assert relative_links(doc.read_text()) == ["missing.md#part", "x.md"]
    assert [t for t in relative_links(doc.read_text()) if not (tmp_path / t.split("#")[0]).exists()] == ["missing.md#part"]
    doc.write_text("# A heading, with `code`\n## Run to a target\n")
    assert anchors(doc) == {"a-heading-with-code", "run-to-a-target"}


def test_readme_headline_table_is_what_the_report_prints_from_the_stored_rows():
    """The table README pastes is the summary `harness report results/default-seeds` writes today:
    a change to the rows or to the summary's figures shows here until README is pasted again."""
    from harness.report import frame, tables

    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| target | N |"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    pasted = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[start:end]]
    summary = tables.summary(frame.aggregate(frame.load(ROOT / "results" / "default-seeds")))
    assert pasted[0] == summary.columns
    assert pasted[2:] == summary.rows


def test_readme_quotes_the_measured_quick_run():
    """README's figure for `harness run` is the median that benchmarks/quick_wall.py stored, not a typed one."""
    import json

    text = " ".join(README.read_text().split())
    quotes = re.findall(r"on a 2-core ([\w ]+?), `harness run` took ([\d.]+) s \(median of (\w+); "
                        r"`python -m benchmarks.quick_wall(?: --out ([\w/-]+))?` wrote", text)
    assert {q[0] for q in quotes} == {"Intel Xeon", "AMD EPYC"}, "README does not quote the quick run's wall on both"
    for cpu, seconds, count, out in quotes:
        stored = json.loads((ROOT / (out or "results/quick-wall") / "walls.json").read_text())
        assert stored["machine"].startswith(cpu.replace("Intel Xeon", "Intel(R) Xeon(R)"))
        assert float(seconds) == stored["median_s"]
        assert count == {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}[len(stored["walls_s"])]
        assert stored["median_s"] < 60  # the bar for a first run on 2 cores
