"""The row schema: every column a stored row can carry, declared once, grouped, with its type.

A row is one measurement (one :class:`harness.cell.Cell` run once). Its columns fall in groups,
in the order the store shows them:

- ``config``: the cell's configuration (the fields of :class:`harness.cell.Cell`, same order);
  equal configurations are one cell (``cell_key``), equal but for ``seed`` are repeats;
- ``outcome``: status and error, and how a run to a target ended;
- ``timing``: seconds of each phase, the replay spread of the sampling loop;
- ``work``: gradient evaluations;
- ``diagnostics``: ESS, R-hat and the sampler's own statistics;
- ``derived``: figures computed from the others by :func:`harness.derived.figures` (the one function
  the worker, the asv probe and the report call);
- ``accuracy``: against the posterior's reference;
- ``floor``: the gradient floor, the host reference and the memory roofline;
- ``recheck``: the run's second pass (:mod:`harness.recheck`);
- ``protocol``: where the cell's wall time went (:class:`harness.worker.Phases`) and how many cells
  ran beside it (:class:`harness.runner.LocalExecutor`);
- ``resources``, ``environment`` (:func:`harness.environment.capture`), ``provenance``.

Each column also declares its ``source`` (:data:`SOURCES`): the one piece of code that fills it. The
cell's process (:mod:`harness.worker`) runs the cell, then builds the row from the schema: the method's
RunResult through :func:`from_result`, every other source's columns from the code that owns them,
put together by :func:`assemble`, which refuses a column from anywhere but its declared source; the
``runner`` columns are added by the parent process afterwards.

Everything else derives from here: the store's column order (``COLUMNS``), the report's
configuration and numeric columns (``REPEAT_KEY``, ``SETUP``, ``NUMERIC``), the labels of
``harness compare`` and the figures asv tracks (``TRACKED``). Columns named ``x_<name>`` are a
method's own records (``RunResult.extra``, :func:`from_result`) and are not declared. Readers keep any column they
do not know (older or newer writers).
"""

from __future__ import annotations

from typing import NamedTuple

GROUPS = ("config", "outcome", "timing", "work", "diagnostics", "derived", "accuracy", "floor", "recheck",
          "protocol", "resources", "environment", "provenance")


class Tracked(NamedTuple):
    """How asv tracks a figure, under the benchmark name ``name``, only for converged cells, lower
    being better as asv reads every figure: a per-second figure as ``per / value`` (``per`` = 1000:
    seconds per 1000 units); a figure that is already lower-is-better as it is (``per`` None), in
    ``unit``."""

    name: str
    doc: str
    per: float | None = 1000.0
    unit: str = "seconds"


#: Where a column's value comes from (``Column.source``): the code that fills it, and nothing else does.
SOURCES = {
    "cell": "the cell's configuration and key (harness.cell.base_row)",
    "registry": "what the method registry says of the method (harness.cell.method_columns; no_grad_reason: "
                "Method.uncounted_work, on a row whose run ended)",
    "result": "a field of the method's RunResult (from_result): Column.field, default the column's name",
    "run": "what the worker saw while the method ran: JAX's compile events (harness.timing.compile_phases), "
           "its compiled loop's HLO size, the device's peak memory",
    "summary": "the draws: their shape, ESS and R-hat (harness.metrics.summarize) and accuracy against the "
               "posterior's reference (harness.metrics.accuracy)",
    "replay": "the sampling loop replayed against the gradient floor and the host reference "
              "(harness.timing.replay_paired), and the floor beside the memory roofline (harness.roofline)",
    "derived": "harness.derived.figures of the other columns",
    "verdict": "how the run ended and why: the worker's status (ok, nan, diverged, error, oom, skipped), or the "
               "runner's for a cell whose process wrote no row (timeout, crashed, error, oom, skipped)",
    "process": "the cell's process of itself: its wall seconds, peak resident memory (the runner keeps the "
               "larger of that and its own reading) and where it saved the draws",
    "phases": "where the cell's wall time went (harness.worker.Phases)",
    "environment": "harness.environment.capture",
    "runner": "the parent process, once the cell's process ended: process seconds, concurrency, the warm start, "
              "the second pass (harness.runner, harness.recheck) and the command",
}


