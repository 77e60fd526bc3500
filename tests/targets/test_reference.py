import json
import re

import numpy as np
import pytest

from harness import targets
from harness.cell import Cell, validate
from harness.worker import run_cell
from harness import environment, reference_runs
from harness.targets import reference
from tests.toys import GAUSS_COV, GAUSS_MEAN, GAUSSIAN_2D


def test_compute_recovers_a_known_posterior_and_round_trips(tmp_path):
    doc = reference_runs.compute(GAUSSIAN_2D, "analytic", None, num_chains=4, num_warmup=300, num_samples=1000,
                            min_ess=1000, command="test")
    path = reference_runs.write(doc, tmp_path / "ref.json")
    ref = reference.from_json(json.loads(path.read_text()))
    se = ref.se_mean["x"]
    assert np.all(se > 0) and np.all(se < 0.05 * np.sqrt(np.diag(GAUSS_COV)))
    assert np.all(np.abs(ref.mean["x"] - GAUSS_MEAN) < 5 * se)
    np.testing.assert_allclose(ref.sd["x"], np.sqrt(np.diag(GAUSS_COV)), rtol=0.05)
    assert doc["checks"]["max_rhat"] < 1.01 and doc["checks"]["min_ess_bulk"] >= 1000
    for key in ("command", "date", "num_chains", "seed"):
        assert key in doc
    env = doc["environment"]  # what a row carries: versions, CPU, device, the commit that wrote it
    assert env["git_commit"] == environment.git_commit() and env["numpyro"] and env["blackjax"]
    assert env["backend"] == "cpu" and env["cpu"] and doc["date"] == env["timestamp"]
    assert [r["method"] for r in doc["samplers"]] == ["numpyro_nuts", "blackjax_nuts"]
    assert [r["seed"] for r in doc["samplers"]] == [0, 1] and doc["num_chains"] == 8
    assert doc["agreement"]["max_z_mean"] <= reference_runs.AGREE_Z and doc["checks"]["divergences"] == 0
    assert doc["agreement"]["max_z_sd"] <= doc["thresholds"]["agree_sd_z"] == reference_runs.AGREE_SD_Z
    # each sampler's own moments beside the pooled ones, and the pooled ones are what the reader returns
    stored = json.loads(path.read_text())
    for run in stored["samplers"]:
        x = run["sites"]["x"]
        assert len(x["mean"]) == len(x["sd"]) == len(x["se_mean"]) == len(x["se_sd"]) == 2
        assert np.all(np.abs(np.asarray(x["mean"]) - GAUSS_MEAN) < 5 * np.asarray(x["se_mean"]))
        assert np.all(np.asarray(x["se_sd"]) > 0) and np.all(np.asarray(x["se_sd"]) < 0.05 * np.asarray(x["sd"]))
    np.testing.assert_array_equal(ref.mean["x"], stored["sites"]["x"]["mean"])
    assert reference_runs.audit(stored)[0] == "pass"
    with pytest.raises(FileExistsError):
        reference_runs.write(doc, path)


def _iid_gaussian_runs(shift: float = 0.0, divergences: int = 0, scale: float = 1.0):
    """A stand-in for the two samplers: iid N(0, 1) draws (ESS = their number); the second run's
    mean moved by ``shift`` of its own standard error, its sd times ``scale``, or with ``divergences``."""
    rng = np.random.default_rng(0)
    calls = []

    def run(post, method, accept, *, num_chains, num_samples, **_):
        x = rng.standard_normal((num_chains, num_samples, 1))
        if calls:
            x = scale * x + shift / np.sqrt(num_chains * num_samples)
        calls.append(method)
        return {"x": x}, (divergences if len(calls) == 2 else 0), 0.1

    return run


def test_two_samplers_that_agree_write_one_pooled_reference(monkeypatch):
    monkeypatch.setattr(reference_runs, "_run", _iid_gaussian_runs(shift=0.0))
    doc = reference_runs.compute(GAUSSIAN_2D, "analytic", None, num_chains=4, num_samples=2000)
    assert doc["agreement"]["max_z_mean"] < reference_runs.AGREE_Z
    assert doc["sites"]["x"]["ess_bulk"][0] > 12_000  # both runs' 8,000 draws each, pooled


