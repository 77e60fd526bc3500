"""``harness compare BASE NEW``: per cell, base, new, ratio and a verdict above or within noise.

Inputs (both sides the same kind):

- run directories (``rows.jsonl``): cells are matched on their configuration
  (:data:`harness.report.frame.CONFIG`: target, size, method, options, device,
  precision, chains, warmup, samples, data seed, xla_devices, xla_flags), seeds
  pooled; the figure is a row column (``--metric``, default ``ess_per_s``). Every
  figure but the ESS-based ones (seconds, us per gradient, overhead ratio, memory)
  is compared on every row with status ok, converged or not: a per-gradient slowdown
  of a sampler that never converges is still a slowdown. An ESS-based figure
  (:data:`ESS_BASED`) only on MCMC rows that converged, are not a point estimate and do
  not miss their reference: an unmixed chain's ESS is no efficiency, a VI guide's none at all;
- pytest-benchmark JSON files (``--benchmark-json`` output): benchmarks matched
  on ``fullname``; the figure is the median round time, its spread the
  interquartile range of the rounds (q1, q3). asv results are not read: use
  ``asv compare``, which knows asv's own format.

Rule (all on the log scale, so faster and slower are symmetric). Let
t = new cost / base cost (for a higher-is-better figure such as ESS/s,
t = base / new) and d = log t. Each side's spread is measured, never assumed:

- the replays of the sampling loop within each row (``sample_s_min`` /
  ``sample_s_max`` around the median ``sample_s``, see :mod:`harness.cell`) give the
  spread of every figure that is the sampling seconds times a constant of the row
  (``sample_s``, ``us_per_grad``, ``ess_per_s``); ``overhead_ratio_min`` / ``_max``
  that of the overhead ratio;
- with two or more seeds, the spread over the seeds (each seed's own replay range
  included): lowest low to highest high around the median of the medians.

Host (run directories, the figures timed beside the host reference: :data:`HOST_FIGURES`): each row
timed its host reference between its replays (``ref_us_per_grad``, and ``ref_program``, the compiled
program's identity). Where both sides timed one reference program, the reference's move between
them is the host's (a shared machine drifts by 5-15 % over an hour), so each row is put at one host
speed before anything else (:func:`host_normalised`); where the program differs (new data, a model or
compiler change) the figures are compared as measured. ``host=False`` (``--raw``) never normalises.
The output says which cells were normalised and how far the host moved.

The noise band is the sum of the two sides' half-spreads, max(log(hi/median),
log(median/lo)): the medians must differ by more than both ranges allow; where a
side is one row (one process), at least ``stats.PROCESS_NOISE`` (17 %): two processes
of one commit differ by up to that much even where their replays agree within 1 %
(measured: ``results/default-aa``, ``results/noise/aa``); with several seeds (processes) on both
sides, at least ``stats.SEEDS_NOISE`` (30 %): what host-normalised medians over three seeds of two
runs of one commit hours apart differ by (``python -m benchmarks.host_noise``), which a median over
three seeds, each tight, does not shrink: the seeds of one run share its hour of the host.
What no band here can see: this shared machine sometimes runs a cell's loop and
floor alike 1.3-1.8x slower for tens of seconds (results/noise/README.md); a
cell's replays then agree with each other and disagree with the other run. Where a
side has no measured spread (one seed of a figure that is not replayed: compile,
warmup or wall seconds; a loop over 10 s, timed once) a default threshold stands
in: 10 % for run figures, 25 % for compile seconds (NumPyro's A/A runs measured
5 % and 25 % on a quiet machine; this shared machine is noisier), and, such a side
being one process, never below ``stats.PROCESS_NOISE`` either: a loop's length
averages over the host's short disturbances, not over what differs between two
processes (the A/A pair at 3ad7b23 called diamonds' 15 s NumPyro NUTS loop, timed
once, slower at 1.11x under a 10 % band).

Machines: a ratio of two machines' figures measures the machines, not the change. Run directories
from different machines (:func:`harness.environment.machine_name`; a side whose rows span two
counts as different) are refused (UsageError naming them) unless ``allow_machines``, in which case
the output says so at its top. Every output names the machines, commits and measured dates of
both sides at its top (:func:`header`).

Verdict: ``slower`` when d > noise, ``faster`` when d < -noise, else ``same``.
A cell whose base has usable rows and new has none (failed, or every seed
flagged) is ``broken``; cells in one side only are ``only base`` / ``only new``.
``--fail-on-regression PCT`` fails (exit 1) when some cell is broken or slower
by more than PCT beyond the noise: d - noise > log(1 + PCT/100).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from harness import UsageError, schema, store
from harness.report import frame, stats, tables
from harness.report.render import Table, Text, to_markdown
from harness.report.tables import fmt, size_label

#: Figures a run directory can be compared on, and whether higher is better (declared in harness.schema).
METRICS = schema.METRICS
#: Figures read off converged rows only; every other figure is compared on every ok row.
ESS_BASED = schema.ESS_BASED
#: Figure -> (its spread's low and high as a function of the row's columns), where replays measured one.
#: Figures proportional to the sampling seconds share their relative spread; ESS/s moves inversely.
_SPREAD = {
    "sample_s": lambda r: (r["sample_s_min"], r["sample_s_max"]),
    "us_per_grad": lambda r: (r["us_per_grad"] * r["sample_s_min"] / r["sample_s"],
                              r["us_per_grad"] * r["sample_s_max"] / r["sample_s"]),
    "ess_per_s": lambda r: (r["ess_per_s"] * r["sample_s"] / r["sample_s_max"],
                            r["ess_per_s"] * r["sample_s"] / r["sample_s_min"]),
    "overhead_ratio": lambda r: (r["overhead_ratio_min"], r["overhead_ratio_max"]),
}
#: Figures timed beside the host reference, between the replays: ``compare`` puts them at one host speed
#: (:func:`host_normalised`). The overhead ratio is paired with its own floor, so the host cancels in it.
HOST_FIGURES = ("sample_s", "us_per_grad", "ess_per_s")
DEFAULT_NOISE = stats.UNREPLAYED_NOISE
COMPILE_NOISE = stats.COMPILE_NOISE


class Side(NamedTuple):
    """One cell on one side: median, min, max (or q1, q3), repeats."""

    med: float
    lo: float
    hi: float
    k: int


def default_noise(metric: str) -> float:
    return COMPILE_NOISE if metric == "compile_s" else DEFAULT_NOISE


def _given(v) -> bool:
    return v is not None and not pd.isna(v)


_LABEL_ORDER = ("model", "n", "method", "device", "num_chains", "precision", "num_warmup", "data_seed")


def _config_words(rec: dict) -> dict:
    """How a configuration column reads in a cell's label; None to leave it out (unset or default)."""
    def given(k):
        return _given(rec.get(k))

    return {
        "model": f"{rec.get('model')}/{rec.get('dataset')}", "dataset": None,
        "n": f"N={size_label(rec.get('n'))}", "method": str(rec.get("method")), "device": str(rec.get("device")),
        "num_chains": f"{int(rec['num_chains'])} chains" if given("num_chains") else None,
        "precision": rec["precision"] if isinstance(rec.get("precision"), str) else None,
        "num_warmup": (f"{int(rec['num_warmup'])}+{int(rec['num_samples'])} iters"
                       if given("num_warmup") and given("num_samples") else None),
        "num_samples": None,
        "data_seed": f"data seed {int(rec['data_seed'])}" if given("data_seed") else None,
        "xla_devices": f"{int(rec['xla_devices'])} xla devices" if given("xla_devices") else None,
        "cpus": f"{int(rec['cpus'])} core{'s' if int(rec['cpus']) != 1 else ''}" if given("cpus") else None,
        "xla_flags": rec["xla_flags"] if isinstance(rec.get("xla_flags"), str) and rec["xla_flags"] else None,
        "target_ess": (f"to ESS {rec['target_ess']:g} (cap {int(rec['max_draws'])})"
                       if given("target_ess") else None),
        "max_draws": None,
        "options": rec["options"] if isinstance(rec.get("options"), str) and rec["options"] not in ("{}", "") else None,
    }


