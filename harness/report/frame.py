"""Rows in, one tidy frame out: read the store's columns defensively, flag, aggregate over seeds.

Rows come from several writers (methods, targets, runner, ingestion), so every
optional column is looked up by a list of candidate names and may be missing.
Columns read (first candidate found wins; the names harness.worker.run_cell writes
come first, older writers' names after them):

- accuracy (harness.metrics.accuracy), max |z| of posterior means: ``z_mean_max``
  (or ``max_abs_z_mean``, ``max_abs_mean_z``, ``max_z_mean``, ``max_abs_z``); of
  posterior sds: ``z_sd_max`` (or ``max_abs_z_sd``, ``max_abs_sd_z``, ``max_z_sd``);
  bias squared: ``bias2_mean`` (or ``bias2``, ``bias_sq``, ``bias_squared``); the
  verdict ``inaccurate`` (True = bad, None = no reference) or ``accurate`` /
  ``accuracy_ok`` (True = good). A row with a max |z| but no verdict is inaccurate
  when max |z| of the means or sds exceeds harness.metrics.INACCURATE_Z;
  ``reference`` (the reference's source, None without one).
- family: ``family`` ("mcmc" / "vi"; "mcmc" where a row has none); ``library``
  ("handrolled", "numpyro", "blackjax") and ``subsamples`` (the method's gradients touch
  a subsample of the data), from the method registry (harness.cell.base_row).
- ``converged``: for MCMC, R-hat / ESS; for VI, whether the optimiser met its
  convergence rule (``x_opt_converged`` where ``converged`` is missing).
- gradients: ``grad_evals_full_equiv`` (HMCECS: full-data-equivalent sampling
  gradients) else ``grad_evals``; ``no_ess_reason`` (point estimates);
  ``no_grad_reason`` (work the gradient count misses: per-gradient figures n/a);
  gradient floor: ``floor_us_per_grad`` at batch ``floor_batch``; draws file: ``draws_path``;
  replay spread: ``sample_s_min`` / ``sample_s_max`` over ``sample_replays`` timed runs.

Derived columns: those of :func:`harness.derived.figures` (``ess_per_s``, ``ess_per_grad``,
``us_per_grad``, ``ttfd_s``, ``time_to_result_s``): a row's stored value (the worker wrote it with
the same function), else computed from its measured columns (rows written before the figure
existed); rows written before a rule changed follow it: never an ESS figure for VI, and a row with
``x_diagnostic_s`` but no ``diagnostic_s`` has its time to result computed again, checks counted; and
``flag`` (:func:`flag`: empty when the run is usable, else why not:
ERROR / TIMEOUT / NAN / SKIPPED, POINT ESTIMATE, NO REFERENCE, NOT CONVERGED, INACCURATE,
TARGET NOT REACHED, DIVERGENT n).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from harness import UsageError, derived, environment, schema, store
from harness.report import stats

#: Configuration columns: rows equal on these (seed aside) are repeats of one cell.
CONFIG = schema.REPEAT_KEY

ACCURACY_MEAN = ("z_mean_max", "max_abs_z_mean", "max_abs_mean_z", "max_z_mean", "max_abs_z")
ACCURACY_SD = ("z_sd_max", "max_abs_z_sd", "max_abs_sd_z", "max_z_sd")
BIAS2 = ("bias2_mean", "bias2", "bias_sq", "bias_squared")

NUMERIC = schema.NUMERIC
#: Figures the report divides one cell's by another's: :func:`aggregate` keeps each seed's value
#: (``<col>_seeds``) for the interval of the ratio (:func:`harness.report.stats.ratio_interval`).
RATIOS = ("ess_per_s", "ess_per_grad", "time_to_result_s", "us_per_grad", "compile_s")
#: Figures pooled over seeds by :func:`aggregate`: every derived figure (:mod:`harness.derived`) and these.
POOLED = schema.names("derived") + ["compile_s", "sample_s", "wall_s", "min_ess_bulk", "floor_us_per_grad",
                                    "roofline_us_per_grad", "overhead_ratio", "acc_z_mean", "peak_rss_mb"]


def first_column(df: pd.DataFrame, candidates) -> str | None:
    """Name of the first candidate column present with at least one value, else None."""
    for name in candidates:
        if name in df and df[name].notna().any():
            return name
    return None


def _bool(series: pd.Series) -> pd.Series:
    """Booleans from JSON values (True/False/None/'true'); missing stays NA."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return pd.NA
        if isinstance(v, str):
            return v.strip().lower() in ("true", "1", "yes")
        return bool(v)
    return series.map(one).astype("boolean")


