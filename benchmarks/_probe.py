"""``python benchmarks/_probe.py CELL_JSON``: one full run measured in this (fresh) process.

Run as a script (it imports only ``harness`` and its sibling ``common``), so that
the harness measured is the one on PYTHONPATH, not whatever checkout holds this file.

Runs the cell through ``harness.worker.run_cell`` (``harness.cell.run_cell`` on older checkouts) (the row the runner would
store) while recording ``harness.timing`` calls, then adds what the row lacks:

- overhead ratio: the cell's own (``timing.replay_paired``: its compiled sampling
  loop replayed interleaved with the gradient-floor loop of the program it
  differentiates, at the same batch and positions), read off the row; on older
  checkouts without it, the loop re-run here against ``timing.floor_loop``
  (``timing.paired_ratio``);
- peak resident memory of this process (bytes) and the XLA memory estimate of
  the sampling loop (arguments + outputs + temporaries - aliased, bytes).

On a checkout whose harness.timing cannot record compiled loops (older commits),
the figures that need the loop are null and the rest still come out.

Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # this checkout's benchmarks/ (as when run as a script)
import common  # noqa: E402 - the asv suite's shared module: stdlib imports only, the tracked figures


def row_figures(row: dict) -> dict:
    """The figures read off the cell's row and its derived figures (``harness.derived.figures``).

    Each tracked per-second figure (e.g. ``ess_per_s``) becomes ``1000 / figure`` seconds per
    1,000 units (``seconds_per_kess``), a lower-is-better one (``Tracked.per`` None) stays as it
    is, only for a cell that converged (R-hat < 1.01 and bulk ESS
    >= 400 everywhere); otherwise None (n/a in asv): an unmixed chain's ESS is not an efficiency,
    and must not read as a win.
    """
    try:
        from harness.derived import figures
    except ImportError:  # checkouts before harness.derived: the formula they had
        def figures(r):
            return {"ess_per_s": r["min_ess_bulk"] / r["sample_s"]}
    derived = figures(row)
    converged = bool(row.get("converged"))
    out = {
        "compile_s": row["compile_s"],
        "sample_s": row["sample_s"],
        "grad_evals": row["grad_evals"],
        "min_ess_bulk": row["min_ess_bulk"],
        "max_rhat": row["max_rhat"],
        "converged": converged,
    }
    for column, tracked in common.tracked():
        value = derived.get(column)
        per = getattr(tracked, "per", 1000.0)  # checkouts before Tracked.per tracked per-second figures only
        out[tracked.name] = (per / value if per else value) if converged and value and value > 0 else None
    return out


def main(argv: list[str]) -> int:
    import jax

    import harness.cell as cell_module
    from harness import targets, timing
    from harness.cell import Cell

    try:  # the worker split from the Cell record; older checkouts run cells from harness.cell
        from harness.worker import run_cell
    except ImportError:
        from harness.cell import run_cell

    cell = Cell(**json.loads(argv[0]))
    try:  # the loop travels in the method's result (RunResult.loop); the worker hands it back
        from harness.worker import measure
    except ImportError:
        measure = None
    if measure is not None:
        row, loop = measure(cell)
    elif not hasattr(timing, "recording_runs"):
        row, loop = run_cell(cell), None
    else:
        with timing.recording_runs() as runs:
            row = run_cell(cell)
        loop = (timing.sampling_call(runs) if hasattr(timing, "sampling_call")
                else next((c for c in runs if c.seconds == row.get("sample_s")), None))
    if row["status"] != "ok":
        raise RuntimeError(f"cell {cell.label()} failed: {row['error']}")
    out = {"seconds_per_grad": None, "floor_seconds_per_grad": None, "overhead_ratio": None, "loop_bytes": None}
    if hasattr(timing, "replay_paired"):  # the row's figures come from the one paired procedure
        out.update(seconds_per_grad=row["sample_s"] / row["grad_evals"],
                   floor_seconds_per_grad=row["floor_us_per_grad"] * 1e-6, overhead_ratio=row["overhead_ratio"])
    elif loop is not None:
        loop = loop._replace(work=row["grad_evals"])
        posterior = targets.Posterior(targets.get(cell.model), cell.dataset, cell.n, cell.data_seed)
        positions = posterior.initial_positions(jax.random.key(cell.seed), cell.num_chains)
        # the program the method differentiates (older checkouts: the target's density only)
        source = getattr(cell_module, "floor_density", lambda method: None)(cell.method)
        density = posterior.density_and_data(source) if source else posterior.density_and_data()
        paired = timing.paired_ratio(loop, timing.floor_loop(*density, positions), repeats=3)
        out.update(seconds_per_grad=paired.a_per_work, floor_seconds_per_grad=paired.b_per_work,
                   overhead_ratio=paired.ratio)
    compiled = timing.program(loop) if loop is not None and hasattr(timing, "program") else getattr(loop, "compiled", None)
    mem = getattr(compiled, "memory_analysis", lambda: None)()
    if mem is not None:
        out["loop_bytes"] = (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
                             - mem.alias_size_in_bytes)
    out.update(row_figures(row), peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
