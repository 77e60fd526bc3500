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

Everything else derives from here: the store's column order (``COLUMNS``), the report's
configuration and numeric columns (``REPEAT_KEY``, ``SETUP``, ``NUMERIC``), the labels of
``harness compare`` and the figures asv tracks (``TRACKED``). Columns named ``x_<name>`` are a
method's own records (``RunResult.extra``) and are not declared. Readers keep any column they
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


class Column(NamedTuple):
    """One column: ``name``, ``group`` (one of GROUPS), Python ``type`` (str, int, float, bool,
    list or dict), what it holds (``doc``), and how readers use it:

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
    tracked: Tracked | None = None
    better: str | None = None
    ess: bool = False
    console: float | None = None
    label: str = ""
    digits: int = 3


def _c(group: str, type_: type, *names_docs: tuple[str, str]) -> list[Column]:
    return [Column(name, group, type_, doc) for name, doc in names_docs]


COLUMN_LIST: tuple[Column, ...] = tuple(
    _c("config", str, ("model", "target name"), ("dataset", "dataset of the target"))
    + _c("config", int, ("n", "data size N (None: the dataset's own)"))
    + _c("config", str, ("method", "method name in harness.methods"))
    + _c("config", dict, ("options", "method options, validated (JSON object, keys sorted)"))
    + _c("config", str, ("device", "cpu or gpu"))
    + _c("config", int, ("num_chains", "chains"), ("num_warmup", "warmup iterations per chain"),
         ("num_samples", "draws per chain (the chunk when running to a target)"), ("seed", "PRNG seed"),
         ("data_seed", "seed of synthetic data"))
    + _c("config", str, ("precision", "float32 or float64"))
    + _c("config", int, ("xla_devices", "forced host-platform device count (None: unset)"))
    + _c("config", str, ("xla_flags", "further XLA flags of the cell's process"))
    + _c("config", float, ("target_ess", "run to this bulk and tail ESS (None: fixed budget)"))
    + _c("config", int, ("max_draws", "cap on draws per chain when running to a target"))
    + _c("config", int, ("cpus", "cores the cell's process was held to (None: all)"))
    + _c("outcome", str, ("status", "ok, nan, diverged, error, oom, timeout, crashed, skipped"),
         ("error", "why the row is not ok (one line)"))
    + _c("outcome", bool, ("reached_target", "the run to a target met it before its cap"))
    + _c("outcome", int, ("draws_per_chain", "draws kept per chain"), ("chains_run", "chains the method ran"))
    + _c("outcome", str, ("family", "mcmc or vi (method registry)"), ("library", "handrolled, numpyro, blackjax"))
    + _c("outcome", bool, ("subsamples", "the method's gradients touch a subsample of the data"))
    + _c("timing", float, ("compile_s", "trace + lower + compile seconds, cold"), ("init_s", "initialisation seconds"),
         ("warmup_s", "warmup (adaptation) seconds; 0 for VI, whose fit is its timed loop"),
         ("sample_s", "sampling-loop seconds: the median replay"), ("sample_s_min", "fastest timed run of the loop"),
         ("sample_s_max", "slowest timed run of the loop"))
    + _c("timing", float, ("trace_s", "JAX tracing to jaxprs while the method ran, every program (jax.monitoring)"),
         ("lower_s", "lowering to MLIR while the method ran, every program"),
         ("xla_compile_s", "XLA compiles while the method ran, every program (a cache hit: its read)"))
    + _c("timing", int, ("compiles", "XLA compiles while the method ran"),
         ("cache_hits", "programs read from the persistent compilation cache (0: the cache was off)"),
         ("hlo_ops", "instructions in the sampling loop's optimised HLO"))
    + _c("timing", float, ("warm_compile_s", "compile_s of the same cell again with the persistent cache filled"),
         ("warm_init_s", "init_s, likewise"), ("warm_xla_compile_s", "xla_compile_s, likewise (cache reads)"),
         ("warm_ttfd_s", "time to first draw, likewise"), ("warm_time_to_result_s", "time to result, likewise"))
    + _c("timing", int, ("warm_cache_hits", "programs the warm run read from the cache"))
    + _c("timing", int, ("sample_replays", "timed runs of the sampling loop"))
    + _c("timing", float, ("sample_s_first", "the run that produced the draws"), ("wall_s", "the cell's wall seconds"),
         ("diagnostic_s", "seconds of a run to a target's convergence checks (None: a fixed budget)"))
    + _c("work", int, ("grad_evals_warmup", "gradient evaluations in warmup, all chains"),
         ("grad_evals", "gradient evaluations while sampling, all chains (NUTS: the sum of num_steps)"))
    + _c("work", float, ("grad_evals_full_equiv", "sampling gradients in full-data equivalents (subsampling)"))
    + _c("diagnostics", float, ("min_ess_bulk", "min bulk ESS over coordinates"),
         ("min_ess_tail", "min tail ESS over coordinates"), ("max_rhat", "max rank R-hat over coordinates"))
    + _c("diagnostics", bool, ("converged", "MCMC: R-hat < 1.01 and bulk ESS >= 400; VI: stopping rule met"))
    + _c("diagnostics", str, ("no_ess_reason", "why ESS is undefined (point estimates)"),
         ("no_grad_reason", "work the gradient count misses: no per-gradient figure"))
    + _c("diagnostics", float, ("accept_rate", "mean acceptance"), ("divergences", "divergent transitions"),
         ("step_size", "step size after adaptation"))
    + [Column("ess_per_s", "derived", float, "min bulk ESS / sample_s",
              Tracked("seconds_per_kess", "Sampling seconds per 1,000 effective draws (min bulk ESS).")),
       Column("ess_tail_per_s", "derived", float, "min tail ESS / sample_s",
              Tracked("seconds_per_ktail_ess", "Sampling seconds per 1,000 tail-effective draws (min tail ESS).")),
       Column("ess_per_grad", "derived", float, "min bulk ESS / sampling gradients"),
       Column("us_per_grad", "derived", float, "sampling microseconds per gradient evaluation (per chain)"),
       Column("ttfd_s", "derived", float, "time to the first usable draw: compile + init + warmup"),
       Column("time_to_result_s", "derived", float, "ttfd_s + sample_s + diagnostic_s"),
       Column("grads_to_result", "derived", float, "gradient evaluations of warmup and sampling, all chains",
              Tracked("grads_to_result", "Gradient evaluations, warmup and sampling, to the cell's result.", None,
                      "gradients"),
              better="lower", console=5.5, label="grads")]
    + _c("accuracy", float, ("z_mean_max", "max |posterior mean - reference mean| / reference sd"),
         ("z_sd_max", "max |posterior sd - reference sd| / reference sd"),
         ("bias2_mean", "mean squared standardised bias"), ("bias2_max", "max squared standardised bias"))
    + _c("accuracy", bool, ("inaccurate", "misses the reference (None: no reference)"))
    + _c("accuracy", str, ("reference", "where the reference came from"))
    + _c("floor", float, ("floor_us_per_grad", "gradient floor, median, microseconds per gradient per point"))
    + _c("floor", int, ("floor_batch", "batch of the floor (chains evaluated together)"))
    + _c("floor", str, ("floor_density", "program the floor differentiates: target or model"),
         ("floor_group", "cells that share a floor"))
    + _c("floor", float, ("overhead_ratio", "median of loop seconds per gradient / floor, pair by pair"),
         ("overhead_ratio_min", "lowest paired ratio"), ("overhead_ratio_max", "highest paired ratio"),
         ("ref_us_per_grad", "host reference, microseconds per gradient per point"))
    + _c("floor", str, ("ref_group", "cells that time the same host reference"))
    + _c("floor", float, ("roofline_us_per_grad", "bytes per gradient / measured bandwidth, microseconds"),
         ("x_roofline", "floor / roofline"), ("bandwidth_gbs", "measured streaming bandwidth, GB/s"))
    + _c("floor", int, ("grad_bytes", "bytes one gradient must move"))
    + _c("floor", str, ("grad_bytes_source", "where grad_bytes came from"),
         ("bandwidth_measured", "when the bandwidth was measured"), ("roofline_error", "why no roofline"))
    + _c("recheck", int, ("attempts", "times the cell ran"), ("kept_attempt", "which attempt the row is"))
    + _c("recheck", str, ("recheck", "why the second pass ran it again: host, short"),
         ("recheck_error", "the failed second attempt"))
    + _c("recheck", list, ("sample_s_attempts", "sample_s of each attempt"),
         ("ref_us_per_grad_attempts", "host reference of each attempt"))
    + _c("protocol", float,
         ("process_s", "the cell's process from spawn to exit, as the runner saw it"),
         ("startup_s", "interpreter start, imports and JAX's start, before the cell's work"),
         ("data_s", "the posterior's data and the method's lookup"),
         ("method_s", "the method's run: compile, init, warmup, sampling and its checks"),
         ("summary_s", "ESS, R-hat and accuracy of the draws"),
         ("replay_s", "the replay protocol: floor copies and trials, replays, host reference"),
         ("roofline_s", "the memory roofline"), ("draws_s", "saving the draws"),
         ("environment_s", "capturing the environment"), ("failed_s", "the phase that raised (not ok)"))
    + _c("protocol", int, ("jobs", "cells the run ran at once (--jobs)"),
         ("co_running", "most other cells in flight on this host while this one ran"))
    + _c("resources", float, ("peak_rss_mb", "peak resident memory, MiB"), ("peak_device_mb", "peak device memory"))
    + _c("resources", str, ("draws_path", "saved draws, relative to the run directory"))
    + _c("environment", str, ("python", "Python version"), ("jax", "version"), ("jaxlib", "version"),
         ("numpyro", "version"), ("blackjax", "version"), ("arviz", "version"), ("optax", "version"),
         ("numpy", "version"), ("backend", "JAX backend"), ("device_kind", "JAX device kind"))
    + _c("environment", int, ("device_count", "JAX devices"))
    + _c("environment", str, ("cpu", "CPU model"))
    + _c("environment", int, ("cpu_count", "CPUs"))
    + _c("environment", str, ("cpu_affinity", "cores the cell's process ran on (os.sched_getaffinity)"))
    + _c("environment", str, ("platform", "OS"), ("git_commit", "commit (+dirty)"), ("hostname", "host"),
         ("xla_flags_env", "XLA_FLAGS of the process"), ("timestamp", "UTC, ISO 8601"))
    + _c("environment", int, ("memory_gib", "total memory, GiB"))
    + _c("environment", str, ("accelerator", "the host's GPU model(s), or none"),
         ("machine", "machine fingerprint (harness.environment.machine_name): figures from two never share a ratio"))
    + _c("provenance", str, ("command", "the command that wrote the row"), ("cell_key", "canonical configuration JSON"))
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
