"""ArviZ trace and rank plots from a cell's saved draws (InferenceData netCDF).

The only module of the report that imports ArviZ, for its plots; R-hat comes
from harness.metrics like every other ESS / R-hat figure. To keep the pictures
readable for targets with many coordinates, only the ``max_coords`` scalar
coordinates with the worst rank R-hat are plotted, each as its own variable ``name[i,j]``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from harness.report.figures import save


def _az():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    return az


def worst_coordinates(posterior, max_coords: int) -> dict:
    """name[idx] -> (chain, draw) array of the coordinates with the largest R-hat (non-finite draws first)."""
    from harness import metrics

    scored = []
    for name, var in posterior.data_vars.items():
        values = np.asarray(var.values, dtype=float)
        if values.ndim < 2 or values.shape[0] * values.shape[1] < 8:
            continue
        flat = values.reshape(values.shape[0], values.shape[1], -1)
        for i in range(flat.shape[-1]):
            x = flat[..., i]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = metrics.rhat(x) if np.all(np.isfinite(x)) else np.inf
            idx = np.unravel_index(i, values.shape[2:]) if values.ndim > 2 else ()
            label = f"{name}[{','.join(map(str, idx))}]" if idx else str(name)
            scored.append((-r if not np.isnan(r) else np.inf, label, x))  # worst first, NaN R-hat last
    scored.sort(key=lambda t: t[0])
    return {label: x for _, label, x in scored[:max_coords]}


def plot(draws_file, out_dir, stem: str, max_coords: int = 4) -> list[Path]:
    """Write ``<stem>_trace.png`` and ``<stem>_rank.png`` under out_dir; returns their paths."""
    az = _az()
    idata = az.from_netcdf(str(draws_file))
    worst = worst_coordinates(idata.posterior, max_coords)
    if not worst:
        return []
    small = az.from_dict(posterior=worst)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind, draw in (("trace", az.plot_trace), ("rank", az.plot_rank)):
            axes = np.atleast_1d(draw(small, show=False))
            path = out_dir / f"{stem}_{kind}.png"
            save(axes.ravel()[0].figure, path)
            paths.append(path)
    return paths
