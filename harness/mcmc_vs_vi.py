"""MCMC or VI for my model at my size? (``harness mcmc-vs-vi``)

Given a NumPyro model file, a data file and sizes, for each size N:

1. the data are the **first N rows** of the data file (axis 0 of every array,
   :mod:`harness.targets.data_file`): nested sizes, no seed;
2. a reference posterior is computed the way ``harness reference`` does
   (:func:`harness.reference_runs.compute`: NumPyro NUTS and BlackJAX NUTS from other seeds, each
   free of divergences with R-hat and ESS passed, agreeing within their Monte Carlo error) and
   cached by model hash, data hash and N (:func:`harness.targets.user.cache_path`), written to a
   temporary file and renamed, so the cache never holds half a reference; a cached one is reused;
3. the methods (default NumPyro NUTS run to a target ESS, SVI AutoNormal and AutoMVN) run as
   ordinary cells (:func:`harness.runner.run_cells`, each in a fresh process) whose rows are scored
   against that reference (the cells' processes find it through
   :data:`harness.targets.user.REFERENCE_CACHE_ENV`; the rows' ``reference`` says "computed: ...");
4. a recommendation per size is read from the rows (:func:`recommend`, thresholds
   :data:`MEAN_TOL` and :data:`SD_TOL`) and written as the first section of ``report.md``, before
   the reference costs, the rows' figures and the run's full report (:func:`harness.report.build`);
5. a posterior predictive check of each method's draws against the data (:func:`lppd`, from the
   cells' saved draws: the mean log pointwise predictive density of the observed sites) goes in the
   report's table of rows (the stored rows are left as the cells wrote them).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness import UsageError, report, runner, store
from harness.cell import Cell, validate

DEFAULT_METHODS = ("numpyro_nuts", "svi_autonormal", "svi_automvn")
DEFAULT_TARGET_ESS = 400.0
#: A guide "suffices" at a size when, on every coordinate of the reference, its mean is within
#: MEAN_TOL reference sds of the reference mean (``z_mean_max``) and its sd within SD_TOL of the
#: reference sd, relatively (``z_sd_max``), in every seed.
MEAN_TOL = 0.1
SD_TOL = 0.1


@dataclass(frozen=True)
class ReferenceSettings:
    """How each size's reference is computed (:func:`harness.reference_runs.compute`'s arguments);
    the defaults are ``harness reference``'s but the seed: the reference's samplers take seeds 1000 and
    1001, never a cell's (``--seeds K`` gives 0..K-1), so no NUTS cell is scored against its own chains.
    The cache key is (model, data, N), not these settings: delete a cached file to compute it again."""

    chains: int = 8
    warmup: int = 2000
    samples: int = 5000
    seed: int = 1000
    target_accept: float = 0.9
    min_ess: float = 1000.0
    max_rhat: float = 1.01


@dataclass
class SizeReference:
    """A size's reference: where it is cached, its document (None when it failed), whether it was
    already cached, what computing it cost (seconds, the document's ``runtime_s``) and why it failed."""

    n: int
    path: Path
    doc: dict | None
    cached: bool
    failure: str = ""

    @property
    def seconds(self) -> float | None:
        return None if self.doc is None else self.doc.get("runtime_s")


@dataclass
class Plan:
    """The checked input: the user target, its one dataset, the sizes."""

    target: object
    dataset: str
    sizes: list[int]
    rows_in_file: int
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))


def parse_sizes(text: str) -> list[int]:
    """``"1000,10000"`` -> [1000, 10000] (UsageError for anything but positive integers)."""
    sizes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            n = int(float(part)) if "e" in part.lower() else int(part)
        except ValueError:
            raise UsageError(f"--sizes: {part!r} is not an integer; give sizes like 1000,10000") from None
        if n < 1:
            raise UsageError(f"--sizes: size {part} is not a positive integer (1 to the data's rows)")
        sizes.append(n)
    if not sizes:
        raise UsageError("--sizes: give at least one size, e.g. 1000,10000")
    return list(dict.fromkeys(sizes))


