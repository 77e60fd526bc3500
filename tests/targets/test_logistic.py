import numpy as np
import pytest
from numpyro import handlers

from harness import targets
from tests.targets.helpers import assert_density_matches_model


@pytest.mark.parametrize("dataset,n", [("d5", 200), ("d30", 50)])
def test_flat_density_matches_numpyro_model(dataset, n):
    post = assert_density_matches_model("logistic", dataset, n)
    assert post.dim == int(dataset[1:]) and post.data["X"].shape == (n, int(dataset[1:]))


def test_data_fixed_by_seed_true_beta_fixed_by_d():
    t = targets.get("logistic")
    a, b, c = t.make_data("d4", 100, 0), t.make_data("d4", 100, 0), t.make_data("d4", 100, 1)
    np.testing.assert_array_equal(a["X"], b["X"])
    assert not np.array_equal(a["X"], c["X"])
    assert set(np.unique(a["y"])) == {0, 1}


def test_subsample_convention():
    """model(..., subsample_size=k) subsamples the 'data' plate: k observations in the trace."""
    t = targets.get("logistic")
    assert t.plate == "data"
    data = t.make_data("d3", 100, 0)
    tr = handlers.trace(handlers.seed(t.model, 0)).get_trace(**data, subsample_size=10)
    assert tr["data"]["args"][0] == 100 and tr["y"]["value"].shape == (10,)
    assert tr["y"]["scale"] == pytest.approx(10.0)  # N / k


def test_dataset_names_carry_the_dimension():
    t = targets.get("logistic")
    assert "d250" in t.datasets and "d0" not in t.datasets and "x5" not in t.datasets
    with pytest.raises(ValueError, match="d<D>"):
        t.resolve_size("dfoo", 10)
    with pytest.raises(ValueError, match="needs a size N"):
        t.resolve_size("d10", None)