class Column(NamedTuple):
    """One column: ``name``, ``group`` (one of GROUPS), Python ``type`` (str, int, float, bool,
    list or dict), what it holds (``doc``), where its value comes from (``source``, one of
    :data:`SOURCES`; ``field``: for a ``result`` column, the RunResult field it copies when named
    otherwise, ``extra.KEY`` for ``RunResult.extra[KEY]``), and how readers use it:

    - ``tracked``: asv tracks it (:class:`Tracked`);
    - ``better``: ``"higher"`` or ``"lower"``: ``harness compare --metric`` may judge it, in that
      direction (None: not a figure to compare);
    - ``ess``: an ESS figure: read off converged MCMC rows only, never for VI or a point estimate;
    - ``console``: its place in ``harness run``'s table (ascending; None: not shown), under ``label``
      with ``digits`` significant digits.
    """

    name: str
    group: str
    type: type
    doc: str
    source: str
    field: str | None = None
    tracked: Tracked | None = None
    better: str | None = None
    ess: bool = False
    console: float | None = None
    label: str = ""
    digits: int = 3


def _c(group: str, type_: type, *names_docs: tuple[str, ...], source: str) -> list[Column]:
    """Columns of one group, type and source: each ``(name, doc)``, or ``(name, doc, field)`` for a
    ``result`` column that copies a RunResult field named otherwise (``Column.field``)."""
    return [Column(name, group, type_, doc, source, *field) for name, doc, *field in names_docs]