def load(run_dir) -> pd.DataFrame:
    """The rows of a run directory, normalised (see module docstring); UsageError if none."""
    path = Path(run_dir)
    if not store.rows_path(path).is_file():
        raise UsageError(f"no run directory with {store.ROWS_FILE} at {run_dir!s}")
    df = store.load(path)
    if df.empty:
        raise UsageError(f"run directory {run_dir!s} has no rows")
    named = df["model"].map(_is_name) & df["method"].map(_is_name)
    if not named.all():  # a foreign or damaged row: the report cannot place it
        if not named.any():
            raise UsageError(f"run directory {run_dir!s}: no row names its model and method "
                             f"({len(df)} row(s) without); not rows of `harness run`?")
        warnings.warn(f"{store.rows_path(path)}: skipped {int((~named).sum())} row(s) without a model and "
                      f"method name (of {len(df)})", store.UnreadableRows, stacklevel=2)
        df = df[named].reset_index(drop=True)
    return normalise(df, path)


def _is_name(value) -> bool:
    return isinstance(value, str) and bool(value)


def normalise(df: pd.DataFrame, run_dir: Path | None = None) -> pd.DataFrame:
    """Add the derived columns; keep every original one."""
    df = df.copy()
    for col in NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df else np.nan
    for col in CONFIG:
        if col not in df:
            df[col] = None
    df["options"] = df["options"].map(lambda o: o if isinstance(o, str) or o is None else json.dumps(o, sort_keys=True))
    df["status"] = df["status"].fillna("error") if "status" in df else "ok"
    for col, attr in (("family", "family"), ("library", "library"), ("subsamples", "subsamples")):
        df[col] = _method_facts(df, col, attr)
    df["family"] = np.where(df["family"].isin(["mcmc", "vi"]), df["family"], "mcmc")
    df["library"] = df["library"].fillna("").astype(str)
    df["subsamples"] = _bool(df["subsamples"]).fillna(False).astype(bool)

    zmean, zsd, bias2 = first_column(df, ACCURACY_MEAN), first_column(df, ACCURACY_SD), first_column(df, BIAS2)
    df["acc_z_mean"] = pd.to_numeric(df[zmean], errors="coerce") if zmean else np.nan
    df["acc_z_sd"] = pd.to_numeric(df[zsd], errors="coerce") if zsd else np.nan
    df["acc_bias2"] = pd.to_numeric(df[bias2], errors="coerce") if bias2 else np.nan
    df["has_reference"] = _has_reference(df)  # before the verdict's None (no reference) becomes False
    df["inaccurate"] = _inaccurate(df)
    df["converged"] = _converged(df)
    df["reached_target"] = _bool(df["reached_target"]) if "reached_target" in df else pd.NA

    df = df.copy()  # one block again: the columns added one by one above fragment the frame (pandas warns)
    vi = df["family"].eq("vi")
    # written before checks were counted: a stored time to result without them (x_diagnostic_s, no diagnostic_s)
    uncounted = df["diagnostic_s"].isna() & (pd.to_numeric(df["x_diagnostic_s"], errors="coerce").notna()
                                             if "x_diagnostic_s" in df else False)
    for col, values in derived.figures(df).items():  # what a row stored (the same function wrote it) stays
        stored = pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, index=df.index)
        if col == "time_to_result_s":
            stored = stored.mask(uncounted)
        df[col] = stored.where(stored.notna(), values)
        if col in derived.ESS_BASED:
            df[col] = df[col].mask(vi)  # never an ESS figure for VI, whatever an older row stored
    df["ttr_lo_s"], df["ttr_hi_s"] = _time_to_result_band(df)
    df["ess_lo"], df["ess_hi"] = _ess_per_s_band(df)
    point = df["no_ess_reason"].notna() & df["no_ess_reason"].astype(str).ne("") if "no_ess_reason" in df else False
    df["point_estimate"] = point | (df["family"].eq("vi") & ~np.isfinite(df["min_ess_bulk"]))
    df["machine"] = machines(df)
    df["flag"] = [flag(r) for r in df.to_dict("records")]
    df["usable"] = df["flag"].eq("")
    if run_dir is not None:
        df["draws_file"] = [_draws_file(r, run_dir) for r in df.to_dict("records")]
    return df


HOST = ["cpu", "cpu_count", "hostname", "jax", "jaxlib"]


