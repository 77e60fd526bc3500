"""Command-line front: ``harness run``, ``list``, ``calibrate``, ``report``, ``compare``, ``reference``,
``ingest``, ``mcmc-vs-vi``.

Bad input (unknown name, bad size or option) prints one line,
``harness: error: ...``, to stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import shlex
import sys
import tempfile
import warnings
from pathlib import Path

from harness import StoreError, UsageError, ingest, launcher, report, runner, store, suites
from harness import mcmc_vs_vi as mv
from harness.cell import load_plugins
from harness.dask_executor import check_address, run_cells_dask
from harness.progress import Progress
from harness.report import compare
from harness.suites import calibration
from harness.table import format_table

DEFAULT_RESULTS = Path("results") / "runs"


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error of the harness (exit code 2)."""

    def error(self, message):
        raise UsageError(message)


#: Largest integer a flag takes: what a 64-bit integer holds (JAX and NumPy take no more).
MAX_INT = 2**63 - 1


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(f"expected a positive integer (at most 2**63 - 1), got {text!r}")
    return value


def reference_chains(text: str) -> int:
    """``reference --chains``: at least 2, since R-hat compares chains (with one it is NaN)."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2 (R-hat compares chains), got {text!r}")
    return value


def cpus_arg(text: str) -> int | str:
    """``--cpus``: a positive integer, or "all"."""
    return "all" if text == "all" else positive_int(text)


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 (at most 2**63 - 1), got {text!r}")
    return value


def _float(text: str, ok, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    return _float(text, lambda v: 0 < v < math.inf, "a positive finite number")


def non_negative_float(text: str) -> float:
    return _float(text, lambda v: 0 <= v < math.inf, "a finite number >= 0")


def above_one_float(text: str) -> float:
    return _float(text, lambda v: 1 < v < math.inf, "a finite number > 1")


def probability(text: str) -> float:
    return _float(text, lambda v: 0 < v < 1, "a number strictly between 0 and 1")


def _split(values):
    """Flatten repeated and comma-separated values: ['a,b', 'c'] -> ['a', 'b', 'c']."""
    return [v for item in values or [] for v in item.split(",") if v] or None


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_options(pairs, methods) -> dict:
    """``--option [METHOD.]KEY=VALUE`` pairs -> {method: {key: value}} (values parsed as JSON)."""
    out: dict[str, dict] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise UsageError(f"--option expects [METHOD.]KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        target_methods = methods
        if "." in key:
            method, key = key.split(".", 1)
            if method not in methods:
                raise UsageError(f"--option {pair!r}: method {method!r} is not among this run's methods; "
                                 f"valid: {', '.join(methods)}")
            target_methods = [method]
        for m in target_methods:
            out.setdefault(m, {})[key] = _parse_value(value)
    return out


def add_run(sub) -> None:
    p = sub.add_parser("run", help="run a suite (default: quick) and print its table",
                       description="Run a benchmark matrix; each cell in a fresh process; rows appended under --out.")
    p.add_argument("--suite", default="quick", help="shipped suite name or path to a TOML suite (default: quick)")
    p.add_argument("--model", help="restrict to this model (see `harness list models`)")
    p.add_argument("--model-file", help="run your own NumPyro model: a .py file defining model(**data), "
                                        "make_data(n, seed) and optionally reference")
    p.add_argument("--dataset", help="dataset of the model (e.g. breast_cancer, synthetic)")
    p.add_argument("--size", type=positive_int, action="append", help="synthetic data size N (repeatable)")
    p.add_argument("--method", action="append", help="method name(s), repeatable or comma-separated")
    p.add_argument("--chains", type=positive_int, action="append", help="number of chains (repeatable)")
    p.add_argument("--seed", type=non_negative_int, action="append", help="PRNG seed (repeatable)")
    p.add_argument("--seeds", type=positive_int, metavar="K",
                   help="K seeds per cell: 0..K-1, or S..S+K-1 from each --seed S")
    p.add_argument("--device", action="append", help="cpu and/or gpu (repeatable or comma-separated)")
    p.add_argument("--precision", action="append", help="float32 and/or float64 (repeatable or comma-separated)")
    p.add_argument("--warmup", type=non_negative_int, help="warmup iterations per chain")
    p.add_argument("--samples", type=positive_int, help="sampling iterations per chain (with --target-ess: per chunk)")
    p.add_argument("--target-ess", type=positive_float, metavar="ESS",
                   help="run each MCMC cell to this bulk and tail ESS and R-hat < 1.01, in chunks of --samples "
                        "draws checked after 1, 2, 4, ... chunks (MCMC methods; VI keeps its fixed draws)")
    p.add_argument("--max-draws", type=positive_int, metavar="N",
                   help="with --target-ess: stop at N draws per chain (default 32 chunks)")
    p.add_argument("--option", action="append", metavar="[METHOD.]KEY=VALUE", help="method option (repeatable)")
    p.add_argument("--xla-devices", type=positive_int, metavar="N",
                   help="N host devices per cell (XLA_FLAGS=--xla_force_host_platform_device_count=N)")
    p.add_argument("--xla-flags", default="", metavar="FLAGS", help="further XLA_FLAGS for every cell's process")
    p.add_argument("--cpus", type=cpus_arg, metavar="N|all",
                   help="cores each CPU cell's process runs on (default: the suite's, else 1; all: every core)")
    p.add_argument("--out", help="run directory to append rows to (default: results/runs/<UTC time>)")
    p.add_argument("--resume", action="store_true",
                   help="skip cells already stored in --out with status ok; rerun the others")
    p.add_argument("--timeout", type=positive_float, help="per-cell wall-clock limit, seconds (default: the suite's, else 1800)")
    p.add_argument("--save-draws", action="store_true", help="write each cell's draws as ArviZ netCDF under OUT/draws")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the cells on this Dask distributed scheduler")
    p.add_argument("--warm-start", action="store_true",
                   help="also run each ok cell twice more with JAX's persistent compilation cache (fill, then read): "
                        "rows gain warm_compile_s, warm_time_to_result_s, ... (default: the suite's warm_start)")
    p.add_argument("--max-memory", type=positive_float, metavar="MiB",
                   help="kill a cell whose resident memory passes this many MiB and record it oom (default: no cap)")
    p.add_argument("--jobs", type=cpus_arg, metavar="N|all",
                   help="cells run at once here, each held to its own cores (default: the suite's, else all cores; "
                        "large cells still run alone: harness.runner.co_runs)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--no-recheck", action="store_true",
                   help="no second pass: do not re-run the cells a shared host may have slowed, nor loops under "
                        "50 ms (harness.recheck; a --scheduler run never does)")
    p.add_argument("--dry-run", action="store_true", help="list the cells and the estimated duration; run nothing")
    p.set_defaults(func=cmd_run)


def _seeds(args) -> list[int] | None:
    """The seeds asked for: each --seed, or K from each with --seeds K; a seed named twice (or two
    ranges that overlap) is refused, since a repeat would pool one draw as two."""
    seeds = args.seed if not args.seeds else [s + i for s in (args.seed or [0]) for i in range(args.seeds)]
    if seeds and len(set(seeds)) < len(seeds):
        twice = sorted({s for s in seeds if seeds.count(s) > 1})
        raise UsageError(f"seed(s) {', '.join(map(str, twice))} given twice (--seed/--seeds give "
                         f"{', '.join(map(str, seeds))}); give each seed once")
    return seeds


def _check_run_flags(args) -> None:
    """What ``harness run`` can check of its flags alone, before a suite is read (UsageError)."""
    for flag, values in (("--method", args.method), ("--device", args.device), ("--precision", args.precision)):
        if values is not None and not _split(values):
            raise UsageError(f"{flag} names nothing (got {', '.join(map(repr, values))}); give a name "
                             "(see `harness list`), or leave the flag out for the suite's")
    try:
        shlex.split(args.xla_flags)
    except ValueError as e:
        raise UsageError(f"--xla-flags {args.xla_flags!r}: cannot split it into flags: {e}") from None
    if args.scheduler:
        check_address(args.scheduler)
    if args.out:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out} is not a directory; give a run directory (new or existing)")


def _recheck(args, suite: dict) -> bool:
    """Whether the run takes its second pass (:mod:`harness.recheck`): unless ``--no-recheck``, where the
    suite says so (default yes). A suite's ``recheck = false`` (``quick``: a first look, one process a
    figure) holds for the suite's own cells only: a run that names its own model (``--model``,
    ``--model-file``) is a measurement of that model and keeps the second pass and its host reference."""
    if args.no_recheck:
        return False
    return bool(args.model or args.model_file) or suite.get("recheck", True)


def _writable_dir(out: Path) -> None:
    """Make the run directory ``out`` and check that a file can be written in it, before the first cell."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise UsageError(f"--out {out} cannot be written: {e.strerror or e}") from None


