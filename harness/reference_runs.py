"""Computing a reference posterior the Inference Gym way (``harness reference``).

:func:`compute` runs many long chains of two independent NUTS implementations (NumPyro's and
BlackJAX's, other seeds), takes per-coordinate mean and sd over all their draws and se_mean =
sd / sqrt(ESS of the mean), and refuses (raises :class:`ReferenceFailed`) when either run has a
divergence, any coordinate has R-hat >= ``max_rhat`` or bulk or tail ESS < ``min_ess``, or the two
runs' means differ by more than their Monte Carlo error allows: a reference that is not
converged, or that only one sampler under test vouches for, is worse than none.
:func:`write` stores it where :func:`harness.targets.reference.lookup` finds it.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from harness import environment
from harness.targets.reference import REFERENCE_DATA_SEED


class ReferenceFailed(RuntimeError):
    """A computed reference failed its convergence checks and was not written.

    ``doc`` is the document as it would have been written, plus its ``failures``: each run's
    diagnostics and the agreement, so that an hour of sampling says where it failed."""

    def __init__(self, message: str, doc: dict | None = None):
        super().__init__(message)
        self.doc = doc


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
        varying = m["sd"] != 0  # a constant (e.g. deterministic) coordinate has no ESS; a NaN one is judged
        if np.any(varying):  # np.min / np.max keep a NaN (Python's min / max would drop it: max(0.0, nan) is 0.0)
            worst["min_ess_bulk"] = float(np.min([worst["min_ess_bulk"], *m["ess_bulk"][varying]]))
            worst["min_ess_tail"] = float(np.min([worst["min_ess_tail"], *m["ess_tail"][varying]]))
            worst["max_rhat"] = float(np.max([worst["max_rhat"], *m["rhat"][varying]]))
    failures = []
    if np.isnan(worst["max_rhat"]):
        failures.append("R-hat is NaN (it needs at least 2 chains of finite draws)")
    elif not worst["max_rhat"] < max_rhat:
        failures.append(f"max R-hat {worst['max_rhat']:.4f} >= {max_rhat}")
    if not worst["min_ess_bulk"] >= min_ess:
        failures.append(f"min bulk ESS {worst['min_ess_bulk']:.0f} < {min_ess:g}")
    if not worst["min_ess_tail"] >= min_ess:
        failures.append(f"min tail ESS {worst['min_ess_tail']:.0f} < {min_ess:g}")
    return sites, worst, failures


#: The two samplers a reference needs (registry names) and the option of each that sets NUTS's
#: target acceptance: independent implementations (NumPyro's and BlackJAX's NUTS and adaptation),
#: run from different seeds and so different initial points.
SAMPLERS = (("numpyro_nuts", "target_accept_prob"), ("blackjax_nuts", "target_accept"))
#: Largest |difference of the two runs' means| / their joint Monte Carlo error a coordinate may show.
AGREE_Z = 4.0


def _run(post, method_name: str, accept_option: str, *, num_chains, num_warmup, num_samples,
         seed, target_accept_prob, dense_mass) -> tuple[dict, int, float]:
    """One sampler's draws of every site (latent and deterministic) on ``post``, its divergences and seconds."""
    import jax

    from harness import methods

    method = methods.get(method_name)
    options = {accept_option: target_accept_prob}
    if dense_mass and "dense_mass" in method.defaults:
        options["dense_mass"] = True
    config = methods.RunConfig(num_chains, num_warmup, num_samples, method.resolve_options(options))
    if method.check:
        method.check(post.target, config)
    t0 = time.perf_counter()
    result = method.run(post, config, jax.random.key(seed))
    runtime = time.perf_counter() - t0
    draws = post.layout.every_site(result.draws)  # deterministic sites through the model
    return {k: np.asarray(v) for k, v in draws.items()}, int(result.divergences), runtime