def _cell_label(rec: dict) -> str:
    """The cell's whole configuration in words (every ``frame.CONFIG`` column: those of ``_LABEL_ORDER`` first,
    then the schema's order, the options last): one label, one cell. A configuration column without its own
    wording reads ``name=value``."""
    words = _config_words(rec)
    order = [c for c in _LABEL_ORDER if c in frame.CONFIG]
    order += [c for c in frame.CONFIG if c not in order and c != "options"] + ["options"]
    parts = []
    for col in order:
        if col in words:
            part = words[col]
        else:
            part = f"{col}={rec[col]}" if _given(rec.get(col)) and rec.get(col) != "" else None
        if part:
            parts.append(part)
    return " ".join(parts)


def _row_spread(rec: dict, metric: str) -> tuple[float, float]:
    """(low, high) of one row's figure from its replays; NaN where none was measured."""
    try:
        lo, hi = _SPREAD[metric](rec)
        lo, hi = float(lo), float(hi)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return math.nan, math.nan
    replays = rec.get("sample_replays")
    if not (np.isfinite(lo) and np.isfinite(hi) and _given(replays) and replays >= 3 and 0 < lo <= hi):
        return math.nan, math.nan
    return lo, hi


def _summarise(rows: list[dict], metric: str) -> Side:
    """Median over the rows (seeds) of the figure, and the spread around it (module docstring).

    One row: its replay range (``k`` = 1, ``lo``/``hi`` NaN when unmeasured). Several:
    the lowest low and highest high over the seeds, each seed's replay range included.
    """
    vals, los, his, measured = [], [], [], False
    for rec in rows:
        v = pd.to_numeric(rec.get(metric), errors="coerce")
        if not (np.isfinite(v) and v > 0):
            continue
        lo, hi = _row_spread(rec, metric)
        measured |= bool(np.isfinite(lo))
        vals.append(float(v))
        los.append(min(lo, v) if np.isfinite(lo) else v)
        his.append(max(hi, v) if np.isfinite(hi) else v)
    if not vals:
        return Side(math.nan, math.nan, math.nan, 0)
    if len(vals) == 1 and not measured:  # one figure, no replays: no spread to measure
        return Side(vals[0], math.nan, math.nan, 1)
    return Side(float(np.median(vals)), min(los), max(his), len(vals))


