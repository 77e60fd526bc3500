import pytest

from harness.targets import ANY_N
from harness.targets.parametric import ParametricDatasets


def _family():
    return ParametricDatasets(r"d(?P<d>\d+)_c(?P<c>\d+)", ANY_N, ("d10_c100",), "d<D>_c<K>",
                              check=lambda p: None if p["c"] >= 1 else "K must be >= 1")


def test_any_matching_name_is_a_dataset_and_carries_its_knobs():
    f = _family()
    assert "d7_c3" in f and f["d7_c3"] == ANY_N and f.params("d7_c3") == {"d": 7, "c": 3}
    assert "d7" not in f and "d7_c0" not in f and "d<D>_c<K>" not in f and 5 not in f
    assert list(f) == ["d10_c100", "d<D>_c<K>"] and dict(f.items())["d<D>_c<K>"] == ANY_N
    assert f.why_invalid("d7_c0") == "K must be >= 1"
    with pytest.raises(KeyError):
        f.params("d7")


def test_examples_must_match():
    with pytest.raises(ValueError, match="does not match"):
        ParametricDatasets(r"d(?P<d>\d+)", None, ("x1",), "d<D>")