COLUMN_LIST: tuple[Column, ...] = tuple(
    _c("config", str, ("model", "target name"), ("dataset", "dataset of the target"), source="cell")
    + _c("config", int, ("n", "data size N (None: the dataset's own)"), source="cell")
    + _c("config", str, ("method", "method name in harness.methods"), source="cell")
    + _c("config", dict, ("options", "method options, validated (JSON object, keys sorted)"), source="cell")
    + _c("config", str, ("device", "cpu or gpu"), source="cell")
    + _c("config", int, ("num_chains", "chains"), ("num_warmup", "warmup iterations per chain"),
         ("num_samples", "draws per chain (the chunk when running to a target)"), ("seed", "PRNG seed"),
         ("data_seed", "seed of synthetic data"), source="cell")
    + _c("config", str, ("precision", "float32 or float64"), source="cell")
    + _c("config", int, ("xla_devices", "forced host-platform device count (None: unset)"), source="cell")
    + _c("config", str, ("xla_flags", "further XLA flags of the cell's process"), source="cell")
    + _c("config", float, ("target_ess", "run to this bulk and tail ESS (None: fixed budget)"), source="cell")
    + _c("config", int, ("max_draws", "cap on draws per chain when running to a target"), source="cell")
    + _c("config", int, ("cpus", "cores the cell's process was held to (None: all)"), source="cell")
    + _c("outcome", str, ("status", "ok, nan, diverged, error, oom, timeout, crashed, skipped"),
         ("error", "why the row is not ok (one line)"), source="verdict")
    + _c("outcome", bool, ("reached_target", "the run to a target met it before its cap"), source="result")
    + _c("outcome", int, ("draws_per_chain", "draws kept per chain"), ("chains_run", "chains the method ran"),
         source="summary")
    + _c("outcome", str, ("family", "mcmc or vi (method registry)"), ("library", "handrolled, numpyro, blackjax"),
         source="registry")
    + _c("outcome", bool, ("subsamples", "the method's gradients touch a subsample of the data"), source="registry")
    + _c("timing", float, ("compile_s", "trace + lower + compile seconds, cold"), ("init_s", "initialisation seconds"),
         ("warmup_s", "warmup (adaptation) seconds; 0 for VI, whose fit is its timed loop"), source="result")
    + _c("timing", float, ("sample_s", "sampling-loop seconds: the median replay"),
         ("sample_s_min", "fastest timed run of the loop"), ("sample_s_max", "slowest timed run of the loop"),
         source="replay")
    + _c("timing", float, ("trace_s", "JAX tracing to jaxprs while the method ran, every program (jax.monitoring)"),
         ("lower_s", "lowering to MLIR while the method ran, every program"),
         ("xla_compile_s", "XLA compiles while the method ran, every program (a cache hit: its read)"), source="run")
    + _c("timing", int, ("compiles", "XLA compiles while the method ran"),
         ("cache_hits", "programs read from the persistent compilation cache (0: the cache was off)"),
         ("hlo_ops", "instructions in the sampling loop's optimised HLO"), source="run")
    + _c("timing", float, ("warm_compile_s", "compile_s of the same cell again with the persistent cache filled"),
         ("warm_init_s", "init_s, likewise"), ("warm_xla_compile_s", "xla_compile_s, likewise (cache reads)"),
         ("warm_ttfd_s", "time to first draw, likewise"), ("warm_time_to_result_s", "time to result, likewise"),
         source="runner")
    + _c("timing", int, ("warm_cache_hits", "programs the warm run read from the cache"), source="runner")
    + _c("timing", int, ("sample_replays", "timed runs of the sampling loop"), source="replay")
    + _c("timing", float, ("sample_s_first", "the run that produced the draws", "sample_s"), source="result")
    + _c("timing", float, ("wall_s", "the cell's wall seconds"), source="process")
    + _c("timing", float, ("diagnostic_s", "seconds of a run to a target's convergence checks (None: a fixed budget)",
                           "extra.diagnostic_s"), source="result")
    + _c("work", int, ("grad_evals_warmup", "gradient evaluations in warmup, all chains"),
         ("grad_evals", "gradient evaluations while sampling, all chains (NUTS: the sum of num_steps)",
          "grad_evals_sample"), source="result")
    + _c("work", float, ("grad_evals_full_equiv", "sampling gradients in full-data equivalents (subsampling)",
                         "grad_evals_counted"), source="result")
    + _c("diagnostics", float, ("min_ess_bulk", "min bulk ESS over coordinates"),
         ("min_ess_tail", "min tail ESS over coordinates"), ("max_rhat", "max rank R-hat over coordinates"),
         source="summary")
    + _c("diagnostics", bool, ("converged", "MCMC: R-hat < 1.01 and bulk ESS >= 400; VI: stopping rule met"),
         source="summary")
    + _c("diagnostics", str, ("no_ess_reason", "why ESS is undefined (point estimates)"), source="summary")
    + _c("diagnostics", str, ("no_grad_reason", "work the gradient count misses: no per-gradient figure"),
         source="registry")
    + _c("diagnostics", float, ("accept_rate", "mean acceptance"), ("divergences", "divergent transitions"),
         ("step_size", "step size after adaptation"), source="result")
    + [Column("ess_per_s", "derived", float, "min bulk ESS / sample_s", "derived",
              tracked=Tracked("seconds_per_kess", "Sampling seconds per 1,000 effective draws (min bulk ESS).")),
       Column("ess_tail_per_s", "derived", float, "min tail ESS / sample_s", "derived",
              tracked=Tracked("seconds_per_ktail_ess",
                              "Sampling seconds per 1,000 tail-effective draws (min tail ESS).")),
       Column("ess_per_grad", "derived", float, "min bulk ESS / sampling gradients", "derived"),
       Column("us_per_grad", "derived", float, "sampling microseconds per gradient evaluation (per chain)", "derived"),
       Column("ttfd_s", "derived", float, "time to the first usable draw: compile + init + warmup", "derived"),
       Column("time_to_result_s", "derived", float, "ttfd_s + sample_s + diagnostic_s", "derived"),
       Column("grads_to_result", "derived", float, "gradient evaluations of warmup and sampling, all chains",
              "derived", tracked=Tracked("grads_to_result",
                                         "Gradient evaluations, warmup and sampling, to the cell's result.", None,
                                         "gradients"),
              better="lower", console=5.5, label="grads")]
    + _c("accuracy", float, ("z_mean_max", "max |posterior mean - reference mean| / reference sd"),
         ("z_sd_max", "max |posterior sd - reference sd| / reference sd"),
         ("bias2_mean", "mean squared standardised bias"), ("bias2_max", "max squared standardised bias"),
         source="summary")
    + _c("accuracy", bool, ("inaccurate", "misses the reference (None: no reference)"), source="summary")
    + _c("accuracy", str, ("reference", "where the reference came from"), source="summary")
    + _c("floor", float, ("floor_us_per_grad", "gradient floor, median, microseconds per gradient per point"),
         source="replay")
    + _c("floor", int, ("floor_batch", "batch of the floor (chains evaluated together)"), source="replay")
    + _c("floor", str, ("floor_density", "program the floor differentiates: target or model"),
         ("floor_group", "cells that share a floor"), source="replay")
    + _c("floor", float, ("overhead_ratio", "median of loop seconds per gradient / floor, pair by pair"),
         ("overhead_ratio_min", "lowest paired ratio"), ("overhead_ratio_max", "highest paired ratio"),
         ("ref_us_per_grad", "host reference, microseconds per gradient per point"), source="replay")
    + _c("floor", str, ("ref_group", "cells that time the same host reference"),
         ("ref_program", "the host reference's compiled program (harness.timing.program_id): compare normalises "
          "by the reference where both sides' is the same"), source="replay")
    + _c("floor", float, ("roofline_us_per_grad", "bytes per gradient / measured bandwidth, microseconds"),
         ("x_roofline", "floor / roofline"), ("bandwidth_gbs", "measured streaming bandwidth, GB/s"), source="replay")
    + _c("floor", int, ("grad_bytes", "bytes one gradient must move"), source="replay")
    + _c("floor", str, ("grad_bytes_source", "where grad_bytes came from"),
         ("bandwidth_measured", "when the bandwidth was measured"), ("roofline_error", "why no roofline"),
         source="replay")
    + _c("recheck", int, ("attempts", "times the cell ran"), ("kept_attempt", "which attempt the row is"),
         source="runner")
    + _c("recheck", str, ("recheck", "why the second pass ran it again: host, short"),
         ("recheck_error", "the failed second attempt"), source="runner")
    + _c("recheck", list, ("sample_s_attempts", "sample_s of each attempt"),
         ("ref_us_per_grad_attempts", "host reference of each attempt"), source="runner")
    + _c("protocol", float, ("process_s", "the cell's process from spawn to exit, as the runner saw it"),
         source="runner")
    + _c("protocol", float,
         ("startup_s", "interpreter start, imports and JAX's start, before the cell's work"),
         ("data_s", "the posterior's data and the method's lookup"),
         ("method_s", "the method's run: compile, init, warmup, sampling and its checks"),
         ("summary_s", "ESS, R-hat and accuracy of the draws"),
         ("replay_s", "the replay protocol: floor copies and trials, replays, host reference"),
         ("roofline_s", "the memory roofline"), ("draws_s", "saving the draws"),
         ("environment_s", "capturing the environment"), ("failed_s", "the phase that raised (not ok)"),
         source="phases")
    + _c("protocol", int, ("jobs", "cells the run ran at once (--jobs)"),
         ("co_running", "most other cells in flight on this host while this one ran"), source="runner")
    + _c("resources", float, ("peak_rss_mb", "peak resident memory, MiB"), source="process")
    + _c("resources", float, ("peak_device_mb", "peak device memory"), source="run")
    + _c("resources", str, ("draws_path", "saved draws, relative to the run directory"), source="process")
    + _c("environment", str, ("python", "Python version"), ("jax", "version"), ("jaxlib", "version"),
         ("numpyro", "version"), ("blackjax", "version"), ("arviz", "version"), ("optax", "version"),
         ("numpy", "version"), ("backend", "JAX backend"), ("device_kind", "JAX device kind"), source="environment")
    + _c("environment", int, ("device_count", "JAX devices"), source="environment")
    + _c("environment", str, ("cpu", "CPU model"), source="environment")
    + _c("environment", int, ("cpu_count", "CPUs"), source="environment")
    + _c("environment", str, ("cpu_affinity", "cores the cell's process ran on (os.sched_getaffinity)"),
         source="environment")
    + _c("environment", str, ("platform", "OS"), ("git_commit", "commit (+dirty)"), ("hostname", "host"),
         ("xla_flags_env", "XLA_FLAGS of the process"), ("timestamp", "UTC, ISO 8601"), source="environment")
    + _c("environment", int, ("memory_gib", "total memory, GiB"), source="environment")
    + _c("environment", str, ("accelerator", "the host's GPU model(s), or none"),
         ("machine", "machine fingerprint (harness.environment.machine_name): figures from two never share a ratio"),
         source="environment")
    + _c("provenance", str, ("command", "the command that wrote the row"), source="runner")
    + _c("provenance", str, ("cell_key", "canonical configuration JSON"), source="cell")
)

