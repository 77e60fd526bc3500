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


def _as_draws(z) -> np.ndarray:
    """Draws as float64 shaped (chain, draw, dim); ValueError for any other shape."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 3:
        raise ValueError(f"expected draws shaped (chain, draw, dim), got shape {z.shape}")
    return z


def summarize(z) -> dict:
    """Efficiency and convergence summary of draws z shaped (chain, draw, dim).

    Returns min bulk ESS, min tail ESS and max R-hat over all coordinates, and
    ``converged`` (R-hat < RHAT_MAX and bulk ESS >= ESS_MIN everywhere). Draws
    with a non-finite value give NaN figures and ``converged = False``.
    """
    z = _as_draws(z)
    if not np.all(np.isfinite(z)):
        nan = float("nan")
        return {"min_ess_bulk": nan, "min_ess_tail": nan, "max_rhat": nan, "converged": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bulk = _per_coordinate(az.ess, z, method="bulk")
        tail = _per_coordinate(az.ess, z, method="tail")
        rh = _per_coordinate(az.rhat, z, method="rank") if z.shape[0] * z.shape[1] >= 8 else np.full(z.shape[-1], np.nan)
    # np.min / np.max, not nan-aware versions: a coordinate whose R-hat is undefined (a chain
    # stuck at one value, too few draws) must not vanish from the summary; it makes the run
    # not converged.
    out = {
        "min_ess_bulk": float(np.min(bulk)),
        "min_ess_tail": float(np.min(tail)),
        "max_rhat": float(np.max(rh)),
    }
    out["converged"] = bool(out["max_rhat"] < RHAT_MAX and out["min_ess_bulk"] >= ESS_MIN)
    return out


def warm_up() -> None:
    """Run :func:`summarize` once on a few fixed draws: ArviZ's first call imports xarray's and its
    converters' modules (0.2-0.5 s), which a cell process does at its start, not in its first check."""
    summarize(np.random.default_rng(0).normal(size=(2, 8, 1)))


def reaches(z, ess: float, max_rhat: float) -> bool:
    """Whether draws z (chain, draw, dim) meet a run-to-target check: bulk ESS >= ``ess``, then tail
    ESS >= ``ess``, then R-hat < ``max_rhat`` on every coordinate, the figures of :func:`summarize`,
    each computed only if the ones before it passed (a check that fails, as all but a run's last do,
    costs one ArviZ pass over the draws instead of three). Non-finite draws never reach."""
    z = _as_draws(z)
    if not np.all(np.isfinite(z)) or z.shape[0] * z.shape[1] < 8:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # `not x >= ess`, not `x < ess`: a NaN figure fails the check
        if not np.min(_per_coordinate(az.ess, z, method="bulk")) >= ess:
            return False
        if not np.min(_per_coordinate(az.ess, z, method="tail")) >= ess:
            return False
        return bool(np.max(_per_coordinate(az.rhat, z, method="rank")) < max_rhat)


