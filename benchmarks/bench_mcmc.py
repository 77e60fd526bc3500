"""MCMC methods over method x target x size: step costs (time_) and efficiency (track_).

Every figure is lower-is-better (asv reads any increase as a regression) and
carries its unit. ``version`` is pinned on each benchmark so its history
survives edits to this file; bump it only when the measured quantity changes.
See benchmarks/common.py for the parameter lists and when a combination is skipped.
"""

from __future__ import annotations

from benchmarks import common


class StepCost:
    """Per-gradient and per-draw cost of each method's own compiled sampling loop.

    ``setup`` runs the method once through ``harness.methods`` (cached per
    process: asv calls setup before every repeat) while ``harness.timing``
    records its compiled loops; the timed call re-runs the sampling loop with the
    same arguments, so it does exactly the method's work: ``grad_evals_sample``
    gradient evaluations (NUTS: the sum of tree sizes; the seed HMC: L + 1 per
    iteration) for num_chains x num_samples draws. The clock is scaled by that
    work (common.WorkClock), so asv reports seconds per gradient / per draw.
    """

    params = common.PARAMS
    param_names = common.PARAM_NAMES
    rounds = 1
    repeat = (3, 10, 30.0)
    number = 1
    timeout = 600

    def setup(self, method, target, n):
        self.loop, self.result = common.sampling_loop(method, target, n)

    def _run(self):
        self.loop()


class TimePerGradient(StepCost):
    def setup(self, method, target, n):
        super().setup(method, target, n)
        self.timer = common.WorkClock(self.result.grad_evals_sample)

    def time_per_gradient(self, method, target, n):
        """Seconds per gradient evaluation of the sampling loop (all chains' gradients counted)."""
        self._run()

    time_per_gradient.version = "1"
    time_per_gradient.pretty_name = "sampling loop: seconds per gradient evaluation"


class TimePerDraw(StepCost):
    def setup(self, method, target, n):
        super().setup(method, target, n)
        self.timer = common.WorkClock(common.NUM_CHAINS * common.STEP_RUN["num_samples"])

    def time_per_draw(self, method, target, n):
        """Seconds per draw (one chain, one iteration) of the sampling loop."""
        self._run()

    time_per_draw.version = "1"
    time_per_draw.pretty_name = "sampling loop: seconds per draw"


class Efficiency:
    """Figures of a full run (warmup + draws) measured once per cell in a fresh process.

    ``setup_cache`` probes every combination of the suite in its own child
    process (benchmarks/_probe.py) once per asv run; the track_ benchmarks read
    the figures. Compile seconds are therefore a cold compile in a fresh process.
    """

    params = common.PARAMS
    param_names = common.PARAM_NAMES

    def setup_cache(self):
        return {(m, t, n): common.probe(m, t, n) for m in common.METHODS for t in common.TARGETS for n in common.SIZES}

    setup_cache.timeout = 3600

    def setup(self, probes, method, target, n):
        self.figures = probes.get((method, target, n), {"skipped": "not probed"})
        if "skipped" in self.figures:
            raise NotImplementedError(self.figures["skipped"])
        if "failed" in self.figures:
            raise RuntimeError(self.figures["failed"])

    def _figure(self, name):
        """A probed figure; NaN (shown as n/a) where this checkout could not measure it."""
        value = self.figures[name]
        return float("nan") if value is None else value

    def track_compile_seconds(self, probes, method, target, n):
        """Seconds tracing + lowering + compiling the method's loops, cold, in a fresh process."""
        return self.figures["compile_s"]

    track_compile_seconds.unit = "seconds"
    track_compile_seconds.version = "1"

    def track_overhead_ratio(self, probes, method, target, n):
        """Sampling-loop seconds per gradient / gradient-floor seconds per gradient (same batch)."""
        return self._figure("overhead_ratio")

    track_overhead_ratio.unit = "ratio"
    track_overhead_ratio.version = "1"

    def track_peak_rss(self, probes, method, target, n):
        """Peak resident memory of the process that ran the cell (JAX runtime included)."""
        return self.figures["peak_rss_bytes"]

    track_peak_rss.unit = "bytes"
    track_peak_rss.version = "1"

    def track_sampling_loop_bytes(self, probes, method, target, n):
        """XLA's memory estimate of the compiled sampling loop: arguments + outputs + temporaries."""
        return self._figure("loop_bytes")

    track_sampling_loop_bytes.unit = "bytes"
    track_sampling_loop_bytes.version = "1"


def _tracker(tracked):
    def track(self, probes, method, target, n):
        return self._figure(tracked.name)

    track.__doc__ = (f"{tracked.doc} NaN (n/a in asv) when the cell did not converge (R-hat >= 1.01 or bulk "
                     "ESS < 400 anywhere): a fast sampler that has not mixed must not read as an improvement.")
    track.unit = getattr(tracked, "unit", "seconds")
    track.version = "1"  # unchanged for converged cells: their history goes on
    return track


# One track_ benchmark per figure the row schema marks as tracked (harness.schema.TRACKED), e.g.
# track_seconds_per_kess: a figure added to the schema is tracked without an edit here.
for _column, _tracked in common.tracked():
    setattr(Efficiency, f"track_{_tracked.name}", _tracker(_tracked))