def read_rows(path: Path, metric: str) -> dict:
    """Cell label -> the rows a comparison of ``metric`` reads: timing figures from every ok row, ESS-based
    ones from rows that converged, are no point estimate and do not miss their reference."""
    df = frame.load(path)
    if metric not in df:
        raise UsageError(f"no column {metric!r} in {path}; valid metrics: {', '.join(METRICS)}")
    keep = df["status"].eq("ok")
    if metric in ESS_BASED:  # never for VI: a guide's draws are independent, their ESS counts them
        converged = df["converged"].fillna(False).astype(bool)
        keep &= converged & ~df["inaccurate"].astype(bool) & ~df["point_estimate"].astype(bool) & df["family"].ne("vi")
    keys = [c for c in frame.CONFIG if c in df]
    out = {}
    for key, g in df.groupby(keys, dropna=False, sort=True):
        rec = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        out[_cell_label(rec)] = g[keep.loc[g.index]].to_dict("records")
    return out


def read_run(path: Path, metric: str) -> dict:
    """Cell label -> Side of the figure as the rows hold it (:func:`read_rows`, :func:`_summarise`)."""
    return {label: _summarise(rows, metric) for label, rows in read_rows(path, metric).items()}


def host_normalised(base: list[dict], new: list[dict], metric: str) -> tuple[list, list, float]:
    """Both sides' rows with ``metric`` (and the columns its replay spread is read from) put at one host
    speed, and the host's move (NEW's median reference over BASE's); the rows unchanged and NaN where
    the figure is not timed beside the reference (:data:`HOST_FIGURES`) or the two sides did not time
    one reference program.

    Each row timed its host reference (``ref_us_per_grad``) between its replays. Where every row of
    the cell, on both sides, names the same ``ref_program`` (one compiled program, same inputs' shapes,
    same jax and jaxlib: :func:`harness.timing.program_id`), a reference that moved can only be the
    host, so each row's seconds are multiplied by H / its reference (H: the median reference over both
    sides' rows; an ESS/s divided by it). A change that moves the reference's own program (new data, a
    model or compiler change: another ``ref_program``) is compared as measured."""
    rows = base + new
    if metric not in HOST_FIGURES or not (base and new):
        return base, new, math.nan
    refs = [pd.to_numeric(r.get("ref_us_per_grad"), errors="coerce") for r in rows]
    programs = {r.get("ref_program") for r in rows}
    if len(programs) != 1 or not isinstance(next(iter(programs)), str) or not all(np.isfinite(x) and x > 0 for x in refs):
        return base, new, math.nan
    h = float(np.median(refs))

    def scaled(r):
        f = h / float(r["ref_us_per_grad"])
        out = dict(r)
        for col in ("sample_s", "sample_s_min", "sample_s_max", "us_per_grad"):
            if _given(out.get(col)):
                out[col] = out[col] * f
        if _given(out.get("ess_per_s")):
            out["ess_per_s"] = out["ess_per_s"] / f
        return out

    move = float(np.median(refs[len(base):]) / np.median(refs[:len(base)]))
    return [scaled(r) for r in base], [scaled(r) for r in new], move