def machines(df: pd.DataFrame) -> list[str]:
    """Each row's machine fingerprint (:func:`harness.environment.machine_of`). A row written before the
    ``accelerator`` column names no accelerator: it takes the GPU device kinds that the rows of this run
    on the same host (CPU, cores, hostname, JAX) ran on, so that a GPU host's CPU and GPU cells share one
    machine, as they do in newer rows."""
    rows = df.to_dict("records")
    host = [tuple(str(r.get(c)) for c in HOST) for r in rows]
    gpus: dict = {}
    for h, r in zip(host, rows):
        kind = r.get("device_kind")
        if isinstance(kind, str) and kind and kind.lower() != "cpu":
            gpus.setdefault(h, []).append(kind)
    out = []
    for h, r in zip(host, rows):
        if not isinstance(r.get("accelerator"), str) and h in gpus:
            r = {**r, "accelerator": ", ".join(sorted(set(gpus[h])))}
        out.append(environment.machine_of(r))
    return out


def provenance(df: pd.DataFrame) -> dict:
    """What a report or comparison names at its top: the machines, commits and the measured dates of ``df``'s rows."""
    def distinct(col):
        return [str(v) for v in dict.fromkeys(df[col].dropna()) if str(v)] if col in df else []

    stamps = sorted(distinct("timestamp"))
    return {"machines": sorted(set(machines(df))) if "machine" not in df else sorted(set(df["machine"].dropna())),
            "commits": distinct("git_commit"), "dates": (stamps[0], stamps[-1]) if stamps else None}


def provenance_line(p: dict) -> str:
    """One line: 'machine(s): ...; commit(s): ...; measured FROM to TO'."""
    m, c = p["machines"], p["commits"]
    dates = f"measured {p['dates'][0]} to {p['dates'][1]}" if p["dates"] else "measured: no timestamp"
    return (f"machine{'s' if len(m) != 1 else ''}: {'; '.join(m) or 'not recorded'}. "
            f"commit{'s' if len(c) != 1 else ''}: {', '.join(c) or 'not recorded'}. {dates}.")


def select_machine(df: pd.DataFrame, name: str | None) -> pd.DataFrame:
    """The rows of one machine: ``name`` (the whole fingerprint, its #hash or any part naming one machine);
    without it, every row if they share one machine, else UsageError naming them (figures from two machines
    never share a table, ratio or fit)."""
    found = sorted(set(df["machine"]))
    if name is None:
        if len(found) > 1:
            raise UsageError(f"rows from {len(found)} machines: {' / '.join(found)}; give --machine NAME "
                             "(its #hash or any part naming one) to report one at a time")
        return df
    hit = [m for m in found if name == m or name.lstrip("#") in m]
    if len(hit) != 1:
        raise UsageError(f"--machine {name!r} names {len(hit)} of the rows' machines; valid: {' / '.join(found)}")
    return df[df["machine"] == hit[0]]


def _method_facts(df: pd.DataFrame, col: str, attr: str) -> pd.Series:
    """A column the rows carry from the method registry (harness.cell.base_row); where a row lacks it
    (written before the column existed), the registry's value for its method, if the method is known."""
    have = df[col] if col in df else pd.Series(None, index=df.index, dtype=object)
    missing = have.isna()
    if not missing.any():
        return have
    from harness import methods

    def known(name):
        try:
            return getattr(methods.get(str(name)), attr)
        except UsageError:
            return None

    return have.where(~missing, df["method"].map(known))