def cmd_run(args) -> int:
    if args.resume and not args.out:
        raise UsageError("--resume needs --out DIR (the run directory to resume)")
    if args.jobs is not None and args.scheduler:
        raise UsageError("give --jobs or --scheduler, not both (a Dask cluster runs one cell per worker)")
    _check_run_flags(args)
    suite = suites.load(args.suite)
    jobs = suites.jobs(suite, args.jobs)
    warm_start = args.warm_start or suite.get("warm_start", False)
    if args.max_memory is not None and args.scheduler:
        raise UsageError("--max-memory caps cells run here only, not with --scheduler")
    if warm_start and args.scheduler:
        raise UsageError("a warm start (--warm-start, the suite's warm_start) runs here only, not with --scheduler")
    if not (args.scheduler or args.dry_run) and "cpu" in (_split(args.device) or suite.get("devices", ["cpu"])):
        # the CPU cells' launcher imports JAX on another core while this process reads the registries
        launcher.launcher_for(runner.platform_env("cpu"))
    if args.model_file:
        from harness.targets import user

        if args.model:
            raise UsageError("give --model or --model-file, not both")
        args.model = user.load(user.spec(args.model_file)).name
    suite = {**suite, "recheck": _recheck(args, suite)}  # what the run, its estimate and its progress read
    methods = _split(args.method) or suite.get("methods", [])
    cells = suites.expand(
        suite, model=args.model, dataset=args.dataset, sizes=args.size, methods=_split(args.method),
        chains=args.chains, seeds=_seeds(args), devices=_split(args.device), precisions=_split(args.precision),
        num_warmup=args.warmup, num_samples=args.samples, options=parse_options(args.option, methods),
        target_ess=args.target_ess, max_draws=args.max_draws,
        xla_devices=args.xla_devices, xla_flags=args.xla_flags, cpus=args.cpus,
    )
    if args.max_draws is not None and not any(c.target_ess is not None for c in cells):
        raise UsageError("--max-draws caps a run to a target ESS, and no cell of this run has one: "
                         "give --target-ess too (or a suite with target_ess)")
    if args.model_file:
        for dataset, n in dict.fromkeys((c.dataset, c.n) for c in cells):
            user.check(user.load(args.model), dataset, n)
    if not args.scheduler:
        runner.LocalExecutor(jobs).check(cells)
    default_timeout = args.timeout or runner.DEFAULT_TIMEOUT_S
    timeout = (lambda c: args.timeout) if args.timeout else (lambda c: suites.timeout_for(suite, c, default_timeout))
    speed = calibration.lookup()
    estimate = suites.estimate_s(suite, cells, default_timeout, jobs, warm_start, speed)
    if args.dry_run:
        for c in cells:
            print(c.label())
        print(f"{len(cells)} cell(s), estimated {estimate / 60:.1f} min")
        return 0
    out = Path(args.out) if args.out else DEFAULT_RESULTS / _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    _writable_dir(out)
    command = "harness " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    session = runner.Session(out, resume=args.resume)
    todo = session.todo(cells)
    if not args.quiet:
        skipped = f", {len(cells) - len(todo)} already stored ok" if args.resume else ""
        print(f"harness: {len(todo)} cell(s){skipped} -> {out} (estimated {suites.estimate_s(suite, todo, default_timeout, jobs, warm_start, speed) / 60:.1f} min, {jobs} at once)",
              file=sys.stderr)
    progress = Progress(todo, lambda c: suites.estimate_cell_s(c, timeout(c), speed=speed), quiet=args.quiet,
                        jobs=1 if args.scheduler else jobs)
    kwargs = dict(command=command, timeout_s=timeout, resume=args.resume, save_draws=args.save_draws,
                  progress=progress)
    try:
        if args.scheduler:
            run_cells_dask(todo, out, args.scheduler, **kwargs)
        else:
            runner.run_cells(todo, out, recheck=suite["recheck"], jobs=jobs,
                             estimate=lambda c: suites.estimate_cell_s(c, timeout(c), speed=speed),
                             warm_start=warm_start, max_memory_mb=args.max_memory, **kwargs)
    finally:
        progress.close()
    if store.rows_path(out).exists():
        print(format_table(store.load(out), out))
    return 0


