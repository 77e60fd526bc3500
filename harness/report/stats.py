"""Small statistics for reports: ratios with uncertainty, log-log scaling fits, crossovers.

A ratio of two cells (:func:`ratio_interval`) is the ratio of their medians over seeds, with a 95 %
interval that carries the between-process noise, since every seed ran in its own process:

- both sides with two seeds or more: a percentile bootstrap of the ratio of medians over the seeds
  (``scipy.stats.bootstrap``, the two sides resampled independently, fixed ``rng`` seed so a report
  is reproducible);
- a side with one seed has no spread to resample: its median is held and the interval is widened by
  the measured process noise, :data:`PROCESS_NOISE` (17 %), as ``compare`` does, i.e. times
  [1 / (1 + noise), 1 + noise]; with one seed a side the interval is the ratio times that factor,
  so no ratio within 1.17x of 1 is ever called decided on one seed a side;
- "within noise" when the interval holds 1 (:meth:`Ratio.decided` False).

Printed as ``1.33x [1.10, 1.61]`` (:meth:`Ratio.text`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


#: Noise assumed for a figure timed once per process, where nothing was measured: 10 % for
#: run seconds (warmup, a loop timed once), 25 % for compile seconds (provenance:
#: docs/methodology.md, "Noise"). ``harness compare`` and the report's time-to-result band use them.
UNREPLAYED_NOISE = 0.10
COMPILE_NOISE = 0.25
#: Between-process noise of a replayed figure, which no replay inside one process shows: the same
#: cell run in two processes of one commit differs by more than its replays spread. The worst ratio
#: of the committed A/A pairs (results/default-aa, results/noise/aa), rounded up; the figures and
#: the commands that wrote them: docs/methodology.md, "Noise". ``harness compare`` never takes a
#: one-seed comparison's band below it (with several seeds per side, their spread already holds it).
PROCESS_NOISE = 0.17
#: Noise between two runs' medians over several seeds each, after ``harness compare`` put both at one host
#: speed (``harness.report.compare.host_normalised``): the 95th percentile of the host-normalised ratios of
#: the committed A/A pairs (``python -m benchmarks.host_noise``), rounded up. Pairs of one process a cell
#: taken back to back gave 1.065-1.10; three runs of the ``noise`` suite with three seeds a cell, taken
#: 5 to 11 hours apart on one 2-core Xeon whose host reference moved 0.5x to 2.2x between them
#: (results/noise/drift-*), gave 1.257-1.290: what a verdict between runs must allow for on a shared
#: machine. The seeds of one run share its hour of the host, so their spread alone says nothing of the next
#: run; ``compare`` never takes a band between seed sets below this. Measured with three seeds a side.
SEEDS_NOISE = 0.30


class Ratio(NamedTuple):
    """a / b with its interval; NaN where either side is missing or not positive."""

    value: float
    low: float
    high: float

    def decided(self) -> bool:
        """Whether the interval excludes 1 (else the two are within noise)."""
        return bool(np.isfinite(self.low) and np.isfinite(self.high) and (self.low > 1 or self.high < 1))

    def text(self, noise_word: bool = False) -> str:
        """``1.33x [1.10, 1.61]``; with ``noise_word``, `` within noise`` appended where the interval holds 1."""
        if not np.isfinite(self.value):
            return "-"
        if np.isfinite(self.low) and np.isfinite(self.high) and (self.low, self.high) != (self.value, self.value):
            out = f"{_num(self.value)}x [{_num(self.low)}, {_num(self.high)}]"
            return out + (" within noise" if noise_word and not self.decided() else "")
        return f"{_num(self.value)}x"


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.2e}"


def _positive(*xs) -> bool:
    return all(x is not None and np.isfinite(x) and x > 0 for x in xs)


def _values(xs) -> np.ndarray:
    a = np.asarray([] if xs is None else list(xs), dtype=float)
    return a[np.isfinite(a) & (a > 0)]


def ratio_interval(a, b, noise: float = PROCESS_NOISE, confidence: float = 0.95, seed: int = 0) -> Ratio:
    """median(a) / median(b) over seeds with its interval (module docstring): a percentile bootstrap
    where both sides have two values or more, a one-value side held fixed and the interval widened
    by (1 + ``noise``) each way; NaN where a side has no positive value."""
    a, b = _values(a), _values(b)
    if not (len(a) and len(b)):
        return Ratio(math.nan, math.nan, math.nan)
    value = float(np.median(a) / np.median(b))
    many = [x for x in (a, b) if len(x) > 1]
    lo = hi = value
    if many:
        from scipy import stats as sps

        def stat(*samples, axis=-1):
            it = iter(samples)
            num = np.median(next(it), axis=axis) if len(a) > 1 else np.median(a)
            den = np.median(next(it), axis=axis) if len(b) > 1 else np.median(b)
            return num / den

        res = sps.bootstrap(tuple(many), stat, n_resamples=2000, confidence_level=confidence, method="percentile",
                            vectorized=True, rng=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if len(a) == 1 or len(b) == 1:  # a one-process side: its figure moves by the process noise
        lo, hi = lo / (1 + noise), hi * (1 + noise)
    return Ratio(value, min(lo, value), max(hi, value))


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