def _time_to_result_band(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Low and high ends of a row's time to result: sampling's measured replay spread
    (``sample_s_min`` / ``sample_s_max``), compile +-25 % and init + warmup +-10 %
    (timed once per process: :data:`harness.report.stats.COMPILE_NOISE`, ``UNREPLAYED_NOISE``), and
    the convergence checks' seconds +-10 % likewise (``time_to_result_s`` less the rest);
    a loop without a measured spread takes +-10 % too."""
    u, c = stats.UNREPLAYED_NOISE, stats.COMPILE_NOISE
    checks = (df["time_to_result_s"] - df["ttfd_s"] - df["sample_s"]).clip(lower=0).fillna(0.0)
    rest = df["init_s"].fillna(0.0) + df["warmup_s"] + checks
    s_lo = df["sample_s_min"].where(df["sample_s_min"] < df["sample_s"], df["sample_s"] * (1 - u))
    s_hi = df["sample_s_max"].where(df["sample_s_max"] > df["sample_s"], df["sample_s"] * (1 + u))
    return (df["compile_s"] * (1 - c) + rest * (1 - u) + s_lo, df["compile_s"] * (1 + c) + rest * (1 + u) + s_hi)


def _ess_per_s_band(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Low and high ends of a row's ESS/s: it moves inversely with the sampling seconds, whose measured
    replay spread bounds it; a loop without a measured spread takes +-10 % (``UNREPLAYED_NOISE``)."""
    u = stats.UNREPLAYED_NOISE
    hi_s = df["sample_s_max"].where(df["sample_s_max"] > df["sample_s"], df["sample_s"] * (1 + u))
    lo_s = df["sample_s_min"].where(df["sample_s_min"] < df["sample_s"], df["sample_s"] * (1 - u))
    return df["ess_per_s"] * df["sample_s"] / hi_s, df["ess_per_s"] * df["sample_s"] / lo_s


def _inaccurate(df: pd.DataFrame) -> pd.Series:
    """True where the row's draws miss the reference: its verdict, else max |z| > INACCURATE_Z.

    False where unknown: such a row has no reference (``has_reference`` False) and
    :func:`flag` marks it NO REFERENCE, so it is never taken for an accurate one.
    """
    if first_column(df, ("inaccurate",)):
        bad = _bool(df["inaccurate"])
    elif col := first_column(df, ("accurate", "accuracy_ok")):
        bad = ~_bool(df[col])
    else:
        bad = pd.Series(pd.NA, index=df.index, dtype="boolean")
    z = df[["acc_z_mean", "acc_z_sd"]].max(axis=1)
    guess = bad.isna() & z.notna()
    if guess.any():
        from harness.metrics import INACCURATE_Z  # imports ArviZ: only for rows without a verdict

        bad = bad.mask(guess, z > INACCURATE_Z)
    return bad.fillna(False).astype(bool)


def _has_reference(df: pd.DataFrame) -> pd.Series:
    """Whether the row was scored against a reference: a verdict or a max |z|. A ``reference`` source
    alone is not enough: a reference that shares no coordinate with the draws scores nothing
    (:func:`harness.metrics.accuracy`: NaN figures, verdict None), and such a row is NO REFERENCE."""
    verdict = pd.Series(False, index=df.index)
    for col in ("inaccurate", "accurate", "accuracy_ok"):
        if col in df:
            verdict |= _bool(df[col]).notna().to_numpy(bool)
    return pd.Series(verdict | df["acc_z_mean"].notna() | df["acc_z_sd"].notna(), index=df.index, dtype=bool)


def _converged(df: pd.DataFrame) -> pd.Series:
    """``converged`` (VI: the optimiser's rule), else ``x_opt_converged`` for VI rows; NA where neither says."""
    conv = _bool(df["converged"]) if "converged" in df else pd.Series(pd.NA, index=df.index, dtype="boolean")
    if "x_opt_converged" in df:
        opt = _bool(df["x_opt_converged"])
        conv = conv.mask(conv.isna() & df["family"].eq("vi"), opt)
    return conv


def flag(r) -> str:
    """Why a normalised row (a mapping, see :func:`normalise`) may not be ranked, '' when it may.

    Failure status first (ERROR, TIMEOUT, ...); then POINT ESTIMATE (no ESS:
    nothing to rank it by); NO REFERENCE, MCMC and VI alike (no reference, no
    accuracy check: such a row is never ranked among the rows checked against a
    reference); then NOT CONVERGED (``converged`` False, or an MCMC row without
    a finite R-hat), INACCURATE, TARGET NOT REACHED (a run to a target that
    stopped at its cap, :mod:`harness.methods.to_target`), and DIVERGENT n (n > 0
    divergent transitions while sampling, after warmup: the draws may be biased where
    the sampler could not follow the posterior, so the cell is never called trustworthy).
    """
    if r["status"] != "ok":
        return str(r["status"]).upper()
    if r["point_estimate"]:
        return "POINT ESTIMATE"
    reasons = []
    if not r["has_reference"]:
        reasons.append("NO REFERENCE")
    conv = r["converged"]
    known = conv is not pd.NA and conv is not None
    if (known and not bool(conv)) or (not known and r["family"] == "mcmc" and not np.isfinite(r["max_rhat"])):
        reasons.append("NOT CONVERGED")
    if r["inaccurate"]:
        reasons.append("INACCURATE")
    reached = r.get("reached_target")
    if reached is not None and reached is not pd.NA and not bool(reached):
        reasons.append("TARGET NOT REACHED")
    div = r.get("divergences")
    if div is not None and np.isfinite(div) and div > 0:
        reasons.append(f"DIVERGENT {int(div)}")
    return ", ".join(reasons)


def _draws_file(row: dict, run_dir: Path) -> str | None:
    """The row's saved InferenceData: ``draws_path`` (absolute or relative to the run dir), if it exists."""
    value = row.get("draws_path")
    if not isinstance(value, str) or not value:
        return None
    path = Path(value)
    for candidate in (path, run_dir / path, run_dir / "draws" / path.name):
        if candidate.is_file():
            return str(candidate)
    return None


def config_columns(df: pd.DataFrame) -> list[str]:
    """Configuration columns that carry a value in these rows."""
    return [c for c in CONFIG if c in df and df[c].notna().any()]


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (seeds pooled).

    Per figure (``POOLED``): median over the seeds' usable-or-flagged ok rows, with min and
    max (``<col>_med``, ``<col>_min``, ``<col>_max``) and, for ``RATIOS``, every seed's value (``<col>_seeds``); worst-case R-hat, max |z|
    and divergences; ``floor_batch`` (the batch its gradient floor was measured
    at); ``time_to_result_lo`` / ``_hi`` and ``ess_per_s_lo`` / ``_hi`` (the bands of
    :func:`_time_to_result_band` and :func:`_ess_per_s_band` over every seed); ``chains_run`` (the chains the method ran, which an ensemble method sets
    itself); ``seeds`` (rows), ``seeds_ok``; the worst flag of any seed (DIVERGENT with the worst seed's count).
    Rows with a failure status count toward ``seeds`` only.
    """
    keys = config_columns(df)
    out = []
    for key, g in df.groupby(keys, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        rec = {**dict.fromkeys(CONFIG), **dict(zip(keys, key))}
        ok = g[g["status"] == "ok"]
        rec.update(family=g["family"].iloc[0], library=g["library"].iloc[0], subsamples=bool(g["subsamples"].any()),
                   seeds=len(g), seeds_ok=len(ok))
        for col in POOLED:
            v = ok[col].dropna() if col in ok else pd.Series(dtype=float)
            if col in RATIOS:
                rec[f"{col}_seeds"] = tuple(float(x) for x in v)
            rec[f"{col}_med"] = float(v.median()) if len(v) else np.nan
            rec[f"{col}_min"] = float(v.min()) if len(v) else np.nan
            rec[f"{col}_max"] = float(v.max()) if len(v) else np.nan
        rec["ess_per_s_lo"] = float(ok["ess_lo"].min()) if ok["ess_lo"].notna().any() else np.nan
        rec["ess_per_s_hi"] = float(ok["ess_hi"].max()) if ok["ess_hi"].notna().any() else np.nan
        rec["time_to_result_lo"] = float(ok["ttr_lo_s"].min()) if ok["ttr_lo_s"].notna().any() else np.nan
        rec["time_to_result_hi"] = float(ok["ttr_hi_s"].max()) if ok["ttr_hi_s"].notna().any() else np.nan
        runs = ok["chains_run"].dropna()  # an ensemble method runs its own count (ChEES), not num_chains
        rec["chains_run"] = int(runs.max()) if len(runs) else np.nan
        batches = ok["floor_batch"].dropna()
        rec["floor_batch"] = float(batches.median()) if len(batches) else np.nan
        rec["max_rhat"] = float(ok["max_rhat"].max()) if ok["max_rhat"].notna().any() else np.nan
        rec["divergences"] = float(ok["divergences"].max()) if ok["divergences"].notna().any() else np.nan
        rec["acc_z_mean"] = float(ok["acc_z_mean"].max()) if ok["acc_z_mean"].notna().any() else np.nan
        rec["acc_z_sd"] = float(ok["acc_z_sd"].max()) if ok["acc_z_sd"].notna().any() else np.nan
        flags = [f for f in g["flag"] if f]
        if np.isfinite(rec["divergences"]):  # one count per cell, the worst seed's: 'DIVERGENT 52 (2/3 seeds)'
            flags = [re.sub(r"DIVERGENT \d+", f"DIVERGENT {int(rec['divergences'])}", f) for f in flags]
        rec["flag"] = _worst(flags, len(g))
        rec["usable"] = rec["flag"] == ""
        out.append(rec)
    return pd.DataFrame(out)


def _worst(flags: list[str], total: int) -> str:
    """One flag for a cell: every distinct reason, with 'k/n seeds' when only some seeds have it."""
    if not flags:
        return ""
    parts = []
    for f in dict.fromkeys(flags):
        k = flags.count(f)
        parts.append(f if k == total else f"{f} ({k}/{total} seeds)")
    return "; ".join(parts)
