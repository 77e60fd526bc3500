"""Published figures a run is set beside, each with where it came from and on what hardware.

NumPyro's large-data benchmark notebook ("Benchmark NumPyro in large dataset", pyro-ppl/numpyro;
the figures as issue #15 quotes them): Bayesian logistic regression on UCI covertype (581,012 x 55,
float32), one chain, HMC with step sqrt(0.5 / N) and 10 leapfrog steps without adaptation, and
NUTS; milliseconds per leapfrog step, on a CPU the notebook does not name and on an NVIDIA RTX 2070
(CUDA 10.1; 448 GB/s peak memory bandwidth by its specification).

Times on different machines do not compare; what a gradient of this model must do does: read X
twice (X beta, then X^T r), 2 x N x 55 x 4 bytes, 256 MB at N = 581,012. So :func:`covtype`
normalises every figure, ours and theirs, to the bandwidth it implies (GB/s of X read per leapfrog
step) and, where the machine's bandwidth is known (ours: the harness's probe; the RTX 2070: its
specification), to the share of it the sampler achieved.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from harness.report.render import Table, Text
from harness.report.tables import fmt

COVTYPE_MODEL = "covtype_synthetic"
COVTYPE_N, COVTYPE_D = 581_012, 55


class Published(NamedTuple):
    """One published figure: the harness method that runs the same algorithm, what ran, where."""

    method: str
    algorithm: str
    device: str
    hardware: str
    ms_per_step: float
    peak_gbs: float | None  # the hardware's memory bandwidth, None where the source does not name it


COVTYPE = (
    Published("numpyro_hmc", "HMC, step sqrt(0.5/N), 10 steps", "cpu", "CPU (not named by the notebook)", 27.8, None),
    Published("numpyro_nuts", "NUTS", "cpu", "CPU (not named by the notebook)", 28.0, None),
    Published("numpyro_hmc", "HMC, step sqrt(0.5/N), 10 steps", "gpu", "NVIDIA RTX 2070", 1.6, 448.0),
    Published("numpyro_nuts", "NUTS", "gpu", "NVIDIA RTX 2070", 2.2, 448.0),
)
SOURCE = "NumPyro benchmark notebook (covtype, one chain)"


def _hardware(row) -> str:
    """What ran the cell: the accelerator's kind for a GPU row (its host CPU only drives it), else the CPU."""
    kind, cpu = row.get("device_kind"), row.get("cpu")
    if row.get("device") == "gpu" and isinstance(kind, str) and kind:
        return kind
    return cpu if isinstance(cpu, str) and cpu else (kind if isinstance(kind, str) and kind else "?")


def x_gb_per_s(ms_per_step: float, n: int = COVTYPE_N, d: int = COVTYPE_D, itemsize: int = 4) -> float:
    """GB/s of X read when one leapfrog step (one gradient) reads X twice in ``ms_per_step``."""
    return 2 * n * d * itemsize / (ms_per_step * 1e-3) / 1e9 if ms_per_step > 0 else math.nan


def covtype(df: pd.DataFrame) -> list:
    """Our covtype rows beside the published figures (empty when the run has none): ms per leapfrog
    step, the GB/s of X it implies, the share of the machine's bandwidth, and x roofline."""
    ours = df[(df["model"] == COVTYPE_MODEL) & (df["status"] == "ok")] if "model" in df else df.iloc[:0]
    if ours.empty:
        return []
    columns = ["source", "method", "device / hardware", "N", "ms per leapfrog step", "GB/s of X read",
               "share of bandwidth", "x roofline"]
    rows = []
    for r in ours.sort_values(["method"]).to_dict("records"):
        ms = r["us_per_grad"] * int(r.get("num_chains") or 1) / 1e3  # one step of all the (vmapped) chains
        gbs = x_gb_per_s(ms, int(r["n"]))
        bw = r.get("bandwidth_gbs")
        roof = r.get("roofline_us_per_grad")
        rows.append(["this run", r["method"], f"{r['device']} / {_hardware(r)}",
                     f"{int(r['n']):,}", fmt(ms), fmt(gbs),
                     f"{gbs / bw:.0%} of {fmt(bw)} GB/s measured" if bw and bw > 0 else "n/a",
                     fmt(r["us_per_grad"] / roof) if roof and roof > 0 else "n/a"])
    for p in COVTYPE:
        gbs = x_gb_per_s(p.ms_per_step)
        rows.append([SOURCE, f"{p.method} ({p.algorithm})", f"{p.device} / {p.hardware}", f"{COVTYPE_N:,}",
                     fmt(p.ms_per_step), fmt(gbs),
                     f"{gbs / p.peak_gbs:.0%} of {fmt(p.peak_gbs)} GB/s (spec)" if p.peak_gbs else "n/a (hardware not named)",
                     "n/a"])
    note = Text("ms per leapfrog step = sampling seconds per leapfrog step of all chains together (the suite runs "
                "one chain, as the notebook did). GB/s of X read = "
                "2 x N x 55 x 4 bytes per step over that time: the bandwidth a step implies, comparable across "
                "machines; share of bandwidth: over this host's measured streaming bandwidth (harness.roofline) "
                "or the GPU's specification. Our data are a synthetic stand-in of the same shape "
                "(harness.targets.covtype): only per-step costs compare, not ESS.")
    return [Table(columns, rows, "covtype: this run beside NumPyro's published figures"), note]
