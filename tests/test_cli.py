import subprocess
import sys

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
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, needle, capsys, tmp_path):
    out = tmp_path / "run"
    assert cli.main(argv + ["--out", str(out)] if argv[0] == "run" else argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness: error:") and needle in err
    assert not out.exists()  # nothing was run or written


def test_console_script_exit_code_and_list():
    bad = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--model", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "sparse_logistic" in bad.stderr
    ok = subprocess.run([sys.executable, "-m", "harness.cli", "list"], capture_output=True, text=True)
    assert ok.returncode == 0
    for word in ("sparse_logistic", "handrolled_hmc", "numpyro_nuts", "quick"):
        assert word in ok.stdout


def test_run_end_to_end_in_fresh_processes(tmp_path, capsys):
    """Both methods on a small synthetic size: table printed, rows stored and loadable."""
    out = tmp_path / "run"
    argv = ["run", "--size", "200", "--chains", "2", "--warmup", "100", "--samples", "100", "--out", str(out),
            "--option", "handrolled_hmc.step_size=0.02", "--quiet"]
    assert cli.main(argv) == 0
    table = capsys.readouterr().out
    assert "handrolled_hmc" in table and "numpyro_nuts" in table
    df = store.load(out)
    assert len(df) == 2 and set(df["status"]) == {"ok"}
    assert (df["grad_evals"] > 0).all() and (df["compile_s"] > 0).all() and (df["sample_s"] > 0).all()
    assert df["backend"].eq("cpu").all() and df["jax"].notna().all() and df["git_commit"].notna().all()
    # appending again keeps the earlier rows
    assert cli.main(argv + ["--method", "handrolled_hmc"]) == 0
    assert len(store.load(out)) == 3