@pytest.mark.parametrize("shift, divergences, scale, says", [
    (12.0, 0, 1.0, "disagree: x\\[0\\] means"),
    (0.0, 3, 1.0, "blackjax_nuts: 3 divergences"),
    (0.0, 0, 1.1, "disagree: x\\[0\\] sds"),
])
def test_a_reference_is_refused_when_the_samplers_disagree_or_diverge(monkeypatch, shift, divergences, scale, says):
    # 12 standard errors of one run apart = 12 / sqrt(2) joint errors: far beyond 4. An sd 10 % larger
    # with 8,000 iid draws a run (se(sd) = sd / sqrt(16,000), 0.8 %): about 9 joint errors
    monkeypatch.setattr(reference_runs, "_run", _iid_gaussian_runs(shift, divergences, scale))
    with pytest.raises(reference_runs.ReferenceFailed, match=says) as failed:
        reference_runs.compute(GAUSSIAN_2D, "analytic", None, num_chains=4, num_samples=2000)
    doc = failed.value.doc  # what failed, run by run, for the caller to keep
    assert [r["method"] for r in doc["samplers"]] == ["numpyro_nuts", "blackjax_nuts"]
    assert doc["failures"] and "sites" in doc and doc["agreement"]["threshold"] == reference_runs.AGREE_Z
    assert all("x" in r["sites"] for r in doc["samplers"])  # each sampler's moments kept for a look


def test_the_sd_threshold_is_the_callers(monkeypatch):
    # the same 10 % wider second run passes when the caller allows 20 joint errors, and says so
    monkeypatch.setattr(reference_runs, "_run", _iid_gaussian_runs(scale=1.1))
    doc = reference_runs.compute(GAUSSIAN_2D, "analytic", None, num_chains=4, num_samples=2000, agree_sd_z=20.0)
    assert reference_runs.AGREE_SD_Z < doc["agreement"]["max_z_sd"] <= 20.0
    assert doc["thresholds"]["agree_sd_z"] == doc["agreement"]["sd_threshold"] == 20.0
    assert reference_runs.audit(doc)[0] == "fail" and reference_runs.audit(doc, agree_sd_z=20.0)[0] == "pass"


def _site(mean, sd, se_mean, se_sd):
    return {"x": {"shape": [len(mean)], "mean": mean, "sd": sd, "se_mean": se_mean, "se_sd": se_sd}}


def test_the_sd_gate_on_given_moments():
    a = _site([0.0, 1.0], [1.0, 2.0], [0.01, 0.01], [0.03, 0.04])
    close = _site([0.01, 1.0], [1.1, 2.0], [0.01, 0.01], [0.03, 0.03])  # sds 0.1 / hypot(0.03, 0.03) = 2.4 apart
    far = _site([0.01, 1.0], [1.0, 2.3], [0.01, 0.01], [0.03, 0.03])  # x[1]: 0.3 / hypot(0.04, 0.03) = 6 apart
    agree = reference_runs.agreement(a, close)
    assert agree["max_z_sd"] == pytest.approx(0.1 / np.hypot(0.03, 0.03)) and agree["worst_sd"] == "x[0]"
    assert reference_runs.disagreements(agree) == []
    agree = reference_runs.agreement(a, far)
    assert agree["max_z_sd"] == pytest.approx(6.0) and agree["worst_sd"] == "x[1]"
    assert agree["max_z_mean"] == pytest.approx(1 / np.sqrt(2))  # the means agree: only the sds fail
    assert reference_runs.disagreements(agree) == [
        "the two samplers disagree: x[1] sds 6.0 Monte Carlo errors apart (at most 4)"]
    assert reference_runs.disagreements(agree, agree_sd_z=6.5) == []
    # an sd error that cannot be computed (NaN) fails the gate rather than vanish from it
    nan = _site([0.0, 1.0], [1.0, 2.0], [0.01, 0.01], [float("nan"), 0.04])
    assert reference_runs.disagreements(reference_runs.agreement(a, nan))[0].startswith(
        "the two samplers disagree: x[0] sds inf")


