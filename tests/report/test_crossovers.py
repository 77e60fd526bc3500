"""Crossover statements: VI that never gives a usable posterior is said never to overtake NUTS."""

import numpy as np
import pandas as pd

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


def _cell(method, n, ttr, usable=True, flag=""):
    return dict(model="logistic", dataset="d30", device="cpu", method=method, n=n, seeds_ok=3, usable=usable,
                flag=flag, family="vi" if method.startswith("svi") else "mcmc", subsamples=None,
                num_chains=4, time_to_result_s_med=float(np.median(ttr)), time_to_result_s_seeds=tuple(ttr))


def test_the_size_from_which_a_guide_is_usable_and_faster_comes_with_each_sizes_interval():
    """Flagged at 1e3, within noise at 1e4, decidedly faster at 1e5 and 1e6: the guide takes over from
    1e5 on, not at 1e4; each size's speedup (NUTS over the guide) is printed with its interval."""
    nuts = [_cell("numpyro_nuts", n, t) for n, t in
            ((1000, (2.0, 2.1, 2.2)), (10000, (10.0, 11.0, 12.0)), (100000, (80.0, 85.0, 90.0)),
             (1000000, (900.0, 950.0, 1000.0)))]
    svi = [_cell("svi_automvn", 1000, (1.0, 1.0, 1.0), usable=False, flag="INACCURATE"),
           _cell("svi_automvn", 10000, (9.0, 11.0, 13.0)), _cell("svi_automvn", 100000, (8.0, 8.5, 9.0)),
           _cell("svi_automvn", 1000000, (40.0, 41.0, 42.0))]
    said = [s for s in crossovers.statements(pd.DataFrame(nuts + svi)) if "decidedly faster" in s]
    assert len(said) == 1, said
    s = said[0]
    assert s.startswith("logistic/d30: svi_automvn (cpu) is usable and decidedly faster than numpyro_nuts (cpu) "
                        "from N = 100,000 on, not at N = 10,000")
    assert "N = 1,000: INACCURATE" in s and "N = 10,000: 1x [" in s and "within noise" in s
    assert "N = 100,000: 10x [" in s and "N = 1,000,000: 23.2x [" in s

    faster_everywhere = pd.DataFrame(nuts + [_cell("svi_automvn", n, (1.0, 1.0, 1.1)) for n in (1000, 10000, 100000, 1000000)])
    s = [s for s in crossovers.statements(faster_everywhere) if "decidedly faster" in s][0]
    assert "at every measured size, from N = 1,000" in s
    slower_at_top = pd.DataFrame(nuts[:2] + [_cell("svi_automvn", n, (100.0, 100.0, 100.0)) for n in (1000, 10000)])
    s = [s for s in crossovers.statements(slower_at_top) if "decidedly faster" in s][0]
    assert "is not both usable and decidedly faster than numpyro_nuts (cpu) at any measured size" in s
    small_only = pd.DataFrame(nuts[:3] + [_cell("svi_automvn", n, t) for n, t in
                                          ((1000, (1.0, 1.0, 1.1)), (10000, (5.0, 5.2, 5.4)), (100000, (85.0, 86.0, 90.0)))])
    s = [s for s in crossovers.statements(small_only) if "decidedly faster" in s][0]
    assert ("is usable and decidedly faster than numpyro_nuts (cpu) at N = 1,000, 10,000, not at the largest "
            "measured size, N = 100,000") in s and "N = 100,000: 0.988x [" in s