#: How readers use the figures (``Column.better``, ``ess``, ``console``, ``label``, ``digits``), by column.
#: A new figure: its declaration above, and its line here if compare or the console table is to show it.
USE = {
    "ess_per_s": dict(better="higher", ess=True, console=1, label="ESS/s"),
    "ess_tail_per_s": dict(better="higher", ess=True),
    "ess_per_grad": dict(better="higher", ess=True, console=2, label="ESS/grad"),
    "overhead_ratio": dict(better="lower", console=3, label="x floor"),
    "compile_s": dict(better="lower", console=4, label="compile s"),
    "ttfd_s": dict(better="lower", console=5, label="first draw s"),
    "min_ess_bulk": dict(better="higher", ess=True, console=6, label="ESS bulk"),
    "min_ess_tail": dict(ess=True),
    "max_rhat": dict(console=7, label="max R-hat", digits=4),
    "divergences": dict(console=8, label="div"),
    "z_mean_max": dict(console=9, label="max |z| mean"),
    "z_sd_max": dict(console=10, label="max |z| sd"),
    "sample_s": dict(better="lower"), "warmup_s": dict(better="lower"), "wall_s": dict(better="lower"),
    "time_to_result_s": dict(better="lower"), "us_per_grad": dict(better="lower"), "peak_rss_mb": dict(better="lower"),
}
COLUMN_LIST = tuple(c._replace(**USE.get(c.name, {})) for c in COLUMN_LIST)
assert set(USE) <= {c.name for c in COLUMN_LIST}, "USE names an undeclared column"

