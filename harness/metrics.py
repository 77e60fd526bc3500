"""Numbers from draws: numpy in, floats out. The only module that imports ArviZ.

Conventions follow Vehtari et al. (2021), "Rank-normalization, folding, and
localization: an improved R-hat": rank-normalised bulk ESS, tail ESS (min of the
5 % and 95 % quantile ESS) and rank-normalised split R-hat. A run counts as
converged when every coordinate has R-hat < 1.01 and bulk ESS >= 400 (the
paper's recommendation for four chains).
"""

from __future__ import annotations

import warnings

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

RHAT_MAX = 1.01
ESS_MIN = 400.0


def _check_2d(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected an array shaped (chain, draw), got shape {x.shape}")
    return x


def ess_bulk(x) -> float:
    """Rank-normalised bulk effective sample size of one scalar, x shaped (chain, draw)."""
    return float(az.ess(_check_2d(x), method="bulk"))


def ess_tail(x) -> float:
    """Tail effective sample size (min over the 5 % and 95 % quantiles), x shaped (chain, draw)."""
    return float(az.ess(_check_2d(x), method="tail"))


def rhat(x) -> float:
    """Rank-normalised split R-hat, x shaped (chain, draw)."""
    return float(az.rhat(_check_2d(x), method="rank"))


def _per_coordinate(fn, z: np.ndarray, **kwargs) -> np.ndarray:
    ds = az.convert_to_dataset({"z": z})
    return np.asarray(fn(ds, **kwargs)["z"].values, dtype=np.float64).reshape(-1)


def summarize(z) -> dict:
    """Efficiency and convergence summary of draws z shaped (chain, draw, dim).

    Returns min bulk ESS, min tail ESS and max R-hat over all coordinates, and
    ``converged`` (R-hat < RHAT_MAX and bulk ESS >= ESS_MIN everywhere). Draws
    with a non-finite value give NaN figures and ``converged = False``.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 3:
        raise ValueError(f"expected draws shaped (chain, draw, dim), got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        nan = float("nan")
        return {"min_ess_bulk": nan, "min_ess_tail": nan, "max_rhat": nan, "converged": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bulk = _per_coordinate(az.ess, z, method="bulk")
        tail = _per_coordinate(az.ess, z, method="tail")
        rh = _per_coordinate(az.rhat, z, method="rank") if z.shape[0] * z.shape[1] >= 8 else np.full(z.shape[-1], np.nan)
    out = {
        "min_ess_bulk": float(np.nanmin(bulk)),
        "min_ess_tail": float(np.nanmin(tail)),
        "max_rhat": float(np.nanmax(rh)) if np.any(np.isfinite(rh)) else float("nan"),
    }
    out["converged"] = bool(out["max_rhat"] < RHAT_MAX and out["min_ess_bulk"] >= ESS_MIN)
    return out
