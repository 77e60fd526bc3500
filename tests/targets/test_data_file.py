import pickle
import textwrap

import numpy as np
import pandas as pd
import pytest

from harness import UsageError, targets
from harness.targets import data_file, user

MODEL = """
import numpyro
import numpyro.distributions as dist

def model(x, y):
    b = numpyro.sample("b", dist.Normal(0.0, 10.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal(b * x, sigma), obs=y)
"""


def _arrays(n=30):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n)
    return {"x": x, "y": 2.0 * x + rng.standard_normal(n)}


@pytest.mark.parametrize("suffix", [".pkl", ".npz", ".csv"])
def test_each_format_reads_to_the_same_float32_arrays(tmp_path, suffix):
    arrays = _arrays()
    path = tmp_path / f"d{suffix}"
    if suffix == ".pkl":
        path.write_bytes(pickle.dumps(arrays))
    elif suffix == ".npz":
        np.savez(path, **arrays)
    else:
        pd.DataFrame(arrays).to_csv(path, index=False)
    data = data_file.read(path)
    assert sorted(data) == ["x", "y"] and data_file.rows(data) == 30
    assert data["x"].dtype == np.float32 and np.allclose(data["y"], arrays["y"], atol=1e-6)


def test_first_n_rows_is_the_rule(tmp_path):
    data = {"x": np.arange(10.0), "X": np.arange(20).reshape(10, 2)}
    cut = data_file.first(data, 4)
    assert cut["x"].tolist() == [0, 1, 2, 3] and cut["X"].tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    for n in (0, 11):
        with pytest.raises(UsageError, match=f"size {n} is not between 1 and the 10 rows"):
            data_file.first(data, n)


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda d: d / "missing.npz", "not found"),
        (lambda d: _pickle(d, [1, 2, 3]), "must hold a dict of arrays {name: array}, got list"),
        (lambda d: _pickle(d, {}), "got an empty dict"),
        (lambda d: _pickle(d, {"x": 3.0}), "entry 'x' is not a numeric array with a data axis"),
        (lambda d: _pickle(d, {"x": np.zeros(3), "y": np.zeros(4)}),
         "arrays differ in length along the data axis (axis 0): x 3, y 4"),
        (lambda d: _write(d, "d.txt", b"1,2"), "unknown format '.txt'; valid: .pkl, .pickle, .npz, .csv, .parquet"),
        (lambda d: _write(d, "d.pkl", b"not a pickle"), "could not be read: UnpicklingError"),
    ],
)
def test_bad_data_files_are_usage_errors(tmp_path, make, needle):
    with pytest.raises(UsageError) as e:
        data_file.read(make(tmp_path))
    assert needle in str(e.value) and "\n" not in str(e.value)


def _pickle(d, obj):
    return _write(d, "d.pkl", pickle.dumps(obj))


def _write(d, name, data: bytes):
    path = d / name
    path.write_bytes(data)
    return path


def test_a_model_file_with_a_data_file_is_a_target_sized_by_rows(tmp_path, monkeypatch):
    model = tmp_path / "m.py"
    model.write_text(textwrap.dedent(MODEL))
    data = tmp_path / "d.npz"
    np.savez(data, **_arrays(30))
    name = user.spec(model, data)
    t = targets.get(name)
    (dataset,) = t.datasets
    assert dataset == f"d.npz@{data_file.digest(data)[:12]}"
    assert f"sha256 {data_file.digest(data)}" in t.source and "m.py (sha256 " in t.source
    post = targets.Posterior(t, dataset, 12)
    assert post.data["x"].shape == (12,) and post.layout.names == ("b", "sigma")
    user.check(t, dataset, 12)
    # the reference: none until one is cached under the directory the environment names
    monkeypatch.setenv(user.REFERENCE_CACHE_ENV, str(tmp_path / "cache"))
    assert post.reference() is None
    path = user.cache_path(tmp_path / "cache", name, 12)
    path.parent.mkdir(parents=True)
    path.write_text('{"source": "computed: test", "sites": {"b": {"mean": [2.0], "sd": [0.1]}}}')
    assert post.reference().source == "computed: test" and targets.Posterior(t, dataset, 13).reference() is None


def test_a_model_that_does_not_take_the_datas_keys(tmp_path):
    model = tmp_path / "m2.py"
    model.write_text(textwrap.dedent(MODEL))
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros(5), z=np.zeros(5))
    t = targets.get(user.spec(model, data))
    with pytest.raises(UsageError, match=r"model\(\*\*data\) on the keys of d.npz \(x, z\) failed: TypeError"):
        user.check(t, next(iter(t.datasets)), 5)
