"""The committed hour-apart A/A pairs of results/noise: each ``compare.md`` and the README's read-out are
what ``harness compare`` prints from the stored rows today, not typed figures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.report import compare

NOISE = Path(__file__).resolve().parents[2] / "results/noise"

#: (base, new, compare output folder): the noise suite an hour apart on the AMD EPYC, three and twelve seeds.
PAIRS = (("drift-amd-a", "drift-amd-b", "drift-amd-ab"), ("drift10-amd-a", "drift10-amd-b", "drift10-amd-ab"))


@pytest.mark.parametrize("base, new, out", PAIRS, ids=[p[2] for p in PAIRS])
def test_the_committed_compare_and_the_readme_quote_what_compare_prints_from_the_rows(base, new, out):
    table = compare.compare(NOISE / base, NOISE / new, metric="sample_s")
    line = compare.agreement(table)
    assert line in (NOISE / out / "compare.md").read_text()
    both, inside, share = re.match(r"(\d+) cells on both sides: (\d+) \((\d+) %\)", line).groups()
    readme = " ".join((NOISE / "README.md").read_text().split())
    assert f"`{out}/compare.md`): {inside} of {both} cells ({share} %) within +-10 %" in readme
    assert set(table["verdict"]) <= {"same", "slower", "faster"}  # every cell measured on both sides