def add_list(sub) -> None:
    p = sub.add_parser("list", help="list models, methods and suites", description="List what can be run.")
    p.add_argument("what", nargs="?", choices=["models", "methods", "suites"], help="one kind only (default: all)")
    p.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    from harness import methods, targets

    if args.what in (None, "models"):
        print("models:")
        for name in targets.names():
            t = targets.get(name)
            sets = ", ".join(f"{k} (N={v})" if isinstance(v, int) else f"{k} ({v or 'no'} N)" for k, v in t.datasets.items())
            print(f"  {name:28s} {t.description}\n  {'':28s} datasets: {sets}")
    if args.what in (None, "methods"):
        print("methods:")
        for name in methods.names():
            m = methods.get(name)
            print(f"  {name:28s} {m.description}")
            for opt, spec in m.options.items():  # the typed declaration (methods.base.Option)
                print(f"  {'':28s}   --option {opt}={json.dumps(spec.default)}  ({spec.describe()})")
    if args.what in (None, "suites"):
        speed = calibration.lookup()
        print("suites:")
        for name in suites.names():
            try:
                suite = suites.load(name)
                cells = suites.expand(suite)
            except UsageError as e:  # a shipped suite naming what this installation lacks
                print(f"  {name:28s} NOT RUNNABLE HERE: {e}")
                continue
            minutes = suites.estimate_s(suite, cells, 1800.0, suites.jobs(suite), speed=speed) / 60
            print(f"  {name:28s} {len(cells):4d} cells, estimated {minutes:6.1f} min: {suite.get('description', '')}")
        print("  (estimates: a cost model, see harness/suites/_costs.toml; cells run as many at once as the suite's jobs allow, large ones alone)")
        print(f"  ({_speed_words(speed)})")
    return 0


