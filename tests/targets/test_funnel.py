import math

import numpy as np
import pytest

from harness import targets
from tests.targets.helpers import assert_density_matches_model


@pytest.mark.parametrize("dataset", ["d2", "d10", "d100"])
def test_flat_density_matches_numpyro_model(dataset):
    post = assert_density_matches_model("neals_funnel", dataset, None, radius=4.0)
    assert post.dim == int(dataset[1:])


def test_reference_marginals_are_the_math():
    """sd of x_i = sqrt(E[exp(v)]), v ~ N(0, 3): checked by Gauss-Hermite quadrature, not the formula."""
    ref = targets.get("neals_funnel").reference("d10", None)
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)  # integrates against exp(-v^2 / 2)
    second_moment = np.sum(weights * np.exp(3.0 * nodes)) / math.sqrt(2 * math.pi)
    assert ref.sd["x"].shape == (9,) and ref.mean["x"].shape == (9,)
    np.testing.assert_allclose(ref.sd["x"], math.sqrt(second_moment), rtol=1e-10)
    assert float(ref.sd["v"]) == 3.0 and float(ref.mean["v"]) == 0.0
    np.testing.assert_array_equal(ref.mean["x"], 0.0)


def test_dimension_must_be_at_least_two():
    t = targets.get("neals_funnel")
    assert "d1" not in t.datasets
    with pytest.raises(ValueError, match="unknown dataset 'd1'"):
        t.resolve_size("d1", None)