def plan(model_file, data_path, sizes: list[int], methods: list[str] | None = None) -> Plan:
    """Read and check everything before anything runs (UsageError): the data file, every size within
    its rows, the model on the data's keys at each size, the method names."""
    from harness import methods as registry
    from harness.targets import data_file, user

    if not Path(data_path).expanduser().is_file():  # before the model is imported: the cheaper check first
        data_file.read(data_path)
    target = user.load(user.spec(model_file, data_path))
    (dataset,) = target.datasets
    total = data_file.rows(target.make_data(dataset, None))
    for n in sizes:
        if n > total:
            raise UsageError(f"--sizes: size {n} is above the {total} rows of {data_path} "
                             f"(sizes take {data_file.RULE})")
    for n in sizes:
        user.check(target, dataset, n)
    names = list(methods or DEFAULT_METHODS)
    for m in names:
        registry.get(m)  # UsageError naming the valid ones
    return Plan(target, dataset, list(sizes), total, names)


def reference(p: Plan, n: int, cache_dir, settings: ReferenceSettings, command: str = "") -> SizeReference:
    """The size's reference: the cached one, or computed now and cached (never half-written: the
    file is written whole under a temporary name, then renamed); a failed computation caches nothing."""
    from harness import reference_runs
    from harness.targets import user

    path = user.cache_path(cache_dir, p.target.name, n)
    if path.is_file():
        return SizeReference(n, path, json.loads(path.read_text()), cached=True)
    try:
        doc = reference_runs.compute(
            p.target, p.dataset, n, num_chains=settings.chains, num_warmup=settings.warmup,
            num_samples=settings.samples, seed=settings.seed, target_accept_prob=settings.target_accept,
            min_ess=settings.min_ess, max_rhat=settings.max_rhat, command=command,
        )
    except reference_runs.ReferenceFailed as e:
        return SizeReference(n, path, None, cached=False, failure=str(e))
    model_sha, data_sha = user.digests(p.target.name)
    doc["source"] = (f"computed: {doc['method']}, {doc['num_chains']} chains x {doc['num_samples']} draws, "
                     f"{doc['runtime_s']} s (model sha256 {model_sha[:12]}, data sha256 {data_sha[:12]}, N = {n})")
    reference_runs.write(doc, path, overwrite=True)
    return SizeReference(n, path, doc, cached=False)


def cells(p: Plan, *, seeds: list[int], chains: int, warmup: int, samples: int, target_ess: float,
          options: dict | None = None, cpus: int | None = 1) -> list:
    """One validated cell per (size, method, seed): MCMC methods that can run to a target ESS run to
    ``target_ess`` in chunks of ``samples`` draws; the others (VI: ``samples`` draws from the fitted
    guide) keep a fixed budget."""
    from harness import methods as registry

    out = []
    for n in p.sizes:
        for name in p.methods:
            to_target = registry.get(name).runs_to_target and registry.get(name).family == "mcmc"
            for seed in seeds:
                out.append(validate(Cell(
                    model=p.target.name, dataset=p.dataset, n=n, method=name,
                    options=dict((options or {}).get(name, {})), num_chains=chains, num_warmup=warmup,
                    num_samples=samples, seed=seed, target_ess=target_ess if to_target else None, cpus=cpus)))
    return out


@contextlib.contextmanager
def reference_cache(cache_dir):
    """The cells' processes (which inherit this environment) find the computed references in ``cache_dir``."""
    from harness.targets import user

    old = os.environ.get(user.REFERENCE_CACHE_ENV)
    os.environ[user.REFERENCE_CACHE_ENV] = str(Path(cache_dir).resolve())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(user.REFERENCE_CACHE_ENV, None)
        else:
            os.environ[user.REFERENCE_CACHE_ENV] = old


# --- the recommendation ------------------------------------------------------------------------

_NAMES = {"svi_autonormal": "AutoNormal", "svi_automvn": "AutoMVN", "svi_autolowrank": "AutoLowRank",
          "svi_autolaplace": "AutoLaplace", "svi_autodelta": "AutoDelta", "numpyro_nuts": "NUTS",
          "blackjax_nuts": "BlackJAX NUTS"}


def _name(method: str) -> str:
    return _NAMES.get(method, method)


def _fmt_n(n: int) -> str:
    return f"{n:,}"