def _speed_words(speed) -> str:
    if not speed.source:
        return ("this machine is not calibrated: priced as the model's machine; after a run here, "
                "`harness calibrate RUN_DIR` fits it")
    return f"this machine: {speed.describe()}, {speed.source}"


def add_calibrate(sub) -> None:
    p = sub.add_parser("calibrate", help="fit the cost model's speed of this machine to a run's rows",
                       description="Fit the cost model to the cells of finished runs, per machine (a factor on "
                                   "fixed seconds, one on seconds per gradient, the share of cells run twice), and "
                                   "store it for `harness list suites` and `harness run` (harness.suites.calibration).")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run directories (rows.jsonl) of one or more machines")
    p.add_argument("--out", metavar="FILE", help="calibration file to update (default: "
                   "$HARNESS_CACHE_DIR/machines.json, ~/.cache/harness/machines.json)")
    p.add_argument("--dry-run", action="store_true", help="print the fit, store nothing")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args) -> int:
    for run in args.run_dirs:
        if not Path(run).is_dir():
            raise UsageError(f"{run} is not a run directory; give directories that hold rows.jsonl")
    fits = {machine: (calibration.fit(cells), cells) for machine, cells in calibration.measured(args.run_dirs).items()}
    for machine, (speed, cells) in fits.items():
        priced = sum(suites.estimate_cell_s(m.cell, None, speed=speed) for m in cells)
        print(f"{machine}: {speed.describe()}, from {len(cells)} cell(s); their estimates sum to "
              f"{priced / 60:.1f} min against "
              f"{sum(m.total_s for m in cells) / 60:.1f} min measured (process seconds, every attempt)")
    if not args.dry_run:
        path = calibration.save(fits, args.out)
        print(f"calibrate: {path}")
    return 0