def read_pytest_benchmark(path: Path) -> dict:
    """Benchmark fullname -> Side(median, q1, q3, rounds) from a pytest-benchmark JSON file."""
    try:
        data = json.loads(path.read_text())
        sides = {b["fullname"]: Side(float(b["stats"]["median"]), float(b["stats"]["q1"]), float(b["stats"]["q3"]),
                                     int(b["stats"]["rounds"])) for b in data["benchmarks"]}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:  # a non-UTF-8 file too
        raise UsageError(f"{path}: not a pytest-benchmark JSON file ({type(e).__name__}: {e})") from None
    for name, s in sides.items():  # times: the comparison is on the log scale
        if not 0 < s.lo <= s.med <= s.hi < math.inf:
            raise UsageError(f"{path}: benchmark {name!r} has median {s.med:g} s, q1 {s.lo:g}, q3 {s.hi:g}; "
                             "times must be positive and finite with q1 <= median <= q3")
    return sides


def read(path, metric: str) -> tuple[str, dict]:
    """('run', cell -> rows) or ('pytest-benchmark', cell -> Side) for a path; UsageError for anything else."""
    p = Path(path)
    if p.is_dir() and store.rows_path(p).is_file():
        return "run", read_rows(p, metric)
    if p.is_file() and p.suffix == ".json":
        return "pytest-benchmark", read_pytest_benchmark(p)
    raise UsageError(f"{path}: not a run directory (with {store.ROWS_FILE}) nor a pytest-benchmark .json file")


def _half_spread(s: Side) -> float:
    return max(math.log(s.hi / s.med), math.log(s.med / s.lo))


def _measured(s: Side) -> bool:
    return np.isfinite(s.lo) and np.isfinite(s.hi)


