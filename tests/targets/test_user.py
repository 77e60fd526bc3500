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
