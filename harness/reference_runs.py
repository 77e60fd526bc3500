"""Computing a reference posterior the Inference Gym way (``harness reference``).

:func:`compute` runs many long NumPyro NUTS chains, takes per-coordinate mean and sd
over all draws and se_mean = sd / sqrt(ESS of the mean), and refuses (raises
:class:`ReferenceFailed`) when any coordinate has R-hat >= ``max_rhat`` or bulk or
tail ESS < ``min_ess``: a reference that is not converged is worse than none.
:func:`write` stores it where :func:`harness.targets.reference.lookup` finds it.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from harness.targets.reference import REFERENCE_DATA_SEED


class ReferenceFailed(RuntimeError):
    """A computed reference failed its convergence checks and was not written."""


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("harness", "jax", "jaxlib", "numpyro", "numpy", "arviz"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def summarize(draws: dict, min_ess: float, max_rhat: float) -> tuple[dict, dict, list[str]]:
    """Per-site moments of draws {site: (chain, draw, *shape)}, the worst diagnostics, and what failed.

    Returns (sites, checks, failures): sites[name] holds shape, mean, sd, se_mean = sd / sqrt(ESS
    of the mean), bulk ESS and R-hat per coordinate; checks the min bulk and tail ESS and max
    R-hat over every non-constant coordinate; failures one line per failed check (empty: pass).
    """
    from harness import metrics

    sites, worst = {}, {"min_ess_bulk": np.inf, "min_ess_tail": np.inf, "max_rhat": 0.0}
    for name, x in draws.items():
        x = np.asarray(x)
        m = metrics.moments(x.reshape(x.shape[0], x.shape[1], -1))
        sites[name] = {"shape": list(x.shape[2:]), "mean": m["mean"].tolist(), "sd": m["sd"].tolist(),
                       "se_mean": (m["sd"] / np.sqrt(m["ess_mean"])).tolist(),
                       "ess_bulk": m["ess_bulk"].tolist(), "rhat": m["rhat"].tolist()}
        varying = m["sd"] > 0  # a constant (e.g. deterministic) coordinate has no ESS
        if np.any(varying):
            worst["min_ess_bulk"] = min(worst["min_ess_bulk"], float(np.min(m["ess_bulk"][varying])))
            worst["min_ess_tail"] = min(worst["min_ess_tail"], float(np.min(m["ess_tail"][varying])))
            worst["max_rhat"] = max(worst["max_rhat"], float(np.max(m["rhat"][varying])))
    failures = []
    if not worst["max_rhat"] < max_rhat:
        failures.append(f"max R-hat {worst['max_rhat']:.4f} >= {max_rhat}")
    if not worst["min_ess_bulk"] >= min_ess:
        failures.append(f"min bulk ESS {worst['min_ess_bulk']:.0f} < {min_ess:g}")
    if not worst["min_ess_tail"] >= min_ess:
        failures.append(f"min tail ESS {worst['min_ess_tail']:.0f} < {min_ess:g}")
    return sites, worst, failures


def compute(
    target,
    dataset: str,
    n: int | None,
    *,
    num_chains: int = 8,
    num_warmup: int = 2000,
    num_samples: int = 5000,
    seed: int = 0,
    target_accept_prob: float = 0.9,
    dense_mass: bool = False,
    min_ess: float = 1000.0,
    max_rhat: float = 1.01,
    command: str = "",
) -> dict:
    """Run NUTS and return the reference document (JSON-ready), or raise ReferenceFailed.

    Every latent site and every deterministic site of the model is summarised over
    all chains and draws (flattened constrained coordinates).
    """
    import jax
    from numpyro.infer import MCMC, NUTS

    from harness.targets.base import Posterior

    post = Posterior(target, dataset, n, REFERENCE_DATA_SEED)
    kernel = NUTS(target.model, target_accept_prob=target_accept_prob, dense_mass=dense_mass)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method="vectorized", progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(jax.random.key(seed), extra_fields=("diverging",), **post.data)
    draws = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    runtime = time.perf_counter() - t0
    divergences = int(np.sum(mcmc.get_extra_fields()["diverging"]))

    sites, checks, failures = summarize(draws, min_ess, max_rhat)
    checks["divergences"] = divergences
    doc = {
        "target": target.name, "dataset": dataset, "n": post.n, "data_seed": REFERENCE_DATA_SEED,
        "method": "numpyro NUTS, diagonal mass" if not dense_mass else "numpyro NUTS, dense mass",
        "num_chains": num_chains, "num_warmup": num_warmup, "num_samples": num_samples, "seed": seed,
        "target_accept_prob": target_accept_prob, "checks": checks,
        "thresholds": {"min_ess": min_ess, "max_rhat": max_rhat},
        "runtime_s": round(runtime, 1), "command": command, "versions": _versions(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "sites": sites,
    }
    if failures:
        raise ReferenceFailed(
            f"reference for {target.name}/{dataset}/{post.n} not written: {'; '.join(failures)} "
            f"({divergences} divergences); run longer (--samples, --chains) or raise --target-accept"
        )
    return doc


def write(doc: dict, path, overwrite: bool = False) -> Path:
    """Write a reference document; never replaces an existing file unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)
    return path
