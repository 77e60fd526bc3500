import textwrap

import numpy as np
import pytest
from numpyro.distributions import constraints

from harness import UsageError, targets
from harness.targets import user

GOOD = """
import numpy as np
import numpyro
import numpyro.distributions as dist

def model(y):
    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))
    numpyro.deterministic("two_mu", 2 * mu)
    with numpyro.plate("data", y.shape[0]):
        numpyro.sample("y", dist.Normal(mu, sigma), obs=y)

def make_data(n, seed):
    rng = np.random.default_rng(seed)
    return {"y": (1.0 + 2.0 * rng.standard_normal(n or 40)).astype(np.float32)}
"""


def _write(tmp_path, text, name="m.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_model_file_becomes_a_target(tmp_path):
    path = _write(tmp_path, GOOD + '\nreference = {"mu": {"mean": [1.0], "sd": [0.3]}}\n')
    t = targets.get(user.spec(path))
    assert t.name == f"file:{path.resolve()}" and str(path.resolve()) in t.source and "sha256" in t.source
    post = targets.Posterior(t, "data", None)
    assert post.layout.names == ("mu", "sigma") and post.dim == 2 and post.data["y"].shape == (40,)
    assert post.layout.params[1].support is constraints.positive
    assert np.isfinite(float(post.log_density(np.zeros(2, np.float32))))
    assert targets.Posterior(t, "synthetic", 7).data["y"].shape == (7,)
    ref = post.reference()
    assert ref.mean["mu"].tolist() == [1.0] and "m.py" in ref.source
    user.check(t, "data", None)  # reference sites exist


@pytest.mark.parametrize(
    "text,needle",
    [
        ("def make_data(n, seed):\n    return {}\n", "must define model"),
        (GOOD.replace("def make_data", "def other"), "must define make_data"),
        ("import nonexistent_module_xyz\n", "failed to import: ModuleNotFoundError"),
        (GOOD + "\nreference = {'mu': [1.0]}\n", "reference must be"),
    ],
)
def test_bad_files_are_usage_errors(tmp_path, text, needle):
    path = _write(tmp_path, text, name=f"bad_{abs(hash(needle))}.py")
    with pytest.raises(UsageError, match=needle):
        user.load(user.spec(path))


def test_reference_naming_an_unknown_site_or_wrong_size(tmp_path):
    t = user.load(user.spec(_write(tmp_path, GOOD + "\nreference = {'nu': {'mean': [0], 'sd': [1]}}\n", "u1.py")))
    with pytest.raises(UsageError, match="unknown site 'nu'; valid: mu, sigma, two_mu"):
        user.check(t, "data", None)
    t = user.load(user.spec(_write(tmp_path, GOOD + "\nreference = {'mu': {'mean': [0, 1], 'sd': [1, 1]}}\n", "u2.py")))
    with pytest.raises(UsageError, match="has 2 values, the site has 1"):
        user.check(t, "data", None)


def test_missing_file(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        targets.get(user.spec(tmp_path / "nope.py"))


# Stan's implicit flat prior on `real<lower=0> sigma;`, the way it is written in NumPyro:
# the prior cannot be sampled, so the layout must not come from a draw of it
IMPROPER = """
import numpy as np
import numpyro
import numpyro.distributions as dist

def model(x, y):
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 100.0))
    beta = numpyro.sample("beta", dist.Normal(0.0, 100.0))
    sigma = numpyro.sample("sigma", dist.ImproperUniform(dist.constraints.positive, (), ()))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal(alpha + beta * x, sigma), obs=y)

def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n or 50)
    return {"x": x.astype(np.float32), "y": (1.0 + 2.0 * x + 0.5 * rng.standard_normal(x.shape)).astype(np.float32)}
"""


def test_an_improper_prior_has_a_layout_and_a_density(tmp_path):
    t = user.load(user.spec(_write(tmp_path, IMPROPER, "improper.py")))
    post = targets.Posterior(t, "data", None)
    assert post.layout.names == ("alpha", "beta", "sigma") and post.dim == 3
    assert post.layout.params[2].shape == () and post.layout.constrain(np.array([0.0, 0.0, -30.0]))["sigma"] > 0
    assert np.isfinite(float(post.log_density(np.zeros(3, np.float32))))
    user.check(t, "data", None)


# slow (about 20 s): tests/test_cli.py's model-file run covers the CLI path in CI
@pytest.mark.slow
def test_an_improper_prior_runs_through_the_cli(tmp_path, capsys):
    from harness import cli, store

    path = _write(tmp_path, IMPROPER, "improper.py")
    out = tmp_path / "run"
    argv = ["run", "--model-file", str(path), "--method", "numpyro_nuts", "--warmup", "50", "--samples", "50",
            "--chains", "1", "--out", str(out), "--quiet", "--no-recheck"]
    assert cli.main(argv) == 0
    df = store.load(out)
    assert len(df) == 1 and df["status"].iloc[0] == "ok", df.get("error")
    assert df["model"].iloc[0] == f"file:{path.resolve()}"


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda d: d, "is a directory; give a .py file defining model(**data) and make_data(n, seed)"),
        (lambda d: d / "missing.py", "not found"),
        (lambda d: _write(d, "root:x:0:0:root:/root:/bin/bash\n", "passwd"), "is not a Python file (.py)"),
        (lambda d: _write(d, "def model(:\n", "syntax.py"), "failed to import: SyntaxError"),
        (lambda d: _write(d, GOOD.replace("return {", "return 3, {"), "tuple.py"),
         "make_data must return a dict of model(**data)'s keyword arguments, got tuple"),
        (lambda d: _write(d, GOOD.replace("return {", "return None and {"), "none.py"),
         "make_data must return a dict of model(**data)'s keyword arguments, got NoneType"),
        (lambda d: _write(d, GOOD.replace('{"y": ', '{"z": '), "kwargs.py"),
         "model(**make_data(None, 0)) failed: TypeError"),
    ],
)
def test_bad_model_files_on_the_cli_are_one_line_exit_2_and_keep_earlier_rows(tmp_path, capsys, make, needle):
    from harness import cli

    out = tmp_path / "run"
    out.mkdir()
    rows = out / "rows.jsonl"
    rows.write_text('{"earlier": "row"}\n')
    path = make(tmp_path)
    assert cli.main(["run", "--model-file", str(path), "--method", "numpyro_nuts", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("harness: error:") and needle in err, err
    assert sorted(p.name for p in out.iterdir()) == ["rows.jsonl"] and rows.read_text() == '{"earlier": "row"}\n'