BY_NAME = {c.name: c for c in COLUMN_LIST}
assert len(BY_NAME) == len(COLUMN_LIST), "a column is declared twice"
assert all(c.group in GROUPS for c in COLUMN_LIST)
assert all(c.source in SOURCES and (c.field is None or c.source == "result") for c in COLUMN_LIST)


def names(*groups: str) -> list[str]:
    """Column names of the given groups (all when none), in schema order."""
    return [c.name for c in COLUMN_LIST if not groups or c.group in groups]


#: Every declared column, in display order (the store puts these first).
COLUMNS = names()
#: The cell's configuration: the fields of harness.cell.Cell.
CONFIG = names("config")
#: Rows equal on these are repeats of one cell (the seed aside).
REPEAT_KEY = [c for c in CONFIG if c != "seed"]
#: What two methods must share to be compared: the posterior and the run's setup.
SETUP = [c for c in CONFIG if c not in ("method", "options", "seed")]
#: Numeric columns (int and float), which readers coerce.
NUMERIC = [c.name for c in COLUMN_LIST if c.type in (int, float)]
#: Figures asv tracks, as (column, Tracked).
TRACKED = [(c.name, c.tracked) for c in COLUMN_LIST if c.tracked is not None]
#: Figures ``harness compare --metric`` takes: name -> whether higher is better.
METRICS = {c.name: c.better == "higher" for c in COLUMN_LIST if c.better}
#: ESS figures: converged MCMC rows only.
ESS_BASED = tuple(c.name for c in COLUMN_LIST if c.ess)
#: The console table's figure columns, in their order.
CONSOLE = sorted((c for c in COLUMN_LIST if c.console is not None), key=lambda c: c.console)


def is_scalar(value) -> bool:
    """Whether a value of ``RunResult.extra`` is a scalar (a row's ``x_`` record) rather than a per-draw array
    (which goes to the saved draws)."""
    return isinstance(value, (int, float, str, bool)) or (hasattr(value, "ndim") and value.ndim == 0)


def _field(result, field: str):
    if field.startswith("extra."):
        return result.extra.get(field.removeprefix("extra."))
    return getattr(result, field)


def from_result(result) -> dict:
    """A row's ``result`` columns from a method's RunResult: each column its declared field (``Column.field``,
    default the column's name; ``extra.KEY``: ``result.extra[KEY]``, None where the method gave none), then
    the method's own records, ``x_<name>`` (undeclared): each scalar of ``extra``, and where they apply the
    full-data-equivalent gradients of a subsampling method, a VI optimiser's verdict, a point estimate."""
    row = {c.name: _field(result, c.field or c.name) for c in COLUMN_LIST if c.source == "result"}
    row.update({f"x_{k}": v for k, v in result.extra.items() if is_scalar(v)})
    if result.grad_evals_full_equiv_sample is not None:
        row.update(x_grad_evals_full_equiv_sample=result.grad_evals_full_equiv_sample,
                   x_grad_evals_full_equiv_warmup=result.grad_evals_full_equiv_warmup)
    if result.opt_converged is not None:
        row["x_opt_converged"] = bool(result.opt_converged)
    if result.point_estimate:
        row["x_point_estimate"] = True
    return row


def assemble(parts: dict[str, dict]) -> dict:
    """One row from its parts, keyed by source: each part may fill only the columns its source declares
    (the ``result`` part also the method's undeclared ``x_`` records), so every column comes from where
    this schema says. A ValueError names a column that came from elsewhere."""
    row = {}
    for source, part in parts.items():
        for name in part:
            column = BY_NAME.get(name)
            declared = column.source if column else "result" if name.startswith("x_") else None
            if declared != source:
                raise ValueError(f"column {name!r} came from {source!r}; the schema declares it "
                                 + (f"from {declared!r}" if declared else "nowhere"))
        row.update(part)
    return row
