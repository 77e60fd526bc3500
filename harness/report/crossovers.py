"""Crossover sizes read off the scaling curves, stated in words.

Three questions per scaling group (a model and dataset measured at two sizes
or more), each on usable cells only (flagged cells have no speed to compare):

- where the GPU overtakes the CPU, per method: ESS/s, higher is better (VI: time to result, lower
  is better; a guide has no ESS figure);
- where a subsampling method (HMCECS: ``subsamples`` in its rows) overtakes NUTS (the
  baseline method), per device: ESS/s;
- where SVI overtakes NUTS, per device: time to result (compile + init +
  warmup + sampling), lower is better, since a VI guide's iid draws make its
  ESS/s meaningless; only accurate SVI cells count, and a guide with none
  (every size flagged) is said never to overtake, with each size's flag; and from which measured size
  on the guide is usable and decidedly faster at every size above (:func:`takes_over`), each size's
  speedup with its interval over seeds.

The crossing is interpolated linearly in log N on log(y_a / y_b) between the
two measured sizes around the sign change (:func:`harness.report.stats.crossover`).
"""

from __future__ import annotations

from harness.report import stats
from harness.report.baseline import DEFAULT_BASELINE
from harness.report.figures import scaling_groups
from harness.report import tables
from harness.report.tables import size_label


def _sizes(ns) -> str:
    return f"N = {size_label(min(ns))} to {size_label(max(ns))}"


def sentence(a: str, b: str, c: stats.Crossover, what: str) -> str:
    """One sentence for crossover ``c`` of curve a against curve b."""
    if c.state == "too_few":
        return f"{a} vs {b} ({what}): fewer than two sizes measured for both; no crossover can be read."
    if c.state in ("a_overtakes", "b_overtakes"):
        win, lose = (a, b) if c.state == "a_overtakes" else (b, a)
        return (f"{win} overtakes {lose} ({what}) at N ~ {size_label(round(c.n))} (interpolated in log-log "
                f"between N = {size_label(c.between[0])} and {size_label(c.between[1])}).")
    ahead, behind = (a, b) if c.state == "a_ahead" else (b, a)
    return f"{ahead} is ahead of {behind} ({what}) at every measured size ({_sizes(c.sizes)}): no crossover in the measured range."


def _curve(cells, method, device, col):
    c = cells[(cells["method"] == method) & (cells["device"] == device) & cells["usable"]].sort_values("n")
    c = c.groupby("n", as_index=False)[f"{col}_med"].median()
    return c["n"].to_numpy(float), c[f"{col}_med"].to_numpy(float)


def statements(cells, baseline: str = DEFAULT_BASELINE) -> list[str]:
    """Every crossover statement the cells allow, grouped by target.

    A pair is stated only when both curves have at least one usable cell.
    """
    out = []
    for model, dataset in scaling_groups(cells):
        g = cells[(cells["model"] == model) & (cells["dataset"] == dataset)]
        target = f"{model}/{dataset}"
        devices = sorted(set(g["device"].dropna()))
        if {"cpu", "gpu"} <= set(devices):
            for method in sorted(set(g["method"])):
                vi = g.loc[g["method"] == method, "family"].iloc[0] == "vi"
                col, what = ("time_to_result_s", "time to result") if vi else ("ess_per_s", "ESS/s")
                a, b = _curve(g, method, "gpu", col), _curve(g, method, "cpu", col)
                if len(a[0]) and len(b[0]):
                    c = stats.crossover(*a, *b, higher_is_better=not vi)
                    out.append(f"{target}: " + sentence(f"{method} on GPU", f"{method} on CPU", c, what))
        for device in devices:
            if baseline not in set(g.loc[g["device"] == device, "method"]):
                continue
            base = f"{baseline} ({device})"
            for method in sorted(set(g.loc[g["device"] == device, "method"])):
                if method == baseline:
                    continue
                this = g.loc[g["method"] == method].iloc[0]
                family = this["family"]
                if this["subsamples"]:
                    col, what, higher = "ess_per_s", "ESS/s", True
                elif family == "vi":
                    col, what, higher = "time_to_result_s", "time to result", False
                else:
                    continue
                a, b = _curve(g, method, device, col), _curve(g, baseline, device, col)
                if len(a[0]) and len(b[0]):
                    c = stats.crossover(*a, *b, higher_is_better=higher)
                    out.append(f"{target}: " + sentence(f"{method} ({device})", base, c, what))
                    if family == "vi":
                        out.append(f"{target}: " + takes_over(g[g["device"] == device], method, baseline,
                                                              f"{method} ({device})", base))
                elif len(b[0]) and family == "vi":
                    out.append(f"{target}: " + never_usable(g[(g["method"] == method) & (g["device"] == device)],
                                                            f"{method} ({device})", base))
    return out


def never_usable(rows, name: str, base: str) -> str:
    """VI whose every cell is flagged (not converged by its rule, inaccurate, ...) never overtakes NUTS:
    it never gives a posterior to compare. Says so, with each size's flag."""
    flags = "; ".join(f"N = {size_label(r['n'])}: {r['flag']}" for _, r in rows.sort_values("n").iterrows())
    return (f"{name} gave no usable posterior at any measured size ({flags}): it does not overtake "
            f"{base} in the measured range.")


def takes_over(g, method: str, baseline: str, name: str, base: str) -> str:
    """From which measured N on the guide ``method`` is usable (converged by its rule, accurate against
    the reference) and decidedly faster to result than ``baseline`` at every measured size of the
    baseline's: the smallest such N, so the crossover lies between it and the size below, with each
    size's speedup: the baseline's time to result over the guide's, the ratio of medians over seeds
    with its 95 % interval (the report tables' ratio, ``tables._ratio``; "within noise" where it holds 1).
    A size where the guide is flagged says its flag."""
    def at(m, n):
        rows = g[(g["method"] == m) & (g["n"] == n)]
        return rows.iloc[0] if len(rows) else None

    sizes = sorted(set(g.loc[(g["method"] == baseline) & g["usable"], "n"]))
    parts, ok = [], []
    for n in sizes:
        b, v = at(baseline, n), at(method, n)
        if v is None or not v["usable"]:
            parts.append(f"N = {size_label(n)}: {'not measured' if v is None else v['flag']}")
            ok.append(False)
            continue
        r = tables._ratio(b, v, "time_to_result_s")
        parts.append(f"N = {size_label(n)}: {r.text(noise_word=True)}")
        ok.append(r.decided() and r.value > 1)
    first = len(ok)
    while first > 0 and ok[first - 1]:
        first -= 1
    if first == len(ok):
        wins = [size_label(n) for n, o in zip(sizes, ok) if o]
        head = (f"{name} is usable and decidedly faster than {base} at N = {', '.join(wins)}, not at the largest "
                f"measured size, N = {size_label(sizes[-1])}" if wins else
                f"{name} is not both usable and decidedly faster than {base} at any measured size")
    elif first == 0:
        head = f"{name} is usable and decidedly faster than {base} at every measured size, from N = {size_label(sizes[0])}"
    else:
        head = (f"{name} is usable and decidedly faster than {base} from N = {size_label(sizes[first])} on, not "
                f"at N = {size_label(sizes[first - 1])}: the crossover lies between the two")
    return f"{head} ({base}'s time to result over {name}'s, 95 % interval over seeds: {'; '.join(parts)})."