def add_report(sub) -> None:
    p = sub.add_parser("report", help="write a Markdown + HTML report of a run directory",
                       description="Tables, speedups, scaling figures and diagnostics from stored rows.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory (holds rows.jsonl)")
    p.add_argument("--out", help="output directory (default: RUN_DIR/report)")
    p.add_argument("--baseline", default="numpyro_nuts", help="method the speedup table divides by (default: numpyro_nuts)")
    p.add_argument("--traces", action="append", metavar="all|METHOD",
                   help="ArviZ trace/rank plots for these rows too (flagged rows always), when draws were saved")
    p.add_argument("--machine", metavar="NAME", help="report the rows of this machine only (its #hash or any part "
                   "of its fingerprint naming one); needed when the rows come from several")
    p.set_defaults(func=cmd_report)


def _known_methods(run_dir) -> list[str]:
    """Method names ``report`` takes: the registry's and those of the run's rows (a plugin's)."""
    from harness import methods

    load_plugins()
    in_rows = [r["method"] for r in store.read_rows(run_dir) if isinstance(r.get("method"), str)]
    return list(dict.fromkeys([*methods.names(), *in_rows]))


def cmd_report(args) -> int:
    known = _known_methods(args.run_dir)
    if args.baseline not in known:
        raise UsageError(f"--baseline {args.baseline!r}: unknown method; valid: {', '.join(known)}")
    for name in _split(args.traces) or []:
        if name not in ("all", "flagged", *known):
            raise UsageError(f"--traces {name!r}: unknown; valid: all, flagged or a method: {', '.join(known)}")
    path = report.build(args.run_dir, args.out, baseline=args.baseline, traces=("flagged", *(_split(args.traces) or [])),
                        machine=args.machine)
    print(f"report: {path}\nreport: {path.with_suffix('.md')}")
    return 0


def add_compare(sub) -> None:
    p = sub.add_parser("compare", help="compare two runs cell by cell (faster / slower / same within noise)",
                       description="Match cells of BASE and NEW (run directories, or pytest-benchmark JSON files).")
    p.add_argument("base", metavar="BASE", help="run directory or pytest-benchmark JSON")
    p.add_argument("new", metavar="NEW", help="run directory or pytest-benchmark JSON")
    p.add_argument("--metric", default="ess_per_s", help="row figure to compare in run directories (default: ess_per_s; "
                   "also ess_per_grad, sample_s, compile_s, us_per_grad, ttfd_s, ...)")
    p.add_argument("--noise", type=positive_float, metavar="PCT", help="noise threshold %% when a side has one repeat "
                   "(default 10, compile_s 25)")
    p.add_argument("--fail-on-regression", type=non_negative_float, metavar="PCT",
                   help="exit 1 when a cell is slower by more than PCT %% beyond the noise, or broken")
    p.add_argument("--out", help="directory for compare.md / compare.csv (default: NEW/compare, or beside a NEW file)")
    p.add_argument("--format", choices=("text", "github"), default="text",
                   help="text (default): the changed cells, then a count of the rest; github: Markdown for a pull "
                        "request (agreement line, changed cells, every cell folded)")
    p.add_argument("--allow-machines", action="store_true",
                   help="compare runs from different machines anyway (the output says so at the top)")
    p.add_argument("--raw", action="store_true",
                   help="compare the figures as measured: never divide by the host reference (default: where both "
                        "sides timed one reference program, the sampling seconds are put at one host speed)")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    table = compare.compare(args.base, args.new, metric=args.metric,
                            threshold=None if args.noise is None else args.noise / 100,
                            allow_machines=args.allow_machines, host=not args.raw)
    new = Path(args.new)
    md, csv = compare.write(table, args.out or (new / "compare" if new.is_dir() else new.parent / "compare"))
    print(compare.review(table, args.format), end="")
    if args.format == "text":
        print(f"\ncompare: {md}\ncompare: {csv}")
        print(compare.agreement(table))
        if Path(args.base).is_dir() and new.is_dir():
            swaps = compare.rank_swaps(args.base, new)
            (md.parent / "ranks.md").write_text("\n".join(f"- {line}" for line in swaps) + "\n")
            print("\n".join(swaps))
            verdicts = compare.verdict_agreement(args.base, new)
            (md.parent / "verdicts.md").write_text("\n".join(f"- {line}" for line in verdicts) + "\n")
            print(verdicts[0])
    if args.fail_on_regression is not None:
        bad = compare.regressions(table, args.fail_on_regression)
        if len(bad):
            print(f"harness: {len(bad)} cell(s) regressed beyond noise + {args.fail_on_regression:g}%: "
                  + "; ".join(bad["cell"]), file=sys.stderr)
            return 1
    return 0