def verdict(base: Side, new: Side, higher_is_better: bool, threshold: float,
            processes: bool = True) -> tuple[str, float, float]:
    """(verdict, d, noise) for one cell, by the rule in the module docstring. ``processes``: a Side's ``k``
    counts processes (a run's seeds); False where it counts rounds of one process (pytest-benchmark), which
    no floor for several processes applies to."""
    if not np.isfinite(base.med):
        return ("only new" if np.isfinite(new.med) else "no data"), math.nan, math.nan
    if not np.isfinite(new.med):
        return "broken", math.nan, math.nan
    d = math.log(base.med / new.med) if higher_is_better else math.log(new.med / base.med)
    if _measured(base) and _measured(new):
        noise = _half_spread(base) + _half_spread(new)
        if min(base.k, new.k) < 2:  # one process a side: never below what two processes differ by
            noise = max(noise, math.log1p(stats.PROCESS_NOISE))
        elif processes:  # seeds a side: never below what their medians were measured to move by
            noise = max(noise, math.log1p(stats.SEEDS_NOISE))
    else:  # no measured spread: one row a side (one process), so never below PROCESS_NOISE either
        noise = math.log1p(max(threshold, stats.PROCESS_NOISE))
    return ("slower" if d > noise else "faster" if d < -noise else "same"), d, noise


def _sides(base_path, new_path, allow_machines: bool) -> list[str]:
    """The header lines of a comparison of two run directories (module docstring, Machines); UsageError
    when their machines differ and ``allow_machines`` is False."""
    prov = {side: frame.provenance(frame.load(p)) for side, p in (("BASE", base_path), ("NEW", new_path))}
    lines = [f"{side} ({Path(p).name}): {frame.provenance_line(prov[side])}"
             for side, p in (("BASE", base_path), ("NEW", new_path))]
    machines = set(prov["BASE"]["machines"]) | set(prov["NEW"]["machines"])
    if len(machines) > 1:
        named = f"BASE on {' / '.join(prov['BASE']['machines'])}, NEW on {' / '.join(prov['NEW']['machines'])}"
        if not allow_machines:
            raise UsageError(f"the runs come from different machines ({named}): a ratio across machines measures "
                             "the machines; give --allow-machines to compare anyway")
        lines.insert(0, f"DIFFERENT MACHINES (--allow-machines): {named}; every ratio below mixes machine and change.")
    return lines


def compare(base_path, new_path, metric: str = "ess_per_s", threshold: float | None = None,
            allow_machines: bool = False, host: bool = True) -> pd.DataFrame:
    """One row per cell present on either side: base, new, new/base, noise, verdict, and ``host``: how far
    the host reference moved (NEW over BASE) where the figures were put at one host speed
    (:func:`host_normalised`; ``host=False``: never, the figures as measured). The table's
    ``attrs["header"]`` holds the lines naming both sides' machines, commits and dates, and how many
    cells were normalised."""
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
    kind_b, base = read(base_path, metric)
    kind_n, new = read(new_path, metric)
    moves = {}
    if kind_b == kind_n == "run":
        for cell in set(base) & set(new):
            b_rows, n_rows, move = host_normalised(base[cell], new[cell], metric) if host else (base[cell], new[cell], math.nan)
            base[cell], new[cell], moves[cell] = b_rows, n_rows, move
        base = {c: _summarise(rows, metric) for c, rows in base.items()}
        new = {c: _summarise(rows, metric) for c, rows in new.items()}
    if kind_b != kind_n:
        raise UsageError(f"cannot compare a {kind_b} with a {kind_n}: give two of the same kind")
    header = (_sides(base_path, new_path, allow_machines) if kind_b == "run"
              else [f"BASE {base_path}, NEW {new_path}: pytest-benchmark files (their machine_info is not compared)"])
    higher = METRICS[metric] if kind_b == "run" else False
    threshold = default_noise(metric) if threshold is None else threshold
    missing = Side(math.nan, math.nan, math.nan, 0)
    rows = []
    for cell in sorted(set(base) | set(new)):
        b, n = base.get(cell), new.get(cell)
        if b is None or n is None:
            rows.append(dict(cell=cell, base=(b or missing).med, new=(n or missing).med, ratio=math.nan,
                             noise_pct=math.nan, change=math.nan, verdict="only base" if n is None else "only new"))
            continue
        v, d, noise = verdict(b, n, higher, threshold, processes=kind_b == "run")
        rows.append(dict(cell=cell, base=b.med, base_k=b.k, new=n.med, new_k=n.k,
                         ratio=n.med / b.med if b.med > 0 and np.isfinite(n.med) else math.nan,
                         noise_pct=100 * math.expm1(noise) if np.isfinite(noise) else math.nan,
                         host=moves.get(cell, math.nan), d=d, noise=noise, verdict=v))
    out = pd.DataFrame(rows)
    if kind_b == "run":
        header.append(_host_line(out, metric, host))
    out.attrs.update(metric=metric if kind_b == "run" else "median seconds per round", higher_is_better=higher,
                     kind=kind_b, header=header)
    return out


