import numpy as np
import pytest

from harness import targets
from tests.targets.helpers import assert_density_matches_model


@pytest.mark.parametrize("t", [2, 50])
def test_flat_density_matches_numpyro_model(t):
    post = assert_density_matches_model("stochastic_volatility", "synthetic", t, radius=1.5)
    assert post.dim == t + 3 and post.layout.names == ("mu", "phi", "sigma", "h_std")


def test_returns_have_length_t_and_the_volatility_of_the_truth():
    data = targets.get("stochastic_volatility").make_data("synthetic", 20000, 0)
    y = data["y"]
    assert y.shape == (20000,) and y.dtype == np.float32
    # E log y^2 = E h + E log chi2_1 = mu - 1.2704
    assert np.mean(np.log(y.astype(np.float64) ** 2)) == pytest.approx(-1.0 - 1.2704, abs=0.1)