def add_reference(sub) -> None:
    p = sub.add_parser("reference", help="compute a reference posterior with two independent NUTS samplers",
                       description="Compute per-site mean, sd and se_mean (= sd / sqrt(ESS)) from many long chains "
                                   "of NumPyro NUTS and BlackJAX NUTS (other seeds); refuse to write it unless each "
                                   "run is free of divergences and passes R-hat and ESS, and the two agree within "
                                   "their Monte Carlo error on every mean and sd; store it as JSON with both runs' "
                                   "diagnostics and moments. --audit checks the shipped files against that gate.")
    p.add_argument("target", nargs="?", help="registered model (see `harness list models`); with --audit, "
                   "only its files (default: all)")
    p.add_argument("--dataset", help="dataset of the model (default: its first)")
    p.add_argument("--size", type=positive_int, help="synthetic data size N")
    p.add_argument("--chains", type=reference_chains, default=8, help="chains per sampler, at least 2: R-hat compares "
                   "chains (default 8)")
    p.add_argument("--warmup", type=non_negative_int, default=2000, help="warmup iterations per chain (default 2000)")
    p.add_argument("--samples", type=positive_int, default=5000, help="draws per chain (default 5000)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="PRNG seed (default 0)")
    p.add_argument("--target-accept", type=probability, default=0.9, help="NUTS target acceptance (default 0.9)")
    p.add_argument("--dense-mass", action="store_true", help="adapt a dense mass matrix")
    p.add_argument("--min-ess", type=positive_float, default=1000.0, help="least bulk and tail ESS per coordinate (default 1000)")
    p.add_argument("--max-rhat", type=above_one_float, default=1.01, help="R-hat must be below this (default 1.01)")
    p.add_argument("--agree-sd-z", type=positive_float, default=4.0,
                   help="the two samplers' sds may differ by at most this many joint Monte Carlo errors, "
                        "|sd_a - sd_b| / sqrt(se_sd_a^2 + se_sd_b^2) (default 4, the means' limit)")
    p.add_argument("--audit", action="store_true",
                   help="sample nothing: check each shipped reference file against the agreement gate, one line "
                        "each; exit 1 if one fails")
    p.add_argument("--parallel", action="store_true",
                   help="run the two samplers at once, each in its own process on its own core")
    p.add_argument("--out", help="JSON path (default: the package's harness/references/<target>/...)")
    p.add_argument("--force", action="store_true", help="replace an existing reference file")
    p.set_defaults(func=cmd_reference)


def writable_file(path: Path, flag: str) -> None:
    """Raise UsageError unless a file can be written at ``path`` (its folder made if missing), checked
    before any work, so that an hour of sampling never ends in "cannot write"."""
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as e:
        raise UsageError(f"{flag} {path} cannot be written: {e.strerror or e}") from None


def failed_path(path: Path) -> Path:
    """Where a refused reference's diagnostics go: beside ``path``, ``<name>.failed.json``."""
    return path.with_name(path.name.removesuffix(".json") + ".failed.json")


def _new_file(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to replace it")
    writable_file(path, "--out")


def audit_references(target: str | None, agree_sd_z: float) -> int:
    """``harness reference --audit``: one line per shipped reference file, its verdict under the
    agreement gate (:func:`harness.reference_runs.audit`); 1 if a file fails it, else 0."""
    from harness import reference_runs, targets

    if target is not None:
        targets.get(target)  # an unknown name is bad input, not an empty audit
    failed = 0
    for path in reference_runs.shipped_files(target):
        verdict, what = reference_runs.audit(json.loads(path.read_text()), agree_sd_z)
        failed += verdict == "fail"
        print(f"{path.parent.name}/{path.name}: {verdict.upper()}: {what}")
    return 1 if failed else 0


def cmd_reference(args) -> int:
    if args.audit:
        return audit_references(args.target, args.agree_sd_z)
    if args.target is None:
        raise UsageError("reference: give a TARGET (see `harness list models`), or --audit")
    if args.out:  # checked before JAX is imported, let alone anything sampled
        _new_file(Path(args.out), args.force)
    from harness import reference_runs, targets
    from harness.targets import reference

    target = targets.get(args.target)
    dataset = args.dataset or target.default_dataset
    try:
        n = target.resolve_size(dataset, args.size)
    except ValueError as e:
        raise UsageError(str(e)) from None
    path = Path(args.out) if args.out else reference.package_dir() / reference.filename(target, dataset, n)
    _new_file(path, args.force)
    command = "harness " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"harness: reference {target.name}/{dataset}/{n}: {args.chains} chains x "
          f"({args.warmup} warmup + {args.samples} draws)", file=sys.stderr)
    try:
        doc = reference_runs.compute(
            target, dataset, n, num_chains=args.chains, num_warmup=args.warmup, num_samples=args.samples,
            seed=args.seed, target_accept_prob=args.target_accept, dense_mass=args.dense_mass,
            min_ess=args.min_ess, max_rhat=args.max_rhat, agree_sd_z=args.agree_sd_z, command=command,
            parallel=args.parallel,
        )
    except reference_runs.ReferenceFailed as e:
        print(f"harness: {e}", file=sys.stderr)
        if e.doc is not None:  # each run's diagnostics, never where a reference is looked up
            failed = reference_runs.write(e.doc, failed_path(path), overwrite=True)
            print(f"harness: each run's diagnostics: {failed}", file=sys.stderr)
        return 1
    reference_runs.write(doc, path, overwrite=args.force)
    c = doc["checks"]
    print(f"harness: wrote {path} (min bulk ESS {c['min_ess_bulk']:.0f}, min tail ESS {c['min_ess_tail']:.0f}, "
          f"max R-hat {c['max_rhat']:.4f}, {c['divergences']} divergences, {doc['runtime_s']} s)", file=sys.stderr)
    return 0


def add_ingest(sub) -> None:
    p = sub.add_parser("ingest", help="add a pytest-benchmark JSON to a results store",
                       description="Turn a pytest-benchmark JSON (--benchmark-json) into rows appended under --out.")
    p.add_argument("json", metavar="BENCH.json", help="file written by pytest --benchmark-json")
    p.add_argument("--out", required=True, help="run directory to append rows to")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args) -> int:
    command = "harness " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    rows = ingest.ingest(args.json, args.out, command=command)
    print(f"{len(rows)} row(s) from {args.json} -> {store.rows_path(args.out)}")
    return 0