def _summary(rows: pd.DataFrame) -> dict:
    """One method at one size over its seeds: worst accuracy, median / range of time to result."""
    import pandas as pd

    ok = rows[rows["status"] == "ok"]
    t = pd.to_numeric(ok["time_to_result_s"], errors="coerce").dropna()
    zm = pd.to_numeric(ok["z_mean_max"], errors="coerce")
    zs = pd.to_numeric(ok["z_sd_max"], errors="coerce")
    scored = len(ok) > 0 and zm.notna().all() and zs.notna().all()
    ess = pd.to_numeric(ok["min_ess_bulk"], errors="coerce") if "min_ess_bulk" in ok else pd.Series(dtype=float)
    return {
        "runs": len(rows), "ok": len(ok), "scored": bool(scored),
        "z_mean": float(zm.max()) if scored else float("nan"),
        "z_sd": float(zs.max()) if scored else float("nan"),
        # Monte Carlo error of a z_mean, in posterior sds: 1 / sqrt(ESS) of the worst-mixing seed (VI: iid draws)
        "mc": float(1 / np.sqrt(ess.min())) if len(ess) and ess.notna().all() and ess.min() > 0 else float("nan"),
        "t": float(t.median()) if len(t) else float("nan"),
        "t_min": float(t.min()) if len(t) else float("nan"), "t_max": float(t.max()) if len(t) else float("nan"),
        "reached": (bool(ok["reached_target"].fillna(False).astype(bool).all())
                    if "reached_target" in ok and len(ok) else None),
        "fit_converged": bool(ok["converged"].fillna(False).astype(bool).all()) if "converged" in ok and len(ok) else None,
        "failed": "; ".join(sorted(set(rows.loc[rows["status"] != "ok", "status"].astype(str)))),
    }


def _accurate(s: dict) -> bool:
    return s["scored"] and s["z_mean"] <= MEAN_TOL and s["z_sd"] <= SD_TOL


def _z(value: float, mc: float) -> str:
    """A z figure with its Monte Carlo error when known: ``0.050 ± 0.022``."""
    return f"{value:.3f}" + (f" ± {mc:.2g}" if np.isfinite(mc) else "")


def _speedup(base: dict, s: dict) -> str:
    """``12x`` (one seed each) or ``12x [9, 15]``: the ratio of median times, and the range of the ratio
    over the seeds (slowest base / fastest method .. fastest base / slowest method)."""
    ratio = base["t"] / s["t"]
    text = f"{ratio:.3g}x"
    if base["runs"] > 1 or s["runs"] > 1:
        text += f" [{base['t_min'] / s['t_max']:.3g}, {base['t_max'] / s['t_min']:.3g}]"
    return text


def recommend(rows: pd.DataFrame, n: int, ref: SizeReference | None, target_ess: float,
              baseline: str = "numpyro_nuts") -> str:
    """The recommendation at size ``n`` from its rows, one line with its figures and thresholds."""
    head = f"N = {_fmt_n(n)}:"
    if ref is None or ref.doc is None:
        why = ref.failure if ref is not None else "none computed"
        return f"{head} no reference ({why}): accuracy unknown, use NUTS"
    at = rows[rows["n"] == n]
    by = {m: _summary(g) for m, g in at.groupby("method", sort=False)}
    base = by.get(baseline)
    vi = {m: s for m, s in by.items() if m != baseline and (at.loc[at["method"] == m, "family"] == "vi").any()}
    if not vi:
        return f"{head} no VI method ran"
    from harness.metrics import INACCURATE_Z

    # NUTS is trusted where it reached its target and its rows are not flagged inaccurate (metrics.INACCURATE_Z)
    nuts_ok = (base is not None and base["ok"] > 0 and base["reached"] is not False and base["scored"]
               and max(base["z_mean"], base["z_sd"]) <= INACCURATE_Z)
    nuts = "" if base is None else (f"{_name(baseline)} to ESS {target_ess:g} in {base['t']:.3g} s" if base["ok"]
                                    else f"{_name(baseline)} failed ({base['failed']})")
    good = {m: s for m, s in vi.items() if _accurate(s)}
    if good:
        m, s = min(good.items(), key=lambda kv: kv[1]["t"])
        fig = (f"{_name(m)} is within {MEAN_TOL:g} posterior sd of the reference on every coordinate "
               f"(z_mean_max {_z(s['z_mean'], s['mc'])}), sd within {SD_TOL:.0%} (z_sd_max {s['z_sd']:.3f}), "
               f"reaching it in {s['t']:.3g} s")
        if base is None or not base["ok"] or not np.isfinite(base["t"]):
            return f"{head} {fig}; {nuts or 'no NUTS row'}: VI suffices for means and sds"
        if s["t"] < base["t"]:
            return f"{head} {fig}, {_speedup(base, s)} faster than {nuts}: VI suffices for means and sds"
        return f"{head} {fig}, but {nuts} is as fast ({_speedup(base, s)}): use NUTS"
    scored = {m: s for m, s in vi.items() if s["scored"]}
    if not scored:
        why = "; ".join(f"{_name(m)}: {s['failed'] or 'no figures'}" for m, s in vi.items())
        return f"{head} no VI row was scored ({why}): use NUTS"
    m, s = min(scored.items(), key=lambda kv: max(kv[1]["z_mean"] / MEAN_TOL, kv[1]["z_sd"] / SD_TOL))
    miss = (f"{_name(m)} (the closest guide) misses by {s['z_mean']:.2g} posterior sd in a mean "
            f"and {s['z_sd']:.0%} in an sd (thresholds {MEAN_TOL:g} sd, {SD_TOL:.0%})")
    if s["fit_converged"] is False:  # the optimiser stopped at its cap: the miss may be the fit's, not the guide's
        miss += f", its fit short of its stopping rule (raise --option {m}.max_steps)"
    verdict = "use NUTS" if nuts_ok or base is None else \
        "use NUTS, run longer: it did not reach its target or the reference"
    if base is None or not base["ok"]:
        return f"{head} {miss}: {verdict}"
    return f"{head} {miss}: {verdict} ({nuts}, z_mean_max {_z(base['z_mean'], base['mc'])})"


