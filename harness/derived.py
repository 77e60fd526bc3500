"""The derived figures of a row, from its measured ones: one function for every reader.

:func:`figures` is called by the worker when it writes a row, by the asv probe, and by the
report on every row it loads (so rows written before a figure existed get it too). With
``B`` = min bulk ESS, ``T`` = min tail ESS, ``G`` = sampling gradient evaluations (full-data
equivalents for a subsampling method), ``s`` = ``sample_s``:

- ``ess_per_s`` = B / s, ``ess_tail_per_s`` = T / s (the tails: quantiles, intervals), ``ess_per_grad`` = B / G;
  NaN for a VI row (``family`` "vi"): a fitted guide's draws are independent, their ESS measures the
  number of draws taken, not the efficiency of the method;
- ``us_per_grad`` = 1e6 s / G: microseconds per gradient evaluation, all chains' gradients
  counted (comparable with the floor of the same batch shape);
- ``ttfd_s`` = compile + init + warmup seconds (time to the first usable draw), and
  ``time_to_result_s`` = ``ttfd_s`` + s + the convergence checks' seconds of a run to a target
  (``diagnostic_s``; ``x_diagnostic_s`` in rows written before that column; 0 where neither): the
  whole cost of getting a checked result.

A per-gradient figure is undefined (NaN) when G is not positive or when the row says the
gradient count misses work (``no_grad_reason``, e.g. HMCECS's proxy); a per-second one when s
is not positive. Works on one row (a mapping of scalars: floats out) and on a DataFrame
(columns in, arrays out).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from harness import schema


def _num(row, name: str):
    """Column ``name`` as floats (NaN where missing or not a number)."""
    if isinstance(row, pd.DataFrame):
        return pd.to_numeric(row[name], errors="coerce").to_numpy(float) if name in row else np.full(len(row), np.nan)
    v = row.get(name)
    try:
        return np.float64(v) if v is not None else np.float64(np.nan)
    except (TypeError, ValueError):
        return np.float64(np.nan)


def _given(row, name: str):
    """Whether column ``name`` holds a non-empty string (a stated reason)."""
    if isinstance(row, pd.DataFrame):
        if name not in row:
            return np.zeros(len(row), bool)
        return row[name].map(lambda v: isinstance(v, str) and v != "").to_numpy(bool)
    v = row.get(name)
    return isinstance(v, str) and v != ""


def _is_vi(row):
    """Whether the row is a VI method's (``family`` "vi")."""
    if isinstance(row, pd.DataFrame):
        return row["family"].eq("vi").to_numpy(bool) if "family" in row else np.zeros(len(row), bool)
    return row.get("family") == "vi"


#: The ESS-based figures this module derives, undefined for VI (harness.schema declares them).
ESS_BASED = tuple(c for c in schema.ESS_BASED if schema.BY_NAME[c].group == "derived")


def figures(row: Mapping[str, Any] | pd.DataFrame) -> dict:
    """The derived columns (see the module docstring) of one row or of every row of a frame."""
    bulk, tail, sample_s = _num(row, "min_ess_bulk"), _num(row, "min_ess_tail"), _num(row, "sample_s")
    full = _num(row, "grad_evals_full_equiv")
    grads = np.where(np.isfinite(full), full, _num(row, "grad_evals"))
    counted = (grads > 0) & ~_given(row, "no_grad_reason")
    init = _num(row, "init_s")
    ttfd = _num(row, "compile_s") + np.where(np.isfinite(init), init, 0.0) + _num(row, "warmup_s")
    checks = _num(row, "diagnostic_s")
    checks = np.where(np.isfinite(checks), checks, _num(row, "x_diagnostic_s"))
    vi = _is_vi(row)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "ess_per_s": np.where((sample_s > 0) & ~vi, bulk / sample_s, np.nan),
            "ess_tail_per_s": np.where((sample_s > 0) & ~vi, tail / sample_s, np.nan),
            "ess_per_grad": np.where(counted & ~vi, bulk / grads, np.nan),
            "us_per_grad": np.where(counted, 1e6 * sample_s / grads, np.nan),
            "ttfd_s": ttfd,
            "time_to_result_s": ttfd + sample_s + np.where(np.isfinite(checks), checks, 0.0),
            "grads_to_result": np.where(counted, _num(row, "grad_evals_warmup") + grads, np.nan),
        }
    if isinstance(row, pd.DataFrame):
        return out
    return {k: float(v) for k, v in out.items()}
