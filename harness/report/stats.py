"""Small statistics for reports: ratios with uncertainty, log-log scaling fits, crossovers.

Uncertainty of a ratio of two cells is taken from the spread over seeds: the
point estimate is the ratio of medians, the interval is [min_a / max_b,
max_a / min_b], the widest ratio the seeds allow. With three to five seeds a
bootstrap has too few distinct resamples to beat this, and the min-max bound
never looks tighter than the data.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


#: Noise assumed for a figure timed once per process, where nothing was measured: 10 % for
#: run seconds (warmup, a loop over 10 s), 25 % for compile seconds (NumPyro's own A/A runs
#: measured 5 % and 25 %). ``harness compare`` and the report's time-to-result band use them.
UNREPLAYED_NOISE = 0.10
COMPILE_NOISE = 0.25
#: Between-process noise of a replayed figure, which no replay inside one process shows: the same
#: cell run in two processes of one commit differs by more than its replays spread. Measured on the
#: committed A/A pairs at 2f0bf8a (one core per cell), 115 cells: the default suite twice
#: (results/default-aa: median 1.03x, 95th percentile 1.10x, worst 1.165x) and the noise suite twice
#: (results/noise/aa: worst 1.11x), with replay bands as tight as +-1 %. The band is the worst
#: of them, rounded up. ``harness compare`` never takes a one-seed comparison's band below it (with
#: several seeds per side, their spread already holds it).
PROCESS_NOISE = 0.17


class Ratio(NamedTuple):
    """a / b with its seed-spread interval; NaN where either side is missing or not positive."""

    value: float
    low: float
    high: float

    def text(self) -> str:
        if not np.isfinite(self.value):
            return "-"
        if np.isfinite(self.low) and np.isfinite(self.high) and (self.low, self.high) != (self.value, self.value):
            return f"{_num(self.value)}x [{_num(self.low)}-{_num(self.high)}]"
        return f"{_num(self.value)}x"


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.2e}"


def _positive(*xs) -> bool:
    return all(x is not None and np.isfinite(x) and x > 0 for x in xs)


def ratio(a_med, a_min, a_max, b_med, b_min, b_max) -> Ratio:
    """Ratio of medians a/b with the min-max interval (see module docstring)."""
    if not _positive(a_med, b_med):
        return Ratio(math.nan, math.nan, math.nan)
    value = a_med / b_med
    if _positive(a_min, a_max, b_min, b_max):
        return Ratio(value, a_min / b_max, a_max / b_min)
    return Ratio(value, math.nan, math.nan)


class Fit(NamedTuple):
    """log10 y = intercept + slope * log10 x over the points given."""

    slope: float
    intercept: float
    points: int


def loglog_fit(x, y) -> Fit:
    """Least-squares line through (log x, log y) of the positive finite points; NaN slope under 2 sizes."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = np.log10(x[keep]), np.log10(y[keep])
    if len(np.unique(x)) < 2:
        return Fit(math.nan, math.nan, int(keep.sum()))
    slope, intercept = np.polyfit(x, y, 1)
    return Fit(float(slope), float(intercept), int(keep.sum()))


class Crossover(NamedTuple):
    """Where one curve overtakes the other.

    ``n`` is the interpolated size of the first sign change of log(y_a / y_b)
    (NaN when none); ``between`` the measured sizes around it; ``state`` one of
    'a_overtakes' (a better above n), 'b_overtakes', 'a_ahead' (a better at every
    common size), 'b_ahead', 'too_few' (fewer than two common sizes).
    """

    n: float
    between: tuple
    state: str
    sizes: tuple


def crossover(n_a, y_a, n_b, y_b, higher_is_better: bool = True) -> Crossover:
    """First size where the better curve changes, interpolating log(y_a / y_b) linearly in log N.

    Only sizes measured for both curves are used; a tie counts as b ahead.
    """
    a = {float(n): float(y) for n, y in zip(n_a, y_a) if _positive(n, y)}
    b = {float(n): float(y) for n, y in zip(n_b, y_b) if _positive(n, y)}
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return Crossover(math.nan, (), "too_few", tuple(common))
    sign = 1.0 if higher_is_better else -1.0
    d = [sign * (math.log(a[n]) - math.log(b[n])) for n in common]  # > 0: a better
    for i in range(1, len(common)):
        if (d[i - 1] > 0) != (d[i] > 0):
            lo, hi = math.log(common[i - 1]), math.log(common[i])
            t = d[i - 1] / (d[i - 1] - d[i])
            state = "a_overtakes" if d[i] > 0 else "b_overtakes"
            return Crossover(math.exp(lo + t * (hi - lo)), (common[i - 1], common[i]), state, tuple(common))
    return Crossover(math.nan, (), "a_ahead" if d[0] > 0 else "b_ahead", tuple(common))
