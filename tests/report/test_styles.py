import os
import subprocess
import sys

from matplotlib.colors import to_rgb
from matplotlib.markers import MarkerStyle

from harness.methods.catalog import CATALOG
from harness.report import styles


def test_every_shipped_method_has_its_own_style_and_no_other_is_listed():
    names = [e.name for e in CATALOG]
    assert sorted(styles.STYLES) == sorted(names)
    looks = [styles.style(n) for n in names]
    assert len(set(looks)) == len(names)
    assert len({to_rgb(s.colour) for s in looks}) == len(names)  # the colours alone tell them apart
    for s in looks:
        MarkerStyle(s.marker)  # a marker matplotlib knows
        assert to_rgb(s.colour) not in {to_rgb("black"), to_rgb("grey")}  # kept for keys, floors and rings


def test_a_library_has_one_marker():
    by_library = {}
    for e in CATALOG:
        family = "svi" if e.family == "vi" else e.library
        by_library.setdefault(family, set()).add(styles.style(e.name).marker)
    assert all(len(m) == 1 for m in by_library.values())
    assert len({next(iter(m)) for m in by_library.values()}) == len(by_library)


def test_a_plugin_gets_a_look_no_shipped_method_has():
    table = set(styles.STYLES.values())
    plugins = [f"my_sampler_{i}" for i in range(200)]
    looks = [styles.style(p) for p in plugins]
    assert not table & set(looks)
    assert len(set(looks)) > 30  # spread over the fallback pairs, not one look for all


def test_a_plugins_look_is_the_same_in_every_process():
    """Python's ``hash`` of a str changes from one process to the next; the look must not."""
    code = "from harness.report import styles; print(tuple(styles.style('my_sampler')))"
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert seen == {str(tuple(styles.style("my_sampler"))) + "\n"}


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
COMMITTED = sorted(p.parent for p in (ROOT / "results").rglob("report.md"))


def test_every_committed_report_draws_each_method_in_its_one_style():
    """Each committed report records the look of every method its figures drew (report/styles.json,
    written by harness.report.page.build); a method looks the same in all of them and as the table says.
    A report built before the table (or by a hand) has no such file and fails here: rebuild it."""
    import json

    from harness.report.page import STYLES_FILE

    assert COMMITTED, "no committed report found under results/"
    seen = {}
    for report_dir in COMMITTED:
        path = report_dir / STYLES_FILE
        assert path.exists(), f"{path.relative_to(ROOT)} missing: rebuild with harness report"
        for method, look in json.loads(path.read_text()).items():
            assert styles.style(method)._asdict() == look, f"{method} in {report_dir.relative_to(ROOT)}"
            seen.setdefault(method, set()).add(tuple(look.values()))
    assert all(len(v) == 1 for v in seen.values())
