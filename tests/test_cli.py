import json
import subprocess
import sys

import numpy as np
import pytest

from harness import cli, store


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["run", "--model", "nope"], "unknown model 'nope'; valid: "),
        (["run", "--method", "nope"], "unknown method 'nope'; valid: "),
        (["run", "--size", "0"], "positive integer"),
        (["run", "--size", "-5"], "positive integer"),
        (["run", "--chains", "x"], "positive integer"),
        (["run", "--suite", "nope"], "unknown suite 'nope'; valid: "),
        (["run", "--method", "handrolled_hmc", "--option", "bogus=1"], "unknown option(s) bogus"),
        (["list", "nope"], "invalid choice"),
        (["run", "--timeout", "-1"], "positive finite number"),
        (["run", "--device", "tpu"], "unknown device 'tpu'; valid: cpu, gpu"),
        (["run", "--device", "cpu,tpu", "--dry-run"], "unknown device 'tpu'; valid: cpu, gpu"),
        (["run", "--method", "numpyro_hmcecs", "--model", "neals_funnel", "--dataset", "d2"], "numpyro_hmcecs"),
        (["run", "--method", "blackjax_nuts", "--warmup", "0"], "blackjax_nuts"),
        (["compare", "a", "b", "--fail-on-regression", "-5"], "a finite number >= 0"),
        (["run", "--xla-flags", "'abc"], "--xla-flags \"'abc\": cannot split it into flags: No closing quotation"),
        (["run", "--scheduler", "notaurl"], "--scheduler expects an address scheme://HOST:PORT"),
        (["run", "--scheduler", "tcp://host"], "--scheduler expects"),
        (["run", "--method", "handrolled_hmc", "--option", "nosuchmethod.x=1"],
         "method 'nosuchmethod' is not among this run's methods; valid: handrolled_hmc"),
        (["run", "--option", "nosuchmethod.x=1"], "method 'nosuchmethod' is not among this run's methods"),
        (["run", "--method", ""], "--method names nothing"),
        (["run", "--method", ",,"], "--method names nothing"),
        (["run", "--device", ","], "--device names nothing"),
        (["run", "--method", "handrolled_hmc", "--max-draws", "100"], "--max-draws caps a run to a target ESS"),
        (["run", "--target-ess", "inf"], "argument --target-ess: expected a positive finite number"),
        (["run", "--target-ess", "nan"], "argument --target-ess: expected a positive finite number"),
        (["run", "--method", "handrolled_hmc", "--option", "handrolled_hmc.step_size=Infinity"],
         "option step_size must be null or a positive finite float, got inf"),
        (["run", "--method", "handrolled_hmc", "--option", "step_size=NaN"], "option step_size must be"),
        (["run", "--size", "99999999999999999999999"], "argument --size: expected a positive integer (at most 2**63 - 1)"),
        (["run", "--size", "1e99"], "argument --size: expected a positive integer"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, needle, capsys, tmp_path):
    out = tmp_path / "run"
    assert cli.main(argv + ["--out", str(out)] if argv[0] in ("run", "compare") else argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness: error:") and needle in err
    assert not out.exists()  # nothing was run or written


def test_console_script_exit_code_and_list(capsys):
    """The process's exit code is main's (one interpreter: each costs 3-6 s here); ``list`` through main."""
    bad = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--model", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "sparse_logistic" in bad.stderr
    assert cli.main(["list"]) == 0
    listed = capsys.readouterr().out
    for word in ("sparse_logistic", "handrolled_hmc", "numpyro_nuts", "quick"):
        assert word in listed


def test_run_end_to_end_in_fresh_processes(tmp_path, capsys):
    """Both methods on a small synthetic size: table printed, rows stored and loadable."""
    out = tmp_path / "run"
    argv = ["run", "--size", "200", "--chains", "2", "--warmup", "100", "--samples", "100", "--out", str(out),
            "--option", "handrolled_hmc.step_size=0.02", "--quiet", "--no-recheck"]
    assert cli.main(argv) == 0
    table = capsys.readouterr().out
    assert "handrolled_hmc" in table and "numpyro_nuts" in table
    df = store.load(out)
    assert len(df) == 2 and set(df["status"]) == {"ok"}
    assert (df["grad_evals"] > 0).all() and (df["compile_s"] > 0).all() and (df["sample_s"] > 0).all()
    assert df["backend"].eq("cpu").all() and df["jax"].notna().all() and df["git_commit"].notna().all()


MODEL_FILE = """
import numpy as np
import numpyro
import numpyro.distributions as dist

def model(y):
    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

def make_data(n, seed):
    return {"y": np.random.default_rng(seed).normal(2.0, 1.0, n or 100).astype(np.float32)}
"""


def test_run_model_file_end_to_end(tmp_path, capsys):
    """A user's file runs like a registered target; its reference fills the accuracy columns."""
    path = tmp_path / "my_model.py"
    # the exact posterior of mu: precision 100 + 1/100, mean sum(y) / that precision
    y = np.random.default_rng(0).normal(2.0, 1.0, 100).astype(np.float32).astype(np.float64)
    prec = 100 + 1e-2
    path.write_text(MODEL_FILE + f"\nreference = {{'mu': {{'mean': [{y.sum() / prec!r}], 'sd': [{prec ** -0.5!r}]}}}}\n")
    out = tmp_path / "run"
    argv = ["run", "--model-file", str(path), "--method", "handrolled_hmc", "--chains", "2", "--warmup", "200",
            "--samples", "1000", "--out", str(out), "--no-recheck"]
    assert cli.main(argv) == 0
    df = store.load(out)
    assert len(df) == 1 and df["status"].iloc[0] == "ok"
    assert df["model"].iloc[0] == f"file:{path.resolve()}" and df["dataset"].iloc[0] == "data"
    assert df["z_mean_max"].iloc[0] < 0.3 and not df["inaccurate"].iloc[0]


@pytest.mark.parametrize(
    "body,needle",
    [
        ("x = 1\n", "must define model and make_data"),
        (MODEL_FILE.replace("def make_data", "def other"), "must define make_data"),
        (MODEL_FILE + "\nreference = {'nu': {'mean': [0], 'sd': [1]}}\n", "unknown site 'nu'; valid: mu"),
        ("import sys\nsys.exit(3)\n", "bad.py failed to import: SystemExit: 3"),
        ("raise KeyboardInterrupt\n", "bad.py failed to import: KeyboardInterrupt"),
        (MODEL_FILE.replace("return {", "raise SystemExit('no data')\n    return {"), "make_data(None, 0) failed: SystemExit"),
    ],
)
def test_bad_model_file_is_one_line_and_exit_code_2(tmp_path, capsys, body, needle):
    path = tmp_path / "bad.py"
    path.write_text(body)
    out = tmp_path / "run"
    assert cli.main(["run", "--model-file", str(path), "--method", "numpyro_nuts", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness: error:") and needle in err
    assert not out.exists()


def test_reference_refuses_an_unconverged_run_and_an_existing_file(tmp_path, capsys, monkeypatch):
    from harness import reference_runs

    def failing(*args, **kwargs):
        raise reference_runs.ReferenceFailed("reference for neals_funnel/d3/None not written: min bulk ESS 12 < 1000",
                                             {"samplers": [{"method": "blackjax_nuts", "checks": {"max_rhat": 2.3}}],
                                              "failures": ["blackjax_nuts: max R-hat 2.3327 >= 1.01"]})

    monkeypatch.setattr(reference_runs, "compute", failing)
    out = tmp_path / "ref.json"
    argv = ["reference", "neals_funnel", "--dataset", "d3", "--out", str(out)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "not written" in err and "ESS" in err and not out.exists()
    # the refused runs' diagnostics are kept beside it, under a name no lookup reads
    failed = json.loads((tmp_path / "ref.failed.json").read_text())
    assert failed["samplers"][0]["checks"]["max_rhat"] == 2.3 and "ref.failed.json" in err
    out.write_text("{}")
    assert cli.main(argv) == 2
    assert "exists; pass --force" in capsys.readouterr().err and out.read_text() == "{}"
    assert cli.main(["reference", "neals_funnel", "--dataset", "d0"]) == 2
    assert cli.main(["reference", "nope"]) == 2


@pytest.mark.parametrize("flags,needle", [
    (["--chains", "1"], "argument --chains: expected an integer >= 2 (R-hat compares chains)"),
    (["--min-ess", "-1"], "argument --min-ess: expected a positive finite number"),
    (["--min-ess", "nan"], "argument --min-ess"),
    (["--max-rhat", "nan"], "argument --max-rhat: expected a finite number > 1"),
    (["--max-rhat", "1"], "argument --max-rhat"),
    (["--target-accept", "1.5"], "argument --target-accept: expected a number strictly between 0 and 1"),
    (["--out", "/proc/x/r.json"], "--out /proc/x/r.json cannot be written"),
    (["--out", ".", "--force"], "is a directory"),
])
def test_reference_refuses_gates_a_nan_opens_and_an_unwritable_out_before_sampling(flags, needle, capsys, monkeypatch):
    from harness import reference_runs

    def never(*args, **kwargs):
        raise AssertionError("sampled before checking its input")

    monkeypatch.setattr(reference_runs, "_run_all", never)
    assert cli.main(["reference", "eight_schools_noncentered", "--warmup", "10", "--samples", "10", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness: error:") and needle in err


def test_an_unwritable_out_is_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    argv = ["run", "--method", "handrolled_hmc", "--dataset", "breast_cancer", "--out", str(blocker / "run"), "--quiet"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness: error:")
    assert blocker.read_text() == "not a directory"


def test_list_methods_shows_each_option_with_its_default_and_what_is_valid(capsys):
    assert cli.main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "--option num_steps=10  (a positive int)" in out
    assert "--option chain_method=\"vectorized\"  (one of vectorized, sequential, parallel)" in out
    assert "--option step_size=null  (null or a positive finite float)" in out


def test_bad_files_and_places_are_one_line_exit_2_before_any_cell(tmp_path, capsys):
    """A suite that is not UTF-8, an --out that is a file or cannot be made: one line, exit 2, nothing run."""
    suite = tmp_path / "latin1.toml"
    suite.write_bytes("description = 'caf\xe9'\n".encode("latin-1"))
    blocker = tmp_path / "file"
    blocker.write_text("kept")
    for argv, needle in (
        (["run", "--suite", str(suite)], f"suite {suite}: not UTF-8 text"),
        (["run", "--method", "handrolled_hmc", "--out", str(blocker)], f"--out {blocker} is not a directory"),
        (["run", "--method", "handrolled_hmc", "--out", "/proc/x/run"], "--out /proc/x/run cannot be written"),
    ):
        assert cli.main(argv + ["--quiet"]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and err.startswith("harness: error:") and needle in err
    assert blocker.read_text() == "kept"


def test_an_unreachable_scheduler_fails_in_seconds(tmp_path, capsys):
    import time

    t0 = time.perf_counter()
    argv = ["run", "--method", "handrolled_hmc", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "r")]
    assert cli.main(argv + ["--quiet"]) == 2
    assert time.perf_counter() - t0 < 30  # was a minute and more; a wrong address is refused in 5 s
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot reach Dask scheduler 'tcp://127.0.0.1:1' within 5 s" in err
    assert not store.rows_path(tmp_path / "r").exists()


def test_report_refuses_unknown_names_and_skips_rows_it_cannot_place(tmp_path, capsys):
    from tests.report.conftest import RUN_SMALL

    run = tmp_path / "run"
    run.mkdir()
    rows = RUN_SMALL.joinpath("rows.jsonl").read_text()
    (run / "rows.jsonl").write_text(rows + '[1, 2]\n{"status": "ok", "sample_s": 1.0}\n')
    with pytest.warns(store.UnreadableRows) as caught:
        assert cli.main(["report", str(run), "--out", str(tmp_path / "rep")]) == 0
    said = " ".join(str(w.message) for w in caught)
    assert "line 70 (JSON list, not an object)" in said and "skipped 1 row(s) without a model and method" in said
    for flags, needle in ((["--baseline", "nosuch"], "--baseline 'nosuch': unknown method; valid: "),
                          (["--traces", "nosuch"], "--traces 'nosuch': unknown; valid: all, flagged or a method")):
        assert cli.main(["report", str(run), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and needle in err
    (run / "rows.jsonl").write_text('{"status": "ok"}\n[1]\n')
    assert cli.main(["report", str(run), "--out", str(tmp_path / "rep2")]) == 2
    assert "no row names its model and method" in capsys.readouterr().err


@pytest.mark.parametrize("median", [0.0, -1e-3])
def test_compare_refuses_benchmark_times_that_are_not_positive(tmp_path, capsys, median):
    def bench(path, m):
        path.write_text(json.dumps({"benchmarks": [
            {"fullname": "t::step", "stats": {"median": m, "q1": m, "q3": m, "rounds": 5}}]}))
        return str(path)

    assert cli.main(["compare", bench(tmp_path / "a.json", 1e-3), bench(tmp_path / "b.json", median)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"benchmark 't::step' has median {median:g} s" in err


def test_a_run_that_names_its_model_keeps_the_second_pass_that_quick_skips():
    """quick's ``recheck = false`` is for its own first look; a run of a named model (or a model file)
    is a measurement: it takes the second pass, and with it the host reference, unless --no-recheck."""
    from types import SimpleNamespace

    from harness import suites

    quick, default = suites.load("quick"), suites.load("default")
    assert quick["recheck"] is False

    def args(**kw):
        return SimpleNamespace(**{"no_recheck": False, "model": None, "model_file": None, **kw})

    assert cli._recheck(args(), quick) is False
    assert cli._recheck(args(), default) is True
    assert cli._recheck(args(model="logistic"), quick) is True
    assert cli._recheck(args(model_file="m.py"), quick) is True
    assert cli._recheck(args(model="logistic", no_recheck=True), quick) is False
    assert cli._recheck(args(no_recheck=True), default) is False