def _host_line(table: pd.DataFrame, metric: str, host: bool) -> str:
    """The header line saying which cells were put at one host speed, and how far the host moved."""
    if not host:
        return "host: figures as measured (--raw): none divided by its host reference"
    if metric not in HOST_FIGURES:
        return f"host: {metric} is not timed beside the host reference: figures as measured"
    moved = table["host"].dropna() if "host" in table else pd.Series(dtype=float)
    both = int(np.isfinite(table["ratio"]).sum()) if "ratio" in table else 0
    if moved.empty:
        return (f"host: no cell timed one host reference program on both sides: figures as measured "
                f"({both} cells on both sides)")
    return (f"host: {len(moved)} of {both} cells on both sides put at one host speed (each row's seconds over "
            f"its host reference; same reference program both sides); the reference moved "
            f"{moved.min():.3f}x to {moved.max():.3f}x (median {moved.median():.3f}x) NEW over BASE")


def regressions(table: pd.DataFrame, pct: float) -> pd.DataFrame:
    """Cells broken, or slower by more than ``pct`` % beyond the noise."""
    d, noise = table.get("d", pd.Series(np.nan, index=table.index)), table.get("noise", pd.Series(np.nan, index=table.index))
    beyond = (d - noise) > math.log1p(pct / 100)
    return table[beyond.fillna(False) | table["verdict"].eq("broken")]


#: Verdicts in the order a reviewer reads them: what changed first.
ORDER = ("broken", "slower", "faster", "same", "only base", "only new", "no data")


def agreement(table: pd.DataFrame, within: float = 0.10) -> str:
    """One line on how far the two sides agree: cells with a figure on both, the share whose
    new/base lies within +-``within``, the worst ratio (as a factor >= 1) and the verdict counts."""
    both = table[np.isfinite(table["ratio"])] if "ratio" in table else table.iloc[:0]
    counts = table["verdict"].value_counts()
    verdicts = ", ".join(f"{k} {int(counts[k])}" for k in ORDER if k in counts)
    if both.empty:
        return f"no cell has a figure on both sides; verdicts: {verdicts}"
    factor = np.exp(np.abs(np.log(both["ratio"].to_numpy(float))))
    worst = int(np.argmax(factor))
    inside = int(np.sum(factor <= 1 + within + 1e-12))
    return (f"{len(both)} cells on both sides: {inside} ({100 * inside / len(both):.0f} %) within +-{100 * within:.0f} %, "
            f"worst {factor[worst]:.2f}x ({both['cell'].iloc[worst]}); verdicts: {verdicts}")


def as_table(table: pd.DataFrame) -> Table:
    """The cells that changed beyond noise first, then the rest, each group in cell order."""
    metric = table.attrs.get("metric", "")
    better = "higher is better" if table.attrs.get("higher_is_better") else "lower is better"
    order = table.assign(_o=table["verdict"].map(ORDER.index)).sort_values(["_o", "cell"], kind="stable")
    host = order["host"] if "host" in order else pd.Series(math.nan, index=order.index)
    rows = [[r["cell"], fmt(r["base"]), fmt(r["new"]), fmt(r["ratio"]),
             "-" if not np.isfinite(r["noise_pct"]) else f"{r['noise_pct']:.0f}%",
             "-" if not np.isfinite(h) else f"{h:.3f}x", r["verdict"]]
            for (_, r), h in zip(order.iterrows(), host)]
    return Table(["cell", "base", "new", "new/base", "noise", "host moved", "verdict"], rows, f"{metric} ({better})")


