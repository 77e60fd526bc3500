"""The method catalog: one declaration per shipped method, and the selectors suites use."""

from __future__ import annotations

import dataclasses

import pytest

from harness import UsageError, methods, suites
from harness.methods.catalog import CATALOG, Entry, select

M = [Entry("a_hmc", "mcmc", "liba", "", ""), Entry("a_vi", "vi", "liba", "", ""),
     Entry("b_nuts", "mcmc", "libb", "", ""), Entry("b_mala", "mcmc", "libb", "", "")]


def test_the_registry_is_the_catalog_in_its_order():
    shipped = [m for m in methods.registered() if m.name in {e.name for e in CATALOG}]
    assert [(m.name, m.family, m.library) for m in shipped] == [(e.name, e.family, e.library) for e in CATALOG]


def test_selectors_expand_in_order_and_leave_out():
    assert select(["b_nuts", "family:mcmc"], M) == ["b_nuts", "a_hmc", "b_mala"]
    assert select(["library:libb"], M) == ["b_nuts", "b_mala"]
    assert select(["*", "-family:vi", "-b_mala"], M) == ["a_hmc", "b_nuts"]
    assert select(["-a_hmc", "a_hmc", "b_nuts"], M) == ["b_nuts"]  # left out wherever it was selected
    assert select(["not_registered"], M) == ["not_registered"]  # the registry names the valid ones


@pytest.mark.parametrize("bad, says", [(["family:hmc"], "valid family values: mcmc, vi"),
                                       (["kind:mcmc"], "unknown selector"),
                                       (["*", "-typo"], "not registered")])
def test_a_bad_selector_is_refused_with_what_is_valid(bad, says):
    with pytest.raises(ValueError, match=says):
        select(bad, M)


def test_a_suite_with_a_bad_selector_is_a_usage_error(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('methods = ["library:stan"]\n[[data]]\nmodel = "sparse_logistic"\n')
    with pytest.raises(UsageError, match="library:stan"):
        suites.load(str(path))


def test_a_method_added_to_the_registry_joins_the_asv_and_perf_matrices(monkeypatch):
    new = dataclasses.replace(methods.get("numpyro_nuts"), name="new_mcmc")
    monkeypatch.setitem(methods.REGISTRY.entries, "new_mcmc", new)
    for name in ("asv", "perf"):
        chosen = suites.load(name)["methods"]
        assert chosen[-1] == "new_mcmc" and "numpyro_sa" not in chosen, name
    assert "new_mcmc" not in suites.load("default")["methods"]  # a curated suite names its methods