def moments(z) -> dict:
    """Per-coordinate figures of draws z shaped (chain, draw, k), as float64 arrays of length k.

    ``mean``, ``sd`` (ddof 1 over all draws), ``ess_mean`` (ESS of the mean
    estimator, for its standard error sd / sqrt(ess_mean)), ``mcse_sd`` (Monte
    Carlo standard error of the sd, ArviZ's ``mcse(method="sd")``: from the ESS
    and the fourth moment of the squared deviations, so it widens for skewed,
    heavy-tailed draws where sd / sqrt(2 ESS), exact for Gaussian draws, is too
    small), ``ess_bulk``, ``ess_tail`` and ``rhat`` (rank-normalised split
    R-hat). Used to compute reference posteriors the Inference Gym way; a
    coordinate that never moves has NaN ``mcse_sd``.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 3:
        raise ValueError(f"expected draws shaped (chain, draw, k), got shape {z.shape}")
    flat = z.reshape(-1, z.shape[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "mean": flat.mean(axis=0),
            "sd": flat.std(axis=0, ddof=1),
            "ess_mean": _per_coordinate(az.ess, z, method="mean"),
            "mcse_sd": _per_coordinate(az.mcse, z, method="sd"),
            "ess_bulk": _per_coordinate(az.ess, z, method="bulk"),
            "ess_tail": _per_coordinate(az.ess, z, method="tail"),
            "rhat": _per_coordinate(az.rhat, z, method="rank"),
        }


#: A row is flagged ``inaccurate`` when its draws miss the reference by more than
#: this many reference sd, in some coordinate's mean or sd (max |z_mean| or max |z_sd|).
#: A correct sampler with bulk ESS >= 400 has Monte Carlo error about 1/sqrt(400) = 0.05 sd
#: in each mean, so 0.3 sd is a real miss, not noise, even as a max over ~100 coordinates.
INACCURATE_Z = 0.3


def lockstep_factor(steps) -> float:
    """What running chains in lockstep costs, from the gradient steps of each transition shaped
    (chain, draw): ``sum_t max_c steps[c, t] / sum_t mean_c steps[c, t]``. Vectorised chains (one
    ``vmap``) take every iteration as long as its longest trajectory (NUTS trees of different depths
    wait for the deepest), so this is the factor by which a vectorised run pays for steps that
    sequential or parallel chains would not; 1 for a fixed trajectory length (HMC) or one chain."""
    steps = np.asarray(steps, dtype=float)
    mean = steps.mean(axis=0).sum()
    return float(steps.max(axis=0).sum() / mean) if mean > 0 else float("nan")


def accuracy(draws, ref_mean, ref_sd) -> dict:
    """Draws against reference moments, per flattened constrained coordinate i.

        z_mean_i = (mean_i - ref_mean_i) / ref_sd_i,   z_sd_i = (sd_i - ref_sd_i) / ref_sd_i,

    with mean and sd over all chains and draws. Returns ``z_mean_max`` = max_i |z_mean_i|,
    ``z_sd_max`` = max_i |z_sd_i|, the Inference Gym bias squared in units of the reference
    variance ``bias2_mean`` = mean_i z_mean_i^2 (and ``bias2_max`` = max_i z_mean_i^2), and
    ``inaccurate`` = (z_mean_max > INACCURATE_Z or z_sd_max > INACCURATE_Z).

    ``draws``: {site: (chain, draw, *shape)}; ``ref_mean``, ``ref_sd``: {site: array of the
    site's shape}. Sites of the reference that the draws lack are skipped, coordinates with
    ref_sd <= 0 too. No reference (None) or no common coordinate: every figure NaN and
    ``inaccurate`` None (empty, never 0); non-finite draws: NaN figures, ``inaccurate`` True.
    """
    empty = {"z_mean_max": float("nan"), "z_sd_max": float("nan"), "bias2_mean": float("nan"),
             "bias2_max": float("nan"), "inaccurate": None}
    if ref_mean is None or ref_sd is None:
        return empty
    zm, zs = [], []
    for name, rm in ref_mean.items():
        if name not in draws:
            continue
        x = np.asarray(draws[name], dtype=np.float64)
        x = x.reshape(x.shape[0] * x.shape[1], -1)
        rm = np.asarray(rm, dtype=np.float64).reshape(-1)
        rs = np.asarray(ref_sd[name], dtype=np.float64).reshape(-1)
        if x.shape[1] != rm.size or rs.size != rm.size:
            raise ValueError(f"site {name!r}: draws have {x.shape[1]} coordinates, the reference {rm.size}")
        ok = rs > 0
        zm.append((x.mean(axis=0)[ok] - rm[ok]) / rs[ok])
        zs.append((x.std(axis=0, ddof=1)[ok] - rs[ok]) / rs[ok])
    if not zm or not sum(a.size for a in zm):
        return empty
    zm, zs = np.concatenate(zm), np.concatenate(zs)
    if not (np.all(np.isfinite(zm)) and np.all(np.isfinite(zs))):
        return {**empty, "inaccurate": True}
    out = {
        "z_mean_max": float(np.max(np.abs(zm))),
        "z_sd_max": float(np.max(np.abs(zs))),
        "bias2_mean": float(np.mean(zm**2)),
        "bias2_max": float(np.max(zm**2)),
    }
    out["inaccurate"] = bool(out["z_mean_max"] > INACCURATE_Z or out["z_sd_max"] > INACCURATE_Z)
    return out