def _rankings(path) -> dict:
    """(model, dataset, N) -> (ranked cells in order as (label, tier), pairs marked 'within noise')."""
    out = {}
    for key, g in frame.aggregate(frame.load(path)).groupby(tables.GROUP, dropna=False, sort=True):
        order = tables.ranked(g).reset_index(drop=True)
        label = [f"{r['method']}@{r['device']}" for _, r in order.iterrows()]
        marks = tables._vs_next(order)
        ranked = [(label[i], r["rank"].rpartition(" ")[0]) for i, r in order.iterrows() if r["rank"] != "-"]
        noise = {frozenset(label[i:i + 2]) for i, m in enumerate(marks) if m.startswith("within noise")}
        out[key] = (ranked, noise)
    return out


def rank_swaps(base_dir, new_dir) -> list[str]:
    """Whether two runs rank alike: per target and size, every pair of cells ranked in one tier on both
    sides (MCMC by ESS/s, VI by time to result) whose order differs, and whether either side's report
    marks the two as neighbours within noise ('vs next'). First line: the counts; then one line per swap."""
    a, b = _rankings(base_dir), _rankings(new_dir)
    pairs, lines, marked = 0, [], 0
    for key in sorted(set(a) & set(b), key=str):
        (ra, na), (rb, nb) = a[key], b[key]
        pos_a, pos_b, tier_b = {x: i for i, (x, _) in enumerate(ra)}, {x: i for i, (x, _) in enumerate(rb)}, dict(rb)
        common = [(x, t) for x, t in ra if tier_b.get(x) == t]
        for i, (x, tx) in enumerate(common):
            for y, ty in common[i + 1:]:
                if tx != ty:
                    continue
                pairs += 1
                if (pos_a[x] < pos_a[y]) != (pos_b[x] < pos_b[y]):
                    noise = frozenset((x, y)) in na | nb
                    marked += noise
                    lines.append(f"{key[0]}/{key[1]} N={size_label(key[2])}: {x} and {y} swap"
                                 + (" (marked within noise)" if noise else " (NOT marked within noise)"))
    return [f"ranking: {pairs} pairs ranked on both sides, {len(lines)} swapped, {marked} of them marked "
            "within noise by a report", *lines]


def _verdicts(path) -> dict:
    """(model, dataset, N) -> (the first to a trustworthy posterior or None, the usable cells, and per pair of
    usable cells the verdicts a report draws: on time to result (the summary's 'first') and, between two MCMC
    cells, on ESS/s (the ranking's 'ahead'), each a :class:`harness.report.stats.Ratio` of the pair's first
    over its second)."""
    out = {}
    for key, g in frame.aggregate(frame.load(path)).groupby(tables.GROUP, dropna=False, sort=True):
        ok = g[g["usable"]].sort_values("time_to_result_s_med", kind="stable")
        cells = {f"{r['method']}@{r['device']}": r for _, r in ok.iterrows()}
        pairs = {}
        for x, y in itertools.combinations(sorted(cells), 2):
            a, b = cells[x], cells[y]
            pairs[(x, y, "time to result")] = tables._ratio(a, b, "time_to_result_s")
            if a["family"] == b["family"] == "mcmc":
                pairs[(x, y, "ESS/s")] = tables._ratio(a, b, "ess_per_s")
        out[key] = (next(iter(cells), None), set(cells), pairs)
    return out


def _direction(r: stats.Ratio, figure: str) -> int:
    """+1 where the pair's first is ahead (less time, more ESS/s), -1 where behind, 0 within noise."""
    if not r.decided():
        return 0
    ahead = r.high < 1 if figure == "time to result" else r.low > 1
    return 1 if ahead else -1


