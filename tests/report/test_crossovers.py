"""Crossover statements: VI that never gives a usable posterior is said never to overtake NUTS."""

from harness.report import crossovers


def test_vi_with_no_usable_cell_never_overtakes_nuts(cells):
    before = crossovers.statements(cells)
    assert any("svi_autonormal (cpu) is ahead of numpyro_nuts (cpu)" in s for s in before)
    svi = cells["method"].eq("svi_autonormal")
    flagged = cells.copy()
    flagged.loc[svi, "usable"] = False
    flagged.loc[svi, "flag"] = "NOT CONVERGED"
    after = crossovers.statements(flagged)
    said = [s for s in after if s.startswith("sparse_logistic/synthetic: svi_autonormal (cpu)")]
    assert len(said) == 1 and "gave no usable posterior at any measured size" in said[0]
    assert "N = 1,000: NOT CONVERGED" in said[0] and "does not overtake numpyro_nuts (cpu)" in said[0]
    assert not any("svi_autonormal (cpu) is ahead" in s for s in after)
