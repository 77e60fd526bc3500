"""Command-line front: ``harness run``, ``harness list``.

Bad input (unknown name, bad size or option) prints one line,
``harness: error: ...``, to stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import shlex
import sys
from pathlib import Path

from harness import UsageError

DEFAULT_RESULTS = Path("results") / "runs"


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error of the harness (exit code 2)."""

    def error(self, message):
        raise UsageError(message)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


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
            target_methods = [method]
        for m in target_methods:
            out.setdefault(m, {})[key] = _parse_value(value)
    return out


def add_run(sub) -> None:
    p = sub.add_parser("run", help="run a suite (default: quick) and print its table",
                       description="Run a benchmark matrix; each cell in a fresh process; rows appended under --out.")
    p.add_argument("--suite", default="quick", help="shipped suite name or path to a TOML suite (default: quick)")
    p.add_argument("--model", help="restrict to this model (see `harness list models`)")
    p.add_argument("--dataset", help="dataset of the model (e.g. breast_cancer, synthetic)")
    p.add_argument("--size", type=positive_int, action="append", help="synthetic data size N (repeatable)")
    p.add_argument("--method", action="append", help="method name(s), repeatable or comma-separated")
    p.add_argument("--chains", type=positive_int, action="append", help="number of chains (repeatable)")
    p.add_argument("--seed", type=non_negative_int, action="append", help="PRNG seed (repeatable)")
    p.add_argument("--warmup", type=non_negative_int, help="warmup iterations per chain")
    p.add_argument("--samples", type=positive_int, help="sampling iterations per chain")
    p.add_argument("--option", action="append", metavar="[METHOD.]KEY=VALUE", help="method option (repeatable)")
    p.add_argument("--out", help="run directory to append rows to (default: results/runs/<UTC time>)")
    p.add_argument("--timeout", type=float, default=1800.0, help="per-cell wall-clock limit, seconds")
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from harness import runner, store, suites
    from harness.table import format_table

    suite = suites.load(args.suite)
    methods = _split(args.method) or suite.get("methods", [])
    cells = suites.expand(
        suite, model=args.model, dataset=args.dataset, sizes=args.size, methods=methods, chains=args.chains,
        seeds=args.seed, num_warmup=args.warmup, num_samples=args.samples,
        options=parse_options(args.option, methods),
    )
    out = Path(args.out) if args.out else DEFAULT_RESULTS / _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    command = "harness " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"harness: {len(cells)} cell(s) -> {out}", file=sys.stderr)
    done = [0]

    def progress(row):
        done[0] += 1
        print(f"[{done[0]}/{len(cells)}] {row['model']}/{row['dataset']}/{row.get('n')}/{row['method']}: "
              f"{row['status']} in {row.get('wall_s', 0):.1f} s", file=sys.stderr)

    runner.run_cells(cells, out, command=command, timeout_s=args.timeout, on_row=progress)
    print(format_table(store.load(out)))
    print(f"\nrows: {store.rows_path(out)}")
    return 0


def add_list(sub) -> None:
    p = sub.add_parser("list", help="list models, methods and suites", description="List what can be run.")
    p.add_argument("what", nargs="?", choices=["models", "methods", "suites"], help="one kind only (default: all)")
    p.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    from harness import methods, suites, targets

    if args.what in (None, "models"):
        print("models:")
        for name in targets.names():
            t = targets.get(name)
            sets = ", ".join(f"{k} (N={v})" if isinstance(v, int) else f"{k} ({v or 'no'} N)" for k, v in t.datasets.items())
            print(f"  {name:28s} {t.description}\n  {'':28s} datasets: {sets}")
    if args.what in (None, "methods"):
        print("methods:")
        for name in methods.names():
            print(f"  {name:28s} {methods.get(name).description}")
    if args.what in (None, "suites"):
        print("suites:")
        for name in suites.names():
            suite = suites.load(name)
            print(f"  {name:28s} {len(suites.expand(suite))} cells: {suite.get('description', '')}")
    return 0


def add_ingest(sub) -> None:
    p = sub.add_parser("ingest", help="add a pytest-benchmark JSON to a results store",
                       description="Turn a pytest-benchmark JSON (--benchmark-json) into rows appended under --out.")
    p.add_argument("json", metavar="BENCH.json", help="file written by pytest --benchmark-json")
    p.add_argument("--out", required=True, help="run directory to append rows to")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args) -> int:
    from harness import ingest, store

    command = "harness " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    rows = ingest.ingest(args.json, args.out, command=command)
    print(f"{len(rows)} row(s) from {args.json} -> {store.rows_path(args.out)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Benchmarking harness for Bayesian inference on JAX.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_run(sub)
    add_list(sub)
    add_ingest(sub)
    return parser


def main(argv=None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
