"""The asv suite is valid and runs: ``asv check`` and one ``--quick`` benchmark.

Runs as CI would on a fresh clone: the asv machine file goes to a temporary
HOME (``asv machine --yes``), never the user's ~/.asv-machine.json, and a copy
of asv.conf.json points results and html into a temporary directory, so the
repository's committed history is not touched. The harness under test is this
checkout's (ASV_PYTHONPATH).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK_BENCH = r"TimePerGradient.time_per_gradient\('handrolled_hmc', 'sparse_logistic/breast_cancer', 569\)"
MACHINE = "harness-test"


def _asv_command() -> list[str]:
    pytest.importorskip("asv", reason="asv is not installed")
    exe = Path(sys.executable).with_name("asv")
    return [str(exe)] if exe.exists() else [shutil.which("asv") or pytest.skip("no asv executable")]


@pytest.fixture(scope="module")
def asv(tmp_path_factory):
    """Run asv in this repository with a temporary HOME and results directory."""
    tmp = tmp_path_factory.mktemp("asv")
    conf = json.loads(re.sub(r"^\s*//.*$", "", (ROOT / "asv.conf.json").read_text(), flags=re.M))
    conf.update(repo=str(ROOT), benchmark_dir=str(ROOT / "benchmarks"), results_dir=str(tmp / "results"),
                html_dir=str(tmp / "html"), env_dir=str(tmp / "env"))
    (tmp / "asv.conf.json").write_text(json.dumps(conf))
    env = {**os.environ, "HOME": str(tmp / "home"), "ASV_PYTHONPATH": str(ROOT)}
    (tmp / "home").mkdir()
    base = _asv_command()

    def run(*args, timeout=120):
        return subprocess.run([*base, *args, "--config", str(tmp / "asv.conf.json")] if args[0] != "machine"
                              else [*base, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)

    proc = run("machine", "--yes", "--machine", MACHINE)
    assert proc.returncode == 0, proc.stderr
    assert (tmp / "home" / ".asv-machine.json").exists()
    run.results = tmp / "results"
    return run


# slow: 13 s; CI's run of one benchmark below has asv discover (import and list) the whole suite first
@pytest.mark.slow
def test_asv_check_finds_no_problems(asv):
    proc = asv("check", "--python=same")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found" in proc.stdout


def test_one_quick_benchmark_produces_a_time(asv):
    proc = asv("run", "--python=same", "--quick", "--show-stderr", "--machine", MACHINE, "--bench", QUICK_BENCH)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    line = next((ln for ln in out.splitlines() if "handrolled_hmc" in ln and "breast_cancer" in ln and "569" in ln), "")
    value = re.search(r"(\d+(?:\.\d+)?)(?:±\S+)?\s*(ns|μs|us|ms|s)\b", line)
    assert value and float(value.group(1)) > 0, f"no time in the result line {line!r}:\n{out[-3000:]}"
    assert "failed" not in line


def test_seconds_per_kess_is_missing_unless_the_cell_converged():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_probe", ROOT / "benchmarks" / "_probe.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    row = {"compile_s": 1.0, "sample_s": 2.0, "grad_evals": 100, "min_ess_bulk": 500.0, "max_rhat": 1.002}
    assert probe.row_figures({**row, "converged": True})["seconds_per_kess"] == pytest.approx(4.0)
    # a fast sampler that has not mixed: ESS 4, R-hat 5 -> no figure, never 0.5 s per kESS
    stuck = probe.row_figures({**row, "min_ess_bulk": 4.0, "max_rhat": 5.3, "converged": False})
    assert stuck["seconds_per_kess"] is None and stuck["converged"] is False


def test_the_asv_matrix_is_the_asv_suite():
    """benchmarks/common.py reads harness/suites/asv.toml: its parameters are that suite's cells."""
    import sys

    sys.path.insert(0, str(ROOT))
    from benchmarks import common
    from harness import suites

    cells = suites.expand(suites.load("asv"))
    assert {(c.method, f"{c.model}/{c.dataset}", c.n) for c in cells} == {(m, t, n) for m in common.METHODS for t in common.TARGETS
                                for n in common.SIZES_BY_TARGET[t]}
    assert common.EFFICIENCY_RUN["num_samples"] == cells[0].num_samples