# --- the posterior predictive check ---------------------------------------------------------------

#: Draws (evenly thinned over chains and draws) the predictive check uses per row.
PREDICTIVE_DRAWS = 500


def lppd(model, data: dict, draws: dict, max_draws: int = PREDICTIVE_DRAWS) -> float:
    """Mean log pointwise predictive density of the observed sites over the draws (in sample):

        (1 / N) sum_i log( (1 / S) sum_s p(y_i | theta_s) ),

    summed over the model's observed sites, i over the data rows, s over at most ``max_draws`` draws
    (thinned evenly). The same draws-vs-data statistic for every method: a guide whose draws predict the
    data worse than NUTS's shows a lower figure. ``draws``: {site: (chain, draw, *shape)}, constrained."""
    from jax.scipy.special import logsumexp
    from numpyro.infer.util import log_likelihood

    flat = {k: np.asarray(v).reshape((-1,) + np.shape(v)[2:]) for k, v in draws.items()}
    total = next(iter(flat.values())).shape[0]
    keep = np.unique(np.linspace(0, total - 1, min(total, max_draws)).astype(int))
    ll = log_likelihood(model, {k: v[keep] for k, v in flat.items()}, **data)
    out = 0.0
    for site in ll.values():
        site = np.asarray(site, dtype=np.float64).reshape(len(keep), -1)
        out += float(np.mean(logsumexp(site, axis=0) - np.log(len(keep))))
    return out


def predictive(p: Plan, rows, out_dir) -> list[float]:
    """:func:`lppd` of each ok row with saved draws (NaN for the others), in row order."""
    from harness import draws  # ArviZ (a second at import): only when draws are read

    out = []
    for _, r in rows.iterrows():
        path = r.get("draws_path")
        if r["status"] != "ok" or not isinstance(path, str):
            out.append(float("nan"))
            continue
        posterior = draws.load(Path(out_dir) / path).posterior
        sites = {k: posterior[k].values for k in posterior.data_vars}
        out.append(lppd(p.target.model, p.target.make_data(p.dataset, int(r["n"])), sites))
    return out


# --- the report --------------------------------------------------------------------------------