def test_the_audit_reads_old_and_new_files(tmp_path, monkeypatch):
    old = {"sites": _site([0.0], [1.0], [0.01], [0.03]), "method": "numpyro_nuts + blackjax_nuts, pooled",
           "samplers": [{"method": "numpyro_nuts"}, {"method": "blackjax_nuts"}],
           "agreement": {"max_z_mean": 1.0, "max_z_sd": 5.3}}
    single = {"sites": old["sites"], "method": "numpyro NUTS, diagonal mass"}
    new = {"sites": old["sites"], "samplers": [{"method": "numpyro_nuts", "sites": _site([0.0], [1.0], [0.01], [0.03])},
                                               {"method": "blackjax_nuts", "sites": _site([0.0], [1.3], [0.01], [0.04])}]}
    verdict, line = reference_runs.audit(old)
    assert verdict == "no evidence" and line.startswith("no per-sampler moments: recompute to audit")
    assert "5.3" in line and "above 4" in line and "within 6" in reference_runs.audit(old, agree_sd_z=6.0)[1]
    verdict, line = reference_runs.audit(single)
    assert verdict == "no evidence" and "one sampler (numpyro NUTS, diagonal mass)" in line
    assert reference_runs.audit(new) == ("fail", "the two samplers disagree: x[0] sds 6.0 Monte Carlo errors apart "
                                                 "(at most 4)")
    # the shipped files are listed (not posteriordb's figures, not a refusal's diagnostics) and each read
    monkeypatch.setattr(reference, "package_dir", lambda: tmp_path)
    for name, doc in (("t/a.json", old), ("t/b.json", new), ("t/b.failed.json", new), ("posteriordb/p/reference.json", {})):
        reference_runs.write(doc, tmp_path / name)
    assert [p.name for p in reference_runs.shipped_files()] == ["a.json", "b.json"]
    assert reference_runs.shipped_files("u") == []
    assert reference.from_json(json.loads((tmp_path / "t/b.json").read_text())).sd["x"].tolist() == [1.0]


def test_the_shipped_references_are_audited():
    files = reference_runs.shipped_files()
    assert {p.parent.name for p in files} >= {"sparse_logistic", "eight_schools_noncentered"}
    for path in files:
        doc = json.loads(path.read_text())
        verdict, line = reference_runs.audit(doc)
        assert verdict in ("pass", "no evidence") and line, path  # a file that fails must be recomputed
        if verdict == "no evidence" and "agreement" in doc:
            assert f"{doc['agreement']['max_z_sd']:.1f}" in line


def test_stored_references_are_found_by_target_dataset_and_size(tmp_path, monkeypatch):
    t = targets.get("logistic")
    doc = {"sites": {"beta": {"shape": [3], "mean": [1, 2, 3], "sd": [1, 1, 1]}}, "command": "c", "date": "d"}
    monkeypatch.setattr(reference, "package_dir", lambda: tmp_path)
    assert reference.filename(t, "d3", 100) == "logistic/d3-n100.json"
    assert reference.lookup(t, "d3", 100) is None
    reference_runs.write(doc, tmp_path / "logistic" / "d3-n100.json")
    ref = reference.lookup(t, "d3", 100)
    np.testing.assert_array_equal(ref.mean["beta"], [1, 2, 3])
    assert reference.lookup(t, "d3", 200) is None
    assert reference.lookup(t, "d3", 100, data_seed=1) is None  # references describe data seed 0


def test_shipped_breast_cancer_reference_loads():
    post = targets.Posterior(targets.get("sparse_logistic"), "breast_cancer", None)
    ref = post.reference()
    assert ref is not None and "harness reference sparse_logistic" in ref.source
    assert ref.mean["beta"].shape == (30,) and ref.mean["lambda"].shape == (30,) and np.all(ref.sd["tau"] > 0)


def test_every_seed_target_size_of_the_default_suite_has_a_passing_reference():
    from harness import suites

    cells = [c for c in suites.expand(suites.load("default")) if c.model == "sparse_logistic"]
    assert {c.n for c in cells} == {569, 10_000, 100_000}
    for dataset, n in {(c.dataset, c.n) for c in cells}:
        post = targets.Posterior(targets.get("sparse_logistic"), dataset, n)
        ref = post.reference()
        assert ref is not None, (dataset, n)
        doc = json.loads((reference.package_dir() / reference.filename(post.target, dataset, post.n)).read_text())
        assert doc["checks"]["max_rhat"] < doc["thresholds"]["max_rhat"] <= 1.01
        assert min(doc["checks"]["min_ess_bulk"], doc["checks"]["min_ess_tail"]) >= doc["thresholds"]["min_ess"] >= 400
        assert ref.mean["beta"].shape == (30,) and np.all(ref.sd["beta"] > 0)