def add_mcmc_vs_vi(sub) -> None:
    d = mv.ReferenceSettings()
    p = sub.add_parser("mcmc-vs-vi", help="MCMC or VI for my model at my size? timing, accuracy against a "
                                           "computed reference, and a recommendation per size",
                       description="For each size N (the data's first N rows), compute and cache a reference "
                                   "(as `harness reference`: NumPyro and BlackJAX NUTS that agree), run NUTS to a "
                                   "target ESS and the SVI guides as ordinary cells scored against it, and print a "
                                   f"recommendation per size (a guide suffices within {mv.MEAN_TOL:g} sd in every "
                                   f"mean and {mv.SD_TOL:.0%} in every sd); OUT/report.md starts with it.")
    p.add_argument("--model-file", required=True, help="your NumPyro model: a .py file defining model(**data)")
    p.add_argument("--data", required=True, help="data file (.pkl, .npz, .csv, .parquet): a dict of arrays, the "
                                                 "keyword arguments of model(**data)")
    p.add_argument("--sizes", required=True, metavar="N[,N...]",
                   help="data sizes; size N takes the first N rows along axis 0 of every array (not a random "
                        "subsample: sizes are nested), each from 1 to the data's rows")
    p.add_argument("--methods", "--method", dest="methods", action="append",
                   help=f"methods to compare (default: {','.join(mv.DEFAULT_METHODS)}); the first MCMC one is the baseline")
    p.add_argument("--seeds", type=positive_int, default=1, metavar="K", help="seeds 0..K-1 per method and size")
    p.add_argument("--chains", type=positive_int, default=4, help="chains per MCMC cell (default 4)")
    p.add_argument("--warmup", type=non_negative_int, default=500, help="MCMC warmup per chain (default 500)")
    p.add_argument("--samples", type=positive_int, default=500,
                   help="MCMC chunk / VI draws per chain (default 500)")
    p.add_argument("--target-ess", type=positive_float, default=mv.DEFAULT_TARGET_ESS, metavar="ESS",
                   help=f"MCMC runs to this bulk and tail ESS and R-hat < 1.01 (default {mv.DEFAULT_TARGET_ESS:g})")
    p.add_argument("--option", action="append", metavar="[METHOD.]KEY=VALUE", help="method option (repeatable)")
    p.add_argument("--out", help="run directory (default: results/runs/<UTC time>); report.md goes here")
    p.add_argument("--cache", metavar="DIR", help="reference cache, keyed by model hash, data hash and N "
                                                  "(default: OUT/references)")
    p.add_argument("--ref-chains", type=positive_int, default=d.chains, help=f"reference chains per sampler (default {d.chains})")
    p.add_argument("--ref-warmup", type=non_negative_int, default=d.warmup, help=f"reference warmup (default {d.warmup})")
    p.add_argument("--ref-samples", type=positive_int, default=d.samples, help=f"reference draws per chain (default {d.samples})")
    p.add_argument("--ref-min-ess", type=positive_float, default=d.min_ess,
                   help=f"reference: least bulk and tail ESS per coordinate (default {d.min_ess:g})")
    p.add_argument("--ref-max-rhat", type=positive_float, default=d.max_rhat, help=f"reference: R-hat below this (default {d.max_rhat})")
    p.add_argument("--timeout", type=positive_float, default=1800.0, help="per-cell wall-clock limit, seconds")
    p.add_argument("--no-recheck", action="store_true", help="no second pass over cells a shared host may have slowed")
    p.add_argument("--no-full-report", action="store_true", help="report.md only, not the run's full report under OUT/report")
    p.set_defaults(func=cmd_mcmc_vs_vi)


