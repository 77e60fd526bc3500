"""A cell's draws as ArviZ InferenceData on disk (``harness run --save-draws``).

Beside harness.metrics, the only module that imports ArviZ. Each saved cell
is one netCDF file under ``RUN_DIR/draws/``, named in the row's
``draws_path`` (relative to the run directory): group ``posterior`` holds the
constrained draws by site, shaped (chain, draw, ...); group ``sample_stats``
holds the per-draw sampler statistics an adapter returned in
``RunResult.extra`` as arrays shaped (chain, draw); the file's attributes hold
the cell's key and status. Open one with ``harness.draws.load(path)`` or
``arviz.from_netcdf(path)``.
"""

from __future__ import annotations

import warnings

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az


def save(path, draws: dict, sample_stats: dict | None = None, attrs: dict | None = None) -> None:
    """Write draws {site: (chain, draw, ...)} and per-draw stats {name: (chain, draw)} as netCDF."""
    posterior = {k: np.asarray(v) for k, v in draws.items()}
    chains, n_draws = next(iter(posterior.values())).shape[:2]
    stats = {k: np.asarray(v) for k, v in (sample_stats or {}).items()
             if np.ndim(v) >= 2 and np.shape(v)[:2] == (chains, n_draws)}
    idata = az.from_dict(posterior=posterior, sample_stats=stats or None, attrs=attrs or {})
    idata.to_netcdf(str(path))


def load(path):
    """The InferenceData of a saved cell."""
    return az.from_netcdf(str(path))
