"""benchmarks/gpu/session.sh: each part is a valid command on a machine without a GPU (--dry-run)."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "session.sh"


def _run(*args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300)


def test_run_parts_list_gpu_cells(tmp_path):
    for part, cells in (("compile", 6), ("chains", 12)):
        done = _run(part, str(tmp_path), "--dry-run")
        assert done.returncode == 0, done.stderr
        assert f"{cells} cell(s)" in done.stdout
        assert "/gpu/" in done.stdout and "/cpu/" not in done.stdout


def test_unknown_part_is_one_line_and_exit_2(tmp_path):
    done = _run("bogus", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "compile, chains or floor" in done.stderr