def cmd_mcmc_vs_vi(args) -> int:
    methods = _split(args.methods) or list(mv.DEFAULT_METHODS)
    out = Path(args.out) if args.out else DEFAULT_RESULTS / _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    ref = mv.ReferenceSettings(chains=args.ref_chains, warmup=args.ref_warmup, samples=args.ref_samples,
                               min_ess=args.ref_min_ess, max_rhat=args.ref_max_rhat)
    lines, path = mv.run(
        args.model_file, args.data, mv.parse_sizes(args.sizes), out, methods=methods, seeds=list(range(args.seeds)),
        chains=args.chains, warmup=args.warmup, samples=args.samples, target_ess=args.target_ess,
        options=parse_options(args.option, methods), cache_dir=args.cache, ref=ref, timeout_s=args.timeout,
        recheck=not args.no_recheck, full_report=not args.no_full_report,
        command="harness " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        say=lambda line: print(line, file=sys.stderr),
    )
    print("\n".join(lines))
    print(f"report: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Benchmarking harness for Bayesian inference on JAX.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_run(sub)
    add_list(sub)
    add_calibrate(sub)
    add_report(sub)
    add_compare(sub)
    add_reference(sub)
    add_ingest(sub)
    add_mcmc_vs_vi(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"harness: warning: {message}".splitlines()[0] + "\n"


def main(argv=None) -> int:
    warnings.formatwarning = _one_line_warning  # e.g. a rows file's unreadable lines (harness.store)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return args.func(args)
    except UsageError as e:
        print(f"harness: error: {e}".splitlines()[0], file=sys.stderr)
        return 2
    except StoreError as e:  # a row that could not be stored (e.g. a full disk): the run failed, not the input
        print(f"harness: error: {e}".splitlines()[0], file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # e.g. --out naming a file or an unwritable place
        print(f"harness: error: {e.strerror or e}: {e.filename or ''}".splitlines()[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