def verdict_agreement(base_dir, new_dir) -> list[str]:
    """Whether two runs (e.g. of disjoint seed sets) agree on every verdict that either calls decided, per
    target and size: no pair of cells is ahead in one and behind in the other (each decided: its interval
    excludes 1), and no run's first to a trustworthy posterior is untrustworthy (flagged, or missing) in the
    other. First line: the counts; then one line per disagreement, and per size the two runs' firsts."""
    a, b = _verdicts(base_dir), _verdicts(new_dir)
    decided_both = agree = one_side = 0
    lines, firsts = [], []
    for key in sorted(set(a) | set(b), key=str):
        where = f"{key[0]}/{key[1]} N={size_label(key[2])}"
        fa, ua, pa = a.get(key, (None, set(), {}))
        fb, ub, pb = b.get(key, (None, set(), {}))
        firsts.append(f"{where}: first {fa or 'none'} | {fb or 'none'}")
        for first, side, other, other_side in ((fa, "BASE", ub, "NEW"), (fb, "NEW", ua, "BASE")):
            if first is not None and first not in other:
                lines.append(f"{where}: {first} is first in {side} and not trustworthy in {other_side}")
        for pair in sorted(set(pa) | set(pb)):
            da = _direction(pa[pair], pair[2]) if pair in pa else 0
            db = _direction(pb[pair], pair[2]) if pair in pb else 0
            if da and db:
                decided_both += 1
                if da == db:
                    agree += 1
                else:
                    lines.append(f"{where}: {pair[0]} vs {pair[1]} on {pair[2]}: {pa[pair].text()} in BASE, "
                                 f"{pb[pair].text()} in NEW (opposite)")
            elif da or db:
                one_side += 1
    firsts_differ = sum(1 for key in set(a) & set(b) if a[key][0] != b[key][0])
    head = (f"verdicts: {decided_both} pair verdicts decided in both runs, {agree} agree, {decided_both - agree} "
            f"opposite; {one_side} decided in one run only (within noise, or a cell not trustworthy, in the other); "
            f"first to a trustworthy posterior differs in {firsts_differ} of {len(set(a) & set(b))} sizes; "
            f"{len(lines)} disagreement(s)")
    return [head, *lines, *firsts]


CHANGED = ("broken", "slower", "faster", "only base", "only new")


def review(table: pd.DataFrame, style: str = "text") -> str:
    """What a reviewer reads: the cells that changed beyond noise (or appeared, vanished, broke), then one
    line counting the rest. ``style="github"``: Markdown to paste in a pull request, with a heading, the
    agreement line and every cell folded in ``<details>``."""
    changed = table[table["verdict"].isin(CHANGED)]
    rest = table[~table["verdict"].isin(CHANGED)]["verdict"].value_counts()
    unchanged = (f"{int(rest.get('same', 0))} cell(s) unchanged within noise"
                 + "".join(f", {int(v)} {k}" for k, v in rest.items() if k != "same"))
    shown = to_markdown([as_table(changed)]) if len(changed) else "No cell changed beyond noise.\n"
    top = "".join(f"{line}\n" for line in table.attrs.get("header", []))
    if style == "text":
        return top + ("\n" if top else "") + shown + f"\n{unchanged}.\n"
    if style != "github":
        raise UsageError(f"unknown compare format {style!r}; valid: text, github")
    metric = table.attrs.get("metric", "")
    top = "".join(f"- {line}\n" for line in table.attrs.get("header", []))
    return (f"### harness compare: {metric}\n\n{top}\n{agreement(table)}\n\n{shown}\n{unchanged}.\n\n"
            f"<details><summary>every cell ({len(table)})</summary>\n\n{to_markdown([as_table(table)])}\n</details>\n")


def blocks(table: pd.DataFrame) -> list:
    """The comparison as report blocks: the sides' machines, commits and dates, the agreement line, then the table."""
    return [*(Text(line) for line in table.attrs.get("header", [])), Text(agreement(table)), as_table(table)]


def write(table: pd.DataFrame, out_dir) -> tuple[Path, Path]:
    """compare.md and compare.csv under out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, csv = out / "compare.md", out / "compare.csv"
    md.write_text(to_markdown(blocks(table)))
    table.drop(columns=[c for c in ("d", "noise") if c in table]).to_csv(csv, index=False)
    return md, csv