def _rows_table(rows: pd.DataFrame) -> str:
    cols = ["n", "method", "seed", "status", "time_to_result_s", "min_ess_bulk", "z_mean_max", "z_sd_max", "reference"]
    if "lppd_mean" in rows:
        cols.insert(-1, "lppd_mean")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in rows.sort_values(["n", "method", "seed"]).iterrows():
        cells = []
        for c in cols:
            v = r.get(c)
            cells.append("" if v is None or (isinstance(v, float) and not np.isfinite(v)) else
                         f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(out_dir, lines: list[str], refs: dict[int, SizeReference], rows: pd.DataFrame,
                 p: Plan, full_report: str | None) -> Path:
    """``OUT/report.md``: the recommendation first, then how it was decided, the references, the rows."""
    from harness.targets import data_file

    text = ["# MCMC or VI?", "", "## Recommendation per size", ""]
    text += [f"- {line}" for line in lines]
    text += ["", f"A guide suffices when, in every seed, every coordinate's mean is within {MEAN_TOL:g} reference "
             f"posterior sd of the reference mean (`z_mean_max`) and its sd within {SD_TOL:.0%} of the reference sd "
             f"(`z_sd_max`); times are time to result (compile + warmup + sampling or fit + convergence checks), "
             f"medians over seeds, ranges in brackets over seeds; ± is the Monte Carlo error of a z_mean, "
             f"1 / sqrt(min bulk ESS) of the worst-mixing seed (a guide's draws are independent).", "",
             "Predictive check: `lppd_mean` in the rows below is the mean log pointwise predictive density of "
             f"the observed sites over the method's draws (at most {PREDICTIVE_DRAWS}, in sample: "
             "(1/N) sum_i log mean_s p(y_i | theta_s)); a guide far below NUTS predicts its own data worse.", "",
             "## Data and references", "",
             f"Model `{p.target.source}`. Size N takes {data_file.RULE} ({p.rows_in_file} rows in the file).", ""]
    for n, r in refs.items():
        if r.doc is None:
            text.append(f"- N = {_fmt_n(n)}: reference FAILED: {r.failure}")
        else:
            c = r.doc["checks"]
            se = max((np.max(np.asarray(s["se_mean"]) / np.where(np.asarray(s["sd"]) > 0, s["sd"], np.inf))
                      for s in r.doc["sites"].values()), default=float("nan"))
            text.append(f"- N = {_fmt_n(n)}: {'cached, computed earlier in' if r.cached else 'computed in'} "
                        f"{r.seconds} s ({r.doc['method']}; min bulk ESS {c['min_ess_bulk']:.0f}, max R-hat "
                        f"{c['max_rhat']:.4f}, {c['divergences']} divergences; its own Monte Carlo error at most "
                        f"{se:.3f} sd in a mean) -> `{r.path}`")
    text += ["", "## Rows", "", _rows_table(rows), ""]
    if full_report:
        text += [f"The run's full report: `{full_report}`.", ""]
    path = Path(out_dir) / "report.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(text))
    tmp.replace(path)
    return path


def run(model_file, data_path, sizes: list[int], out_dir, *, methods: list[str] | None = None,
        seeds: list[int] = (0,), chains: int = 4, warmup: int = 500, samples: int = 500,
        target_ess: float = DEFAULT_TARGET_ESS, options: dict | None = None, cache_dir=None,
        ref: ReferenceSettings = ReferenceSettings(), timeout_s: float = 1800.0, recheck: bool = True,
        full_report: bool = True, command: str = "", say=print) -> tuple[list[str], Path]:
    """The whole command: check, reference per size, cells, recommendation and report.

    Returns the recommendation lines and the path of ``report.md``. ``say`` prints progress lines."""
    p = plan(model_file, data_path, sizes, methods)
    todo = cells(p, seeds=list(seeds), chains=chains, warmup=warmup, samples=samples, target_ess=target_ess,
                 options=options)
    out_dir = Path(out_dir)
    cache_dir = Path(cache_dir) if cache_dir else out_dir / "references"
    refs = {}
    for n in p.sizes:
        t0 = time.perf_counter()
        refs[n] = r = reference(p, n, cache_dir, ref, command)
        if r.doc is None:
            say(f"harness: N = {_fmt_n(n)}: reference failed after {time.perf_counter() - t0:.1f} s: {r.failure}")
        else:
            say(f"harness: N = {_fmt_n(n)}: reference {'cached' if r.cached else 'computed'} "
                f"({r.seconds} s to compute) -> {r.path}")
    with reference_cache(cache_dir):
        runner.run_cells(todo, out_dir, command=command, timeout_s=timeout_s, recheck=recheck, save_draws=True)
    rows = store.load(out_dir)
    rows = rows[(rows["model"] == p.target.name) & rows["cell_key"].isin({c.key() for c in todo})].copy()
    rows["lppd_mean"] = predictive(p, rows, out_dir)
    from harness import methods as registry

    baseline = next((m for m in p.methods if registry.get(m).family == "mcmc"), "numpyro_nuts")
    lines = [recommend(rows, n, refs[n], target_ess, baseline) for n in p.sizes]
    full = None
    if full_report:
        full = str(report.build(out_dir, out_dir / "report").with_suffix(".md"))
    path = write_report(out_dir, lines, refs, rows, p, full)
    return lines, path
