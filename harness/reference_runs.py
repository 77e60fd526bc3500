"""Computing a reference posterior the Inference Gym way (``harness reference``).

:func:`compute` runs many long chains of two independent NUTS implementations (NumPyro's and
BlackJAX's, other seeds), takes per-coordinate mean and sd over all their draws and se_mean =
sd / sqrt(ESS of the mean), and refuses (raises :class:`ReferenceFailed`) when either run has a
divergence, any coordinate has R-hat >= ``max_rhat`` or bulk or tail ESS < ``min_ess``, or the two
runs' means or sds differ by more than their Monte Carlo error allows (:func:`disagreements`): a
reference that is not converged, or that only one sampler under test vouches for, is worse than
none. Each sampler's own moments are stored beside the pooled ones, so that the agreement can be
checked again later (:func:`audit`). :func:`write` stores it where
:func:`harness.targets.reference.lookup` finds it.
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
    of the mean), se_sd (the sd's Monte Carlo standard error, :func:`harness.metrics.moments`'
    ``mcse_sd``), bulk ESS and R-hat per coordinate; checks the min bulk and tail ESS and max
    R-hat over every non-constant coordinate; failures one line per failed check (empty: pass).
    """
    from harness import metrics

    sites, worst = {}, {"min_ess_bulk": np.inf, "min_ess_tail": np.inf, "max_rhat": 0.0}
    for name, x in draws.items():
        x = np.asarray(x)
        m = metrics.moments(x.reshape(x.shape[0], x.shape[1], -1))
        sites[name] = {"shape": list(x.shape[2:]), "mean": m["mean"].tolist(), "sd": m["sd"].tolist(),
                       "se_mean": (m["sd"] / np.sqrt(m["ess_mean"])).tolist(), "se_sd": m["mcse_sd"].tolist(),
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
#: The same for the two runs' sds (the default of ``harness reference --agree-sd-z``): the means' limit.
AGREE_SD_Z = AGREE_Z


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

    z_mean = |mean_a - mean_b| / sqrt(se_mean_a^2 + se_mean_b^2), with se_mean = sd / sqrt(ESS of
    the mean), and z_sd = |sd_a - sd_b| / sqrt(se_sd_a^2 + se_sd_b^2), with se_sd ArviZ's Monte
    Carlo error of the sd (it counts the draws' kurtosis; sd / sqrt(2 ESS), which files written
    before it record as ``max_z_sd``, holds for Gaussian draws only and is too small for skewed
    ones such as a scale's). Two correct samplers differ by their Monte Carlo error alone, so a z
    above 4 (about one coordinate in 16,000 for Gaussian errors) says one of them is wrong: see
    :func:`disagreements`. Returns the largest of each and where (``worst_mean``, ``worst_sd``:
    ``site[i]``); a z that is undefined (a NaN moment or error) counts as infinite, so that it fails.
    """
    worst = {"max_z_mean": 0.0, "worst_mean": None, "max_z_sd": 0.0, "worst_sd": None}
    for name in sorted(set(a) & set(b)):
        site = lambda run, key: np.asarray(run[name][key], dtype=float)  # noqa: E731
        # a coordinate constant at one value in both runs (e.g. a fixed deterministic) has nothing to compare
        varying = ~((site(a, "sd") == 0) & (site(b, "sd") == 0) & (site(a, "mean") == site(b, "mean")))
        if not np.any(varying):
            continue
        for z_key, err in (("mean", "se_mean"), ("sd", "se_sd")):
            with np.errstate(divide="ignore", invalid="ignore"):
                z = (np.abs(site(a, z_key) - site(b, z_key)) / np.hypot(site(a, err), site(b, err)))[varying]
            z = np.where(np.isnan(z), np.inf, z)  # undefined: judged as the worst, never dropped
            i = int(np.argmax(z))
            if z[i] > worst[f"max_z_{z_key}"] or worst[f"worst_{z_key}"] is None:
                worst.update({f"max_z_{z_key}": float(z[i]),
                              f"worst_{z_key}": f"{name}[{int(np.flatnonzero(varying)[i])}]"})
    return worst


def disagreements(agree: dict, agree_z: float = AGREE_Z, agree_sd_z: float = AGREE_SD_Z) -> list[str]:
    """The agreement gate, one line per failed rule (empty: the two samplers agree).

    The rule: on every coordinate the two samplers' means lie within ``agree_z`` and their sds
    within ``agree_sd_z`` joint Monte Carlo errors of each other (``agree`` from :func:`agreement`:
    |sd_a - sd_b| / sqrt(se_sd_a^2 + se_sd_b^2) <= ``agree_sd_z``, 4 by default, the means' limit).
    The sd is the spread a row is scored against (its ``z_sd``), so it is the spread gated; the
    seed targets' posteriors have light (Gamma, Gaussian) tails, where the sd and its error exist.
    """
    failures = []
    for key, what, limit in (("mean", "means", agree_z), ("sd", "sds", agree_sd_z)):
        z = agree[f"max_z_{key}"]
        if not z <= limit:
            failures.append(f"the two samplers disagree: {agree[f'worst_{key}']} {what} {z:.1f} "
                            f"Monte Carlo errors apart (at most {limit:g})")
    return failures


#: Fewest chains per sampler: R-hat compares chains, and with one it is NaN, a gate that cannot judge.
MIN_CHAINS = 2


def check_settings(num_chains: int, min_ess: float, max_rhat: float, target_accept_prob: float,
                   agree_sd_z: float = AGREE_SD_Z) -> None:
    """Raise ValueError unless the gates can refuse a bad reference: at least :data:`MIN_CHAINS`
    chains, a finite ``min_ess`` > 0, a finite ``max_rhat`` > 1, a target acceptance in (0, 1) and
    a finite ``agree_sd_z`` > 0."""
    if not num_chains >= MIN_CHAINS:
        raise ValueError(f"a reference needs at least {MIN_CHAINS} chains per sampler (R-hat compares chains), "
                         f"got {num_chains}")
    for name, value, ok, valid in (("min_ess", min_ess, lambda v: v > 0, "a finite number > 0"),
                                   ("max_rhat", max_rhat, lambda v: v > 1, "a finite number > 1"),
                                   ("target_accept", target_accept_prob, lambda v: 0 < v < 1, "a number in (0, 1)"),
                                   ("agree_sd_z", agree_sd_z, lambda v: v > 0, "a finite number > 0")):
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
    agree_sd_z: float = AGREE_SD_Z,
    command: str = "",
    parallel: bool = False,
) -> dict:
    """Run two independent NUTS samplers (:data:`SAMPLERS`) and return the reference document
    (JSON-ready), or raise ReferenceFailed.

    Each run must pass on its own (no divergence; R-hat < ``max_rhat``, bulk and tail ESS >=
    ``min_ess`` on every coordinate), and the two must agree: every coordinate's means within
    ``AGREE_Z`` and sds within ``agree_sd_z`` joint Monte Carlo errors (:func:`disagreements`). The
    stored moments pool both runs' chains; the document records each run (sampler, seed, chains,
    diagnostics, seconds and its own moments, ``samplers[i]["sites"]``, in the pooled ones' format)
    and the agreement. Every latent and deterministic site is summarised (flattened constrained
    coordinates). A reference written by one sampler would score that sampler against itself.
    ``parallel`` runs the two samplers at once, each in its own process on its own core (a
    registered target only: the processes look it up by name); the draws are the same programs'.
    """
    from harness.targets.base import Posterior

    check_settings(num_chains, min_ess, max_rhat, target_accept_prob, agree_sd_z)
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
    agree.update(threshold=AGREE_Z, sd_threshold=agree_sd_z)
    failures += disagreements(agree, AGREE_Z, agree_sd_z)
    pooled = {k: np.concatenate([d[k] for d in draws], axis=0) for k in draws[0] if all(k in d for d in draws)}
    sites, checks, _ = summarize(pooled, min_ess, max_rhat)
    checks["divergences"] = sum(r["checks"]["divergences"] for r in runs)
    env = environment.capture()  # versions, CPU, device, git commit, as a row carries them
    doc = {
        "target": target.name, "dataset": dataset, "n": post.n, "data_seed": REFERENCE_DATA_SEED,
        "method": " + ".join(m for m, _ in SAMPLERS) + ", pooled" + (" (numpyro: dense mass)" if dense_mass else ""),
        "num_chains": num_chains * len(SAMPLERS), "num_warmup": num_warmup, "num_samples": num_samples,
        "seed": seed, "target_accept_prob": target_accept_prob, "checks": checks,
        "thresholds": {"min_ess": min_ess, "max_rhat": max_rhat, "agree_z": AGREE_Z, "agree_sd_z": agree_sd_z},
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


def shipped_files(target: str | None = None) -> list[Path]:
    """The reference files ``harness reference`` wrote into the package (``<target>/<dataset>.json``;
    posteriordb's figures, one folder deeper, and refusals' ``.failed.json`` are not references
    of this command), of one target or all."""
    from harness.targets.reference import package_dir

    return sorted(p for p in package_dir().glob(f"{target or '*'}/*.json") if not p.name.endswith(".failed.json"))


def audit(doc: dict, agree_sd_z: float = AGREE_SD_Z) -> tuple[str, str]:
    """Check a stored reference document against today's agreement gate (:func:`disagreements`).

    Returns (verdict, what): "pass" or "fail" with the figures, recomputed from the two samplers'
    own moments (``samplers[i]["sites"]``); "no evidence" for a file written before they were
    kept, with the sds' disagreement the file recorded where it has one (``agreement.max_z_sd``,
    in units of sd / sqrt(2 ESS), the Gaussian error, which is too small for skewed draws: a
    recorded figure is no verdict of today's gate), since only a recomputation can say.
    """
    runs = doc.get("samplers") or []
    if len(runs) == len(SAMPLERS) and all("sites" in r for r in runs):
        agree = agreement(runs[0]["sites"], runs[1]["sites"])
        failures = disagreements(agree, AGREE_Z, agree_sd_z)
        if failures:
            return "fail", "; ".join(failures)
        return "pass", (f"sds at most {agree['max_z_sd']:.1f} joint Monte Carlo errors apart ({agree['worst_sd']}; "
                        f"limit {agree_sd_z:g}), means {agree['max_z_mean']:.1f} ({agree['worst_mean']}; "
                        f"limit {AGREE_Z:g})")
    what = "no per-sampler moments: recompute to audit"
    recorded = (doc.get("agreement") or {}).get("max_z_sd")
    if recorded is not None:
        side = "above" if not recorded <= agree_sd_z else "within"
        what += (f"; recorded (agreement.max_z_sd): sds up to {recorded:.1f} joint errors apart with the Gaussian "
                 f"error sd / sqrt(2 ESS), {side} {agree_sd_z:g} (the gate's error is larger for skewed draws)")
    elif not runs:
        what += f"; one sampler ({doc.get('method', '?')}), no agreement recorded"
    return "no evidence", what
