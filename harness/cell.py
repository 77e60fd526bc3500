"""One measurement: the Cell record, and running it in this process into a row.

``python -m harness.cell CELL.json ROW.json`` is what the runner starts in a
fresh subprocess for every cell, so that compile times are real (no in-process
caches, persistent compilation cache off) and a crash costs only that cell.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field

from harness import UsageError


@dataclass(frozen=True)
class Cell:
    """The full configuration of one measurement; its identity for resume."""

    model: str
    dataset: str
    n: int | None
    method: str
    options: dict = field(default_factory=dict)
    device: str = "cpu"
    num_chains: int = 4
    num_warmup: int = 500
    num_samples: int = 500
    seed: int = 0
    data_seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self) -> str:
        """Canonical JSON of the configuration (options sorted): equal cells, equal keys."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def label(self) -> str:
        size = self.dataset if self.n is None else f"{self.dataset}:{self.n}"
        return f"{self.model}/{size}/{self.method}/c{self.num_chains}/s{self.seed}"


def validate(cell: Cell) -> Cell:
    """Resolve names, size and options now (raises UsageError), so bad input fails before any run."""
    from harness import methods, targets

    target = targets.get(cell.model)
    method = methods.get(cell.method)
    try:
        n = target.resolve_size(cell.dataset, cell.n)
    except ValueError as e:
        raise UsageError(str(e)) from None
    opts = method.resolve_options(cell.options)
    for name, value in (("num_chains", cell.num_chains), ("num_samples", cell.num_samples)):
        if value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value}")
    if cell.num_warmup < 0:
        raise UsageError(f"num_warmup must be >= 0, got {cell.num_warmup}")
    return Cell(**{**cell.to_dict(), "n": n, "options": opts})


def base_row(cell: Cell) -> dict:
    row = cell.to_dict()
    row["options"] = json.dumps(cell.options, sort_keys=True)
    return row


def _summary(z, extra: dict) -> dict:
    """ESS / R-hat summary of draws; a point estimate (extra point_estimate=True) gets none.

    Its draws are one point repeated: ESS and R-hat are undefined, so they stay NaN
    (and with them ess_per_s, ess_per_grad) and ``no_ess_reason`` says why.
    """
    import numpy as np

    from harness import metrics

    if not extra.get("point_estimate") or not np.all(np.isfinite(z)):
        return metrics.summarize(z)
    nan = float("nan")
    return {"min_ess_bulk": nan, "min_ess_tail": nan, "max_rhat": nan, "converged": False,
            "no_ess_reason": "point estimate: draws repeat one point"}


def run_cell(cell: Cell) -> dict:
    """Run one cell here and return its row (status 'ok' or 'error', never raises)."""
    import jax

    from harness import environment, methods, targets

    row = base_row(cell)
    t0 = time.perf_counter()
    try:
        target, method = targets.get(cell.model), methods.get(cell.method)
        posterior = targets.Posterior(target, cell.dataset, cell.n, cell.data_seed)
        config = methods.RunConfig(cell.num_chains, cell.num_warmup, cell.num_samples, cell.options)
        result = method.run(posterior, config, jax.random.key(cell.seed))
        summary = _summary(posterior.layout.unconstrain(result.draws), result.extra)
        row.update(
            status="ok",
            error=None,
            compile_s=result.compile_s,
            init_s=result.extra.get("init_s", 0.0),
            warmup_s=result.warmup_s,
            sample_s=result.sample_s,
            grad_evals_warmup=result.grad_evals_warmup,
            grad_evals=result.grad_evals_sample,
            accept_rate=result.accept_rate,
            divergences=result.divergences,
            step_size=result.step_size,
            **summary,
        )
        row["ess_per_s"] = summary["min_ess_bulk"] / result.sample_s if result.sample_s > 0 else float("nan")
        row["ess_per_grad"] = (
            summary["min_ess_bulk"] / result.grad_evals_sample if result.grad_evals_sample else float("nan")
        )
        if summary["min_ess_bulk"] != summary["min_ess_bulk"] and "no_ess_reason" not in summary:  # NaN draws
            row.update(status="nan", error="draws contain NaN or inf")
        row.update({f"x_{k}": v for k, v in result.extra.items() if k != "init_s"})
    except Exception as e:  # the matrix goes on: the failure becomes the row
        row.update(status="error", error=f"{type(e).__name__}: {e}".splitlines()[0][:500])
        traceback.print_exc(file=sys.stderr)
    row["wall_s"] = time.perf_counter() - t0
    row.update(environment.capture(with_device=True))
    return row


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m harness.cell CELL.json ROW.json", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        cell = Cell(**json.load(f))
    row = run_cell(cell)
    from harness.store import _clean

    with open(argv[1], "w") as f:
        json.dump(_clean(row), f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
