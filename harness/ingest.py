"""pytest-benchmark JSON -> rows of the results store, so reports read both sources.

One row per benchmark. Its configuration columns (model, dataset, n, method,
num_chains, device, compile_s, min_ess_bulk, ...) come from the benchmark's
``extra_info`` when present (tests/perf fills them); its timings from
pytest-benchmark's statistics over rounds, in seconds per call:

- ``bench_median_s``, ``bench_min_s``, ``bench_mean_s``, ``bench_stddev_s``,
  ``bench_iqr_s``, ``bench_rounds``;
- ``seconds_per_work`` = median / ``extra_info["work"]`` (e.g. seconds per
  gradient evaluation when work counts gradients), with ``work_unit`` saying what.

Environment columns come from the file's ``machine_info`` / ``commit_info``
(``git_commit`` gets ``+dirty`` as harness rows do). Every row has
``source = "pytest-benchmark"`` and ``benchmark`` = the test's full name, and
``status = "ok"``: pytest-benchmark stores only benchmarks that ran.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness import UsageError, store

SOURCE = "pytest-benchmark"
STATS = {"median": "bench_median_s", "min": "bench_min_s", "mean": "bench_mean_s",
         "stddev": "bench_stddev_s", "iqr": "bench_iqr_s", "rounds": "bench_rounds"}


def load(path) -> dict:
    """Parse a pytest-benchmark JSON file; UsageError naming the file when it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"no pytest-benchmark JSON at {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise UsageError(f"{path} is not a pytest-benchmark JSON (no 'benchmarks' list; write one with --benchmark-json)")
    return data


def _environment(data: dict) -> dict:
    machine, commit = data.get("machine_info") or {}, data.get("commit_info") or {}
    sha = commit.get("id")
    if sha and commit.get("dirty"):
        sha += "+dirty"
    cpu = machine.get("cpu") or {}
    return {
        "python": machine.get("python_version"),
        "cpu": cpu.get("brand_raw") or machine.get("processor"),
        "cpu_count": cpu.get("count"),
        "platform": (machine.get("system") or "").lower() or None,
        "hostname": machine.get("node"),
        "git_commit": sha,
        "timestamp": data.get("datetime"),
    }


def rows(data: dict, command: str = "") -> list[dict]:
    """One store row per benchmark of a parsed pytest-benchmark JSON."""
    env = _environment(data)
    out = []
    for bench in data["benchmarks"]:
        stats, extra = bench.get("stats") or {}, dict(bench.get("extra_info") or {})
        row = {**env, **extra}  # extra_info first: it may not overwrite what this row is
        row.update(source=SOURCE, benchmark=bench.get("fullname") or bench.get("name"),
                   group=bench.get("group"), status="ok", error=None, command=command)
        row.update({col: stats.get(key) for key, col in STATS.items()})
        work = extra.get("work")
        if work and stats.get("median") is not None:
            row["seconds_per_work"] = stats["median"] / work
        out.append(row)
    return out


def ingest(path, out_dir, command: str = "") -> list[dict]:
    """Append the rows of pytest-benchmark JSON ``path`` to the store in ``out_dir``; returns them."""
    new = rows(load(path), command)
    for row in new:
        store.append(out_dir, row)
    return new