def _run_held(cpu, target_name: str, dataset: str, n, method_name: str, accept_option: str, **kwargs):
    """:func:`_run` in a process of its own, held to core ``cpu`` (set before JAX starts)."""
    os.sched_setaffinity(0, {cpu})
    from harness import targets
    from harness.targets.base import Posterior

    post = Posterior(targets.get(target_name), dataset, n, REFERENCE_DATA_SEED)
    return _run(post, method_name, accept_option, **kwargs)


def _run_all(post, kwargs: list[dict], parallel: bool) -> list[tuple[dict, int, float]]:
    """Each sampler's :func:`_run` (``kwargs[i]`` for :data:`SAMPLERS` [i]): one after another in this
    process, or with ``parallel`` each in a fresh process of its own held to its own core (the first
    two usable cores; one shared where this process may use only one), so that the two long runs take
    the time of one."""
    if not parallel:
        return [_run(post, m, a, **kw) for (m, a), kw in zip(SAMPLERS, kwargs)]
    cpus = environment.usable_cpus()
    with ProcessPoolExecutor(len(SAMPLERS), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_run_held, cpus[i % len(cpus)], post.target.name, post.dataset, post.n, m, a, **kw)
                   for i, ((m, a), kw) in enumerate(zip(SAMPLERS, kwargs))]
        return [f.result() for f in futures]


def agreement(a: dict, b: dict) -> dict:
    """How far two runs' summaries (``summarize``'s sites) are apart, coordinate by coordinate.

    z_mean = |mean_a - mean_b| / sqrt(se_a^2 + se_b^2), with se = sd / sqrt(ESS of the mean): two
    correct samplers differ by their Monte Carlo error alone, so |z_mean| above ``AGREE_Z`` (4: about
    one coordinate in 16,000 for Gaussian errors) says one of them is wrong. z_sd compares the sds
    the same way with se(sd) ~ sd / sqrt(2 ESS) (exact for Gaussian draws; recorded, not a gate).
    """
    worst = {"max_z_mean": 0.0, "max_z_sd": 0.0, "worst_mean": None}
    for name in sorted(set(a) & set(b)):
        ma, mb = np.asarray(a[name]["mean"]), np.asarray(b[name]["mean"])
        sa, sb = np.asarray(a[name]["sd"]), np.asarray(b[name]["sd"])
        ea, eb = np.asarray(a[name]["se_mean"]), np.asarray(b[name]["se_mean"])
        va, vb = np.asarray(a[name]["ess_bulk"]), np.asarray(b[name]["ess_bulk"])
        varying = (sa > 0) & (sb > 0)
        if not np.any(varying):
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            z_mean = np.abs(ma - mb)[varying] / np.hypot(ea, eb)[varying]
            z_sd = np.abs(sa - sb)[varying] / np.hypot(sa / np.sqrt(2 * va), sb / np.sqrt(2 * vb))[varying]
        i = int(np.argmax(z_mean))
        if z_mean[i] > worst["max_z_mean"]:
            worst.update(max_z_mean=float(z_mean[i]), worst_mean=f"{name}[{int(np.flatnonzero(varying)[i])}]")
        worst["max_z_sd"] = max(worst["max_z_sd"], float(np.max(z_sd)))
    return worst


#: Fewest chains per sampler: R-hat compares chains, and with one it is NaN, a gate that cannot judge.
MIN_CHAINS = 2


