"""``harness mcmc-vs-vi``: input checks, the cached reference, the recommendation, and one run end to end."""

import json
import pickle
import textwrap

import numpy as np
import pandas as pd
import pytest

from harness import cli, mcmc_vs_vi as mv, reference_runs, store
from harness.targets import user

MODEL = """
import numpyro
import numpyro.distributions as dist

def model(x, y):
    a = numpyro.sample("a", dist.Normal(0.0, 10.0))
    b = numpyro.sample("b", dist.Normal(0.0, 10.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal(a + b * x, sigma), obs=y)
"""


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "lin.py"
    model.write_text(textwrap.dedent(MODEL))
    rng = np.random.default_rng(1)
    x = rng.standard_normal(300)
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=1.0 + 2.0 * x + 0.5 * rng.standard_normal(300))
    return model, data


# --- bad input: one line, exit 2, nothing in the cache ------------------------------------------

def _bad_pickle(d, obj, name="bad.pkl"):
    (d / name).write_bytes(pickle.dumps(obj))
    return d / name


@pytest.mark.parametrize(
    "data,sizes,needle",
    [
        (lambda d, good: d / "missing.npz", "100", "not found"),
        (lambda d, good: _bad_pickle(d, [1.0, 2.0]), "100", "must hold a dict of arrays {name: array}, got list"),
        (lambda d, good: _bad_pickle(d, {"x": np.zeros(300), "y": np.zeros(299)}), "100",
         "arrays differ in length along the data axis (axis 0): x 300, y 299"),
        (lambda d, good: good, "0", "size 0 is not a positive integer"),
        (lambda d, good: good, "100,301", "size 301 is above the 300 rows of"),
        (lambda d, good: good, "ten", "'ten' is not an integer"),
        (lambda d, good: _bad_pickle(d, {"x": np.zeros(300), "z": np.zeros(300)}), "100",
         "model(**data) on the keys of bad.pkl (x, z) failed: TypeError"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_cached(tmp_path, files, capsys, data, sizes, needle):
    model, good = files
    out, cache = tmp_path / "run", tmp_path / "cache"
    argv = ["mcmc-vs-vi", "--model-file", str(model), "--data", str(data(tmp_path, good)), "--sizes", sizes,
            "--out", str(out), "--cache", str(cache)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("harness: error:") and needle in err, err
    assert not out.exists() and not cache.exists()


def test_sizes_parse():
    assert mv.parse_sizes("1000,1e4, 1000") == [1000, 10000]


# --- the reference: computed once, cached whole, never half-written ----------------------------

def test_a_reference_is_cached_with_its_source_and_reused_and_a_failed_one_leaves_nothing(tmp_path, files, monkeypatch):
    """The cache's bookkeeping around :func:`harness.reference_runs.compute` (whose own checks, on real draws, are
    tests/targets/test_reference.py; the same with a real computation here: the slow test below): the settings
    reach it, its document is written whole with its source, and a second call reads the file."""
    model, data = files
    p = mv.plan(model, data, [100])
    cache, calls = tmp_path / "cache", []

    def computed(target, dataset, n, **settings):
        calls.append((target.name, dataset, n, settings))
        if settings["min_ess"] > 1e6:
            raise reference_runs.ReferenceFailed(f"min bulk ESS 212 < {settings['min_ess']:g}")
        return {"method": "numpyro_nuts + blackjax_nuts, pooled", "num_chains": 2 * settings["num_chains"],
                "num_samples": settings["num_samples"], "runtime_s": 3.25, "n": n,
                "sites": {"b": {"mean": [2.0], "sd": [0.05], "se_mean": [0.001]}}}

    monkeypatch.setattr(reference_runs, "compute", computed)
    settings = dict(chains=2, warmup=150, samples=300, max_rhat=1.05)
    failed = mv.reference(p, 100, cache, mv.ReferenceSettings(min_ess=1e9, **settings))
    assert failed.doc is None and failed.failure == "min bulk ESS 212 < 1e+09"
    assert not cache.exists() or not any(cache.rglob("*"))  # nothing, not even a temporary file
    r = mv.reference(p, 100, cache, mv.ReferenceSettings(min_ess=50, **settings))
    name, dataset, n, passed = calls[-1]
    assert (name, n, passed["num_chains"], passed["num_warmup"], passed["num_samples"]) == (p.target.name, 100, 2, 150, 300)
    assert (passed["min_ess"], passed["max_rhat"]) == (50, 1.05) and dataset == p.dataset
    assert r.path == user.cache_path(cache, p.target.name, 100) and r.path.is_file() and not r.cached
    assert [f.name for f in cache.rglob("*") if f.is_file()] == [r.path.name]
    doc = json.loads(r.path.read_text())
    assert doc["source"].startswith("computed: numpyro_nuts + blackjax_nuts, pooled, 4 chains x 300 draws, 3.25 s")
    assert doc["source"].endswith("N = 100)") and r.seconds == 3.25 and r.doc == doc
    again = mv.reference(p, 100, cache, mv.ReferenceSettings(min_ess=50, **settings))
    assert again.cached and again.doc == doc and len(calls) == 2  # read from the file, not computed again


@pytest.mark.slow  # a real computation (two NUTS compiles, 20 s): CI checks the bookkeeping above
def test_a_reference_is_computed_cached_and_reused_and_a_failed_one_leaves_nothing(tmp_path, files, monkeypatch):
    model, data = files
    p = mv.plan(model, data, [100])
    cache = tmp_path / "cache"
    tiny = dict(chains=2, warmup=150, samples=300, max_rhat=1.05)

    def refused(*a, **k):  # what the gate raises on real draws (tests/targets/test_reference.py)
        raise reference_runs.ReferenceFailed("min bulk ESS 212 < 1e9")

    with monkeypatch.context() as m:
        m.setattr(reference_runs, "compute", refused)
        failed = mv.reference(p, 100, cache, mv.ReferenceSettings(min_ess=1e9, **tiny))
    assert failed.doc is None and "min bulk ESS" in failed.failure
    assert not cache.exists() or not any(cache.rglob("*"))  # nothing, not even a temporary file
    r = mv.reference(p, 100, cache, mv.ReferenceSettings(min_ess=50, **tiny))
    assert r.path == user.cache_path(cache, p.target.name, 100) and r.path.is_file() and not r.cached
    assert [f.name for f in cache.rglob("*") if f.is_file()] == [r.path.name]
    doc = json.loads(r.path.read_text())
    assert doc["source"].startswith("computed: numpyro_nuts + blackjax_nuts") and "N = 100" in doc["source"]
    assert r.seconds == doc["runtime_s"] > 0 and doc["n"] == 100 and doc["checks"]["divergences"] == 0
    # the posterior of b is near the data's slope 2 (sd about 0.5 / sqrt(100))
    assert abs(doc["sites"]["b"]["mean"][0] - 2.0) < 0.3 and 0.02 < doc["sites"]["b"]["sd"][0] < 0.1

    def boom(*a, **k):
        raise AssertionError("a cached reference must not be computed again")

    monkeypatch.setattr(reference_runs, "compute", boom)
    again = mv.reference(p, 100, cache, mv.ReferenceSettings(min_ess=50, **tiny))
    assert again.cached and again.doc == doc


# --- the recommendation ------------------------------------------------------------------------

def _row(method, n, t, zm, zs, seed=0, family=None, status="ok", reached=None):
    return {"method": method, "n": n, "seed": seed, "status": status, "time_to_result_s": t, "z_mean_max": zm,
            "z_sd_max": zs, "family": family or ("mcmc" if "nuts" in method else "vi"), "reached_target": reached}


REF = mv.SizeReference(1000, None, {"runtime_s": 12.0}, cached=False)


def test_a_guide_within_the_thresholds_and_faster_suffices():
    rows = pd.DataFrame([_row("numpyro_nuts", 1000, 96.0, 0.02, 0.03, reached=True),
                         _row("svi_automvn", 1000, 8.0, 0.05, 0.08), _row("svi_autonormal", 1000, 4.0, 0.5, 0.4)])
    line = mv.recommend(rows, 1000, REF, 400)
    assert line == ("N = 1,000: AutoMVN is within 0.1 posterior sd of the reference on every coordinate "
                    "(z_mean_max 0.050), sd within 10% (z_sd_max 0.080), reaching it in 8 s, 12x faster than "
                    "NUTS to ESS 400 in 96 s: VI suffices for means and sds")


def test_seeds_give_the_speedup_a_range_and_the_worst_seed_decides_accuracy():
    rows = pd.DataFrame([_row("numpyro_nuts", 1000, t, 0.02, 0.03, seed=s, reached=True) for s, t in enumerate((90, 100))]
                        + [_row("svi_automvn", 1000, t, z, 0.05, seed=s) for s, (t, z) in enumerate(((8, 0.05), (10, 0.09)))])
    assert "(z_mean_max 0.090)" in mv.recommend(rows, 1000, REF, 400)
    assert "10.6x [9, 12.5] faster" in mv.recommend(rows, 1000, REF, 400)
    rows["min_ess_bulk"] = [400.0, 900.0, 2500.0, 1600.0]  # the worst seed's ESS gives the Monte Carlo error
    assert "(z_mean_max 0.090 ± 0.025)" in mv.recommend(rows, 1000, REF, 400)
    rows.loc[3, "z_mean_max"] = 0.2  # one seed misses: the guide does not suffice
    assert mv.recommend(rows, 1000, REF, 400).endswith("use NUTS (NUTS to ESS 400 in 95 s, z_mean_max 0.020 ± 0.05)")


def test_a_guide_that_misses_or_is_slower_means_nuts():
    rows = pd.DataFrame([_row("numpyro_nuts", 1000, 10.0, 0.02, 0.03, reached=True),
                         _row("svi_automvn", 1000, 8.0, 0.8, 0.05), _row("svi_autonormal", 1000, 4.0, 0.9, 0.4)])
    assert mv.recommend(rows, 1000, REF, 400) == (
        "N = 1,000: AutoMVN (the closest guide) misses by 0.8 posterior sd in a mean and 5% in an sd "
        "(thresholds 0.1 sd, 10%): use NUTS (NUTS to ESS 400 in 10 s, z_mean_max 0.020)")
    rows["converged"] = [True, False, True]  # AutoMVN's optimiser stopped at its cap
    assert mv.recommend(rows, 1000, REF, 400).startswith(
        "N = 1,000: AutoMVN (the closest guide) misses by 0.8 posterior sd in a mean and 5% in an sd (thresholds "
        "0.1 sd, 10%), its fit short of its stopping rule (raise --option svi_automvn.max_steps): use NUTS")
    rows.loc[1, "z_mean_max"] = 0.05
    rows.loc[0, "time_to_result_s"] = 6.0
    assert mv.recommend(rows, 1000, REF, 400).endswith("but NUTS to ESS 400 in 6 s is as fast (0.75x): use NUTS")
    rows.loc[0, "reached_target"] = False
    rows.loc[1, "z_mean_max"] = 0.8
    assert "use NUTS, run longer: it did not reach its target or the reference" in mv.recommend(rows, 1000, REF, 400)
    assert mv.recommend(rows[rows["method"] != "numpyro_nuts"], 1000, REF, 400).endswith("max_steps): use NUTS")


def test_no_reference_means_no_verdict_on_accuracy():
    failed = mv.SizeReference(1000, None, None, cached=False, failure="min bulk ESS 80 < 1000")
    assert mv.recommend(pd.DataFrame([_row("svi_automvn", 1000, 8.0, None, None)]), 1000, failed, 400) == \
        "N = 1,000: no reference (min bulk ESS 80 < 1000): accuracy unknown, use NUTS"


# --- the predictive check ----------------------------------------------------------------------

def test_lppd_is_the_mean_log_pointwise_predictive_density(files):
    from scipy.stats import norm

    model, data = files
    p = mv.plan(model, data, [50])
    d = p.target.make_data(p.dataset, 50)
    x, y = d["x"].astype(np.float64), d["y"].astype(np.float64)
    one = {"a": np.full((1, 3), 1.0), "b": np.full((1, 3), 2.0), "sigma": np.full((1, 3), 0.5)}
    assert mv.lppd(p.target.model, d, one) == pytest.approx(np.mean(norm.logpdf(y, 1.0 + 2.0 * x, 0.5)), rel=1e-5)
    two = {"a": np.array([[1.0, 0.0]]), "b": np.array([[2.0, 2.0]]), "sigma": np.array([[0.5, 0.5]])}
    dens = (norm.pdf(y, 1.0 + 2.0 * x, 0.5) + norm.pdf(y, 2.0 * x, 0.5)) / 2
    assert mv.lppd(p.target.model, d, two) == pytest.approx(np.mean(np.log(dens)), rel=1e-5)


# --- end to end --------------------------------------------------------------------------------

def _seed_cache(p, cache, n):
    """A reference for size n in the cache, as a previous run would have left it (a known posterior:
    the rows' accuracy columns then follow from it)."""
    path = user.cache_path(cache, p.target.name, n)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"runtime_s": 21.5, "method": "numpyro_nuts + blackjax_nuts, pooled", "source": f"computed: test, N = {n}",
           "checks": {"min_ess_bulk": 5000.0, "max_rhat": 1.001, "divergences": 0},
           "sites": {"a": {"mean": [1.0], "sd": [0.05], "se_mean": [0.001]},
                     "b": {"mean": [2.0], "sd": [0.05], "se_mean": [0.001]}}}
    path.write_text(json.dumps(doc))
    return doc


def test_a_guide_runs_as_a_cell_scored_against_the_cached_reference(tmp_path, files, capsys):
    """One cell through the normal runner, in its own process: it finds the cached reference of its size."""
    model, data = files
    cache, out = tmp_path / "cache", tmp_path / "run"
    p = mv.plan(model, data, [100])
    _seed_cache(p, cache, 100)
    argv = ["mcmc-vs-vi", "--model-file", str(model), "--data", str(data), "--sizes", "100", "--out", str(out),
            "--cache", str(cache), "--methods", "svi_automvn", "--samples", "200", "--option",
            "svi_automvn.max_steps=2000", "--option", "svi_automvn.learning_rate=0.05", "--no-recheck",
            "--no-full-report"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr()
    assert "N = 100: reference cached (21.5 s to compute)" in printed.err
    rows = store.load(out)
    assert len(rows) == 1 and rows["status"].iloc[0] == "ok", rows.get("error")
    r = rows.iloc[0]
    assert r["reference"] == "computed: test, N = 100" and r["dataset"].startswith("d.npz@")
    # the reference says a = 1.0, b = 2.0 with sd 0.05: the fitted guide is near there, so its z is finite and
    # what the draws give against these moments
    assert np.isfinite(r["z_mean_max"]) and np.isfinite(r["z_sd_max"])
    report = (out / "report.md").read_text()
    first = report.split("## ")[1]
    assert first.startswith("Recommendation per size") and "N = 100:" in first and "N = 100:" in printed.out
    assert "cached, computed earlier in 21.5 s" in report
    header, _, first_row = report.split("## Rows")[1].strip().splitlines()[:3]
    lppd = float(first_row.split("|")[header.split("|").index(" lppd_mean ")])
    assert -1.5 < lppd < 0.0  # residual sd 0.5: E log N(y | a + b x, 0.5) = -0.73 at the true a, b, sigma


@pytest.mark.slow
def test_end_to_end_on_a_model_and_data_the_harness_has_never_seen(tmp_path, files, capsys):
    """The issue's "done when": NUTS and each guide scored against a reference computed here."""
    model, data = files
    out = tmp_path / "run"
    argv = ["mcmc-vs-vi", "--model-file", str(model), "--data", str(data), "--sizes", "100,200", "--out", str(out),
            "--chains", "2", "--warmup", "200", "--samples", "200", "--target-ess", "100",
            "--ref-chains", "2", "--ref-warmup", "200", "--ref-samples", "400", "--ref-min-ess", "100",
            "--ref-max-rhat", "1.05", "--option", "svi_autonormal.max_steps=3000",
            "--option", "svi_automvn.max_steps=3000", "--no-recheck"]
    assert cli.main(argv) == 0
    rows = store.load(out)
    assert len(rows) == 6 and set(rows["status"]) == {"ok"}
    assert rows["reference"].str.startswith("computed: numpyro_nuts + blackjax_nuts").all()
    assert rows[["z_mean_max", "z_sd_max"]].notna().all().all()
    assert (rows.loc[rows["method"] == "numpyro_nuts", "z_mean_max"] < 0.3).all()  # NUTS agrees with the reference
    report = (out / "report.md").read_text()
    assert report.index("N = 100:") < report.index("N = 200:") < report.index("## Data and references")
    assert (out / "report" / "report.md").is_file()