@pytest.mark.slow  # NUTS, 1,300 iterations (14 s): CI scores a run against a reference in test_cli's model file
def test_a_run_on_an_analytic_target_scores_accurate():
    cell = Cell("ill_conditioned_gaussian", "d5_c10", None, "numpyro_nuts", {}, num_chains=2,
                num_warmup=300, num_samples=1000)
    row = run_cell(validate(cell))
    assert row["status"] == "ok" and row["reference"].startswith("analytic")
    assert row["z_mean_max"] < 0.2 and row["z_sd_max"] < 0.2 and row["inaccurate"] is False


def test_a_run_without_reference_leaves_accuracy_empty():
    cell = Cell("logistic", "d3", 50, "handrolled_hmc", {}, num_chains=2, num_warmup=20, num_samples=50)
    row = run_cell(validate(cell))
    assert row["status"] == "ok" and row["reference"] is None
    assert np.isnan(row["z_mean_max"]) and np.isnan(row["bias2_mean"]) and row["inaccurate"] is None


def test_summarize_refuses_unconverged_draws():
    rng = np.random.default_rng(0)
    good = {"a": rng.standard_normal((4, 1000, 2)), "const": np.ones((4, 1000))}
    sites, checks, failures = reference_runs.summarize(good, min_ess=1000, max_rhat=1.01)
    assert failures == [] and sites["a"]["shape"] == [2] and checks["min_ess_bulk"] > 3000
    np.testing.assert_allclose(sites["a"]["se_mean"], np.asarray(sites["a"]["sd"]) / np.sqrt(4000), rtol=0.15)
    stuck = {"a": good["a"] + np.arange(4)[:, None, None]}  # chains that disagree
    failures = reference_runs.summarize(stuck, min_ess=1000, max_rhat=1.01)[2]
    assert any("R-hat" in f for f in failures) and any("ESS" in f for f in failures)


def test_summarize_refuses_a_nan_rhat_and_nan_ess():
    one_chain = {"a": np.random.default_rng(0).standard_normal((1, 2000, 2))}  # arviz: R-hat NaN with 1 chain
    checks, failures = reference_runs.summarize(one_chain, min_ess=10, max_rhat=1.01)[1:]
    assert np.isnan(checks["max_rhat"]) and failures == ["R-hat is NaN (it needs at least 2 chains of finite draws)"]
    nan_draws = {"a": np.full((4, 100, 2), np.nan), "b": np.random.default_rng(1).standard_normal((4, 100))}
    failures = reference_runs.summarize(nan_draws, min_ess=10, max_rhat=1.01)[2]
    assert any("R-hat" in f for f in failures) and any("ESS nan" in f for f in failures)


@pytest.mark.parametrize("kwargs,says", [
    ({"num_chains": 1}, "at least 2 chains"),
    ({"min_ess": -1.0}, "min_ess must be a finite number > 0"),
    ({"min_ess": float("nan")}, "min_ess"),
    ({"max_rhat": float("nan")}, "max_rhat must be a finite number > 1"),
    ({"max_rhat": 1.0}, "max_rhat"),
    ({"target_accept_prob": 1.0}, "target_accept must be a number in (0, 1)"),
    ({"agree_sd_z": 0.0}, "agree_sd_z must be a finite number > 0"),
    ({"agree_sd_z": float("inf")}, "agree_sd_z"),
])
def test_compute_refuses_gates_that_cannot_refuse(kwargs, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        reference_runs.compute(targets.get("ill_conditioned_gaussian"), "d5_c10", None,
                               **{"num_warmup": 1, "num_samples": 1, **kwargs})


# slow (about 30 s): two full reference computations; the serial compute is tested in CI above
@pytest.mark.slow
def test_parallel_samplers_run_in_their_own_processes_and_match_the_serial_run():
    # a registered target (the processes look it up by name); the same programs and seeds, so the
    # same draws whether the two samplers run one after another here or at once in two processes
    t = targets.get("ill_conditioned_gaussian")
    kw = dict(num_chains=4, num_warmup=300, num_samples=500, min_ess=100, max_rhat=1.05, command="test")
    serial = reference_runs.compute(t, "d10_c100", None, **kw)
    parallel = reference_runs.compute(t, "d10_c100", None, parallel=True, **kw)
    assert [r["method"] for r in parallel["samplers"]] == ["numpyro_nuts", "blackjax_nuts"]
    np.testing.assert_allclose(parallel["sites"]["x"]["mean"], serial["sites"]["x"]["mean"], rtol=1e-4, atol=1e-5)
    assert parallel["checks"] == pytest.approx(serial["checks"], rel=1e-4)