def check_settings(num_chains: int, min_ess: float, max_rhat: float, target_accept_prob: float) -> None:
    """Raise ValueError unless the gates can refuse a bad reference: at least :data:`MIN_CHAINS`
    chains, a finite ``min_ess`` > 0, a finite ``max_rhat`` > 1 and a target acceptance in (0, 1)."""
    if not num_chains >= MIN_CHAINS:
        raise ValueError(f"a reference needs at least {MIN_CHAINS} chains per sampler (R-hat compares chains), "
                         f"got {num_chains}")
    for name, value, ok, valid in (("min_ess", min_ess, lambda v: v > 0, "a finite number > 0"),
                                   ("max_rhat", max_rhat, lambda v: v > 1, "a finite number > 1"),
                                   ("target_accept", target_accept_prob, lambda v: 0 < v < 1, "a number in (0, 1)")):
        if not (np.isfinite(value) and ok(value)):
            raise ValueError(f"{name} must be {valid}, got {value!r}")


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
    parallel: bool = False,
) -> dict:
    """Run two independent NUTS samplers (:data:`SAMPLERS`) and return the reference document
    (JSON-ready), or raise ReferenceFailed.

    Each run must pass on its own (no divergence; R-hat < ``max_rhat``, bulk and tail ESS >=
    ``min_ess`` on every coordinate), and the two must agree: every coordinate's means within
    ``AGREE_Z`` joint Monte Carlo errors (:func:`agreement`). The stored moments pool both runs'
    chains; the document records each run (sampler, seed, chains, diagnostics, seconds) and the
    agreement. Every latent and deterministic site is summarised (flattened constrained
    coordinates). A reference written by one sampler would score that sampler against itself.
    ``parallel`` runs the two samplers at once, each in its own process on its own core (a
    registered target only: the processes look it up by name); the draws are the same programs'.
    """
    from harness.targets.base import Posterior

    check_settings(num_chains, min_ess, max_rhat, target_accept_prob)
    post = Posterior(target, dataset, n, REFERENCE_DATA_SEED)  # one data set, both samplers
    runs, draws, failures = [], [], []
    t0 = time.perf_counter()
    kwargs = [dict(num_chains=num_chains, num_warmup=num_warmup, num_samples=num_samples, seed=seed + i,
                   target_accept_prob=target_accept_prob, dense_mass=dense_mass) for i in range(len(SAMPLERS))]
    for i, ((method, _), (x, divergences, runtime)) in enumerate(zip(SAMPLERS, _run_all(post, kwargs, parallel))):
        sites, checks, failed = summarize(x, min_ess, max_rhat)
        checks["divergences"] = divergences
        if divergences:
            failed.append(f"{divergences} divergences")
        failures += [f"{method}: {f}" for f in failed]
        runs.append({"method": method, "seed": seed + i, "num_chains": num_chains, "checks": checks,
                     "runtime_s": round(runtime, 1), "sites": sites})
        draws.append(x)
    agree = agreement(runs[0]["sites"], runs[1]["sites"])
    agree["threshold"] = AGREE_Z
    if not agree["max_z_mean"] <= AGREE_Z:
        failures.append(f"the two samplers disagree: {agree['worst_mean']} means {agree['max_z_mean']:.1f} "
                        f"Monte Carlo errors apart (at most {AGREE_Z:g})")
    pooled = {k: np.concatenate([d[k] for d in draws], axis=0) for k in draws[0] if all(k in d for d in draws)}
    sites, checks, _ = summarize(pooled, min_ess, max_rhat)
    checks["divergences"] = sum(r["checks"]["divergences"] for r in runs)
    for r in runs:
        del r["sites"]  # the pooled moments are the reference; each run keeps its diagnostics
    env = environment.capture()  # versions, CPU, device, git commit, as a row carries them
    doc = {
        "target": target.name, "dataset": dataset, "n": post.n, "data_seed": REFERENCE_DATA_SEED,
        "method": " + ".join(m for m, _ in SAMPLERS) + ", pooled" + (" (numpyro: dense mass)" if dense_mass else ""),
        "num_chains": num_chains * len(SAMPLERS), "num_warmup": num_warmup, "num_samples": num_samples,
        "seed": seed, "target_accept_prob": target_accept_prob, "checks": checks,
        "thresholds": {"min_ess": min_ess, "max_rhat": max_rhat, "agree_z": AGREE_Z},
        "samplers": runs, "agreement": agree,
        "runtime_s": round(time.perf_counter() - t0, 1), "command": command,
        "environment": env, "date": env["timestamp"],
        "sites": sites,
    }
    if failures:
        raise ReferenceFailed(
            f"reference for {target.name}/{dataset}/{post.n} not written: {'; '.join(failures)}; "
            f"run longer (--samples, --chains) or raise --target-accept",
            {**doc, "failures": failures},
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
