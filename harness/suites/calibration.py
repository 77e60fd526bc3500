"""A machine's speed for the cost model: two factors fitted from a run's own rows.

The cost model (``_costs.toml``) prices a cell on the machine its constants were fitted on.
Another machine compiles and computes at other speeds: a 2-core AMD EPYC compiled NumPyro NUTS
in 18 s where a 2-core Xeon took 9.5 s, and the default suite priced at 17.3 min took 28.4 min
there (``results/jobs/cut-j2``). A :class:`Speed` scales the model's fixed seconds (process
start-up, compile, floor set-up: single-threaded Python, tracing and XLA) by ``fixed`` and its
seconds per gradient (warmup, sampling, replays) by ``work``, and says how often the run's second
pass (:mod:`harness.recheck`) runs a cell again: ``rerun``, the share of cells with a loop long
enough not to be rerun for being short that the host still sent back (a noisy host's reference
moves; 36 of 74 such cells in ``cut-j2``, 7 of 74 in a run of the same suite on a 2-core Xeon,
``results/jobs/default-j2``). That share, not the per-cell speed, made most of that gap.

:func:`fit` finds ``fixed`` and ``work`` from the rows of one machine's runs: the pair that minimises

    sum over cells of ( log estimate_cell_s(cell, speed, rechecked=False) - log first(cell) )^2,

first = the ``process_s`` of the cell's first attempt, so a 2-second posteriordb cell weighs as
much as a 10-minute one and both factors are pinned down; ``rerun`` is counted from the rows'
``attempts`` and ``recheck``. Cells that timed out or failed are left out (their seconds are a cap,
not a cost). A fit describes the machine as the run used it: fitted from a run at two jobs it
includes what co-running cells cost each other, and ``rerun`` needs a run with its second pass on
(a ``--no-recheck`` run reruns nothing, so it counts none).

Calibrations are looked up by the machine's fingerprint (:func:`harness.environment.machine_name`):
the user's own (``harness calibrate RUN_DIR``, stored in ``$HARNESS_CACHE_DIR/machines.json``,
default ``~/.cache/harness``) before those shipped with the package (``_machines.json``: the
project's machines, each with the run it was fitted on). A machine with neither is priced by the
model as it stands, and ``harness list suites`` says so.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from harness import UsageError, environment
from harness.suites.spec import PACKAGE

if TYPE_CHECKING:
    from harness.cell import Cell

SHIPPED_FILE = "_machines.json"
USER_FILE = "machines.json"
CACHE_ENV = "HARNESS_CACHE_DIR"


class Speed(NamedTuple):
    """Factors on the cost model's fixed seconds and its seconds per gradient, the share of cells (not
    rerun for a short loop) that the second pass runs again, and where they came from (``source``: empty
    for the model's own machine, which foresees no such reruns)."""

    fixed: float = 1.0
    work: float = 1.0
    rerun: float = 0.0
    source: str = ""

    def describe(self) -> str:
        """The three figures in words, as ``harness calibrate`` and ``harness list suites`` print them."""
        return (f"fixed seconds x{self.fixed:g}, seconds per gradient x{self.work:g}, "
                f"{self.rerun:.0%} of cells run twice")


MODEL = Speed()


def user_path() -> Path:
    """The user's calibrations: ``$HARNESS_CACHE_DIR/machines.json`` (default ``~/.cache/harness``)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "harness") / USER_FILE


def this_machine() -> str:
    """This process's machine fingerprint, as its rows would carry it."""
    return environment.capture(with_device=False)["machine"]


def _read(path) -> dict:
    try:
        table = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def shipped() -> dict:
    """The package's calibrations (``_machines.json``): machine fingerprint -> entry."""
    return json.loads(resources.files(PACKAGE).joinpath(SHIPPED_FILE).read_text())


def lookup(machine: str | None = None) -> Speed:
    """The calibration of ``machine`` (default: this one), the user's before the shipped; else :data:`MODEL`."""
    machine = machine or this_machine()
    for where, table in ((str(user_path()), _read(user_path())), ("harness/suites/" + SHIPPED_FILE, shipped())):
        entry = table.get(machine)
        if isinstance(entry, dict) and {"fixed", "work", "rerun"} <= entry.keys():
            runs = ", ".join(entry.get("runs", [])) or "a run"
            return Speed(float(entry["fixed"]), float(entry["work"]), float(entry["rerun"]),
                         f"fitted on {runs} ({where})")
    return MODEL


class Measured(NamedTuple):
    """One finished cell of a run: its configuration, its first attempt's ``process_s``, every attempt's
    summed, the second pass's reason for running it again ('' when it ran once), its commit and its run."""

    cell: Cell
    first_s: float
    total_s: float
    recheck: str
    commit: str = ""
    run: str = ""


def measured(runs) -> dict[str, list[Measured]]:
    """Per machine, every cell of ``runs`` whose latest attempt is ok and whose attempts all carry
    ``process_s``; a cell stored under several runs counts once per run."""
    from harness import store
    from harness.cell import Cell

    out: dict[str, list[Measured]] = {}
    for run in runs:
        rows = store.read_rows(run)
        if not rows:
            raise UsageError(f"{run}: no rows to calibrate from; give a run directory that holds rows.jsonl")
        by_key: dict[str, list[dict]] = {}
        for r in rows:
            if r.get("cell_key"):
                by_key.setdefault(r["cell_key"], []).append(r)
        for key, attempts in by_key.items():
            seconds = [a.get("process_s") for a in attempts]
            if attempts[-1].get("status") != "ok" or any(not isinstance(s, (int, float)) or not s > 0 for s in seconds):
                continue
            reason = str(attempts[-1].get("recheck") or "") if len(attempts) > 1 else ""
            out.setdefault(environment.machine_of(attempts[-1]), []).append(
                Measured(Cell(**json.loads(key)), float(seconds[0]), float(sum(seconds)), reason,
                         str(attempts[0].get("git_commit") or "")[:7], str(run)))
    return out


def fit(cells: list[Measured], model: dict | None = None) -> Speed:
    """The machine's :class:`Speed` from its finished cells (module docstring)."""
    from scipy.optimize import minimize

    from harness.suites.cost_model import costs, estimate_cell_s

    model = model or costs()
    cells = [m for m in cells if _known(m.cell)]
    if not cells:
        raise UsageError("no finished cell of a known method to calibrate from")
    first = np.log([m.first_s for m in cells])

    def loss(x) -> float:
        speed = Speed(*np.exp(x))
        priced = [estimate_cell_s(m.cell, None, model, rechecked=False, speed=speed) for m in cells]
        return float(np.sum((np.log(priced) - first) ** 2))

    best = minimize(loss, x0=np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-6})
    fixed, work = np.round(np.exp(best.x), 3)
    long = [m for m in cells if "short" not in m.recheck]  # a short loop is rerun whatever the host did
    rerun = sum(m.recheck != "" for m in long) / len(long) if long else 0.0
    return Speed(float(fixed), float(work), round(rerun, 3))


def _known(cell) -> bool:
    from harness import methods

    try:
        methods.get(cell.method)
    except UsageError:
        return False
    return True


def save(fits: dict, path=None) -> Path:
    """Store each machine's ``(speed, cells)`` fit in the user's calibrations (or ``path``), keeping every
    other machine's; written to a temporary file and renamed, so a reader never sees half a file. A file
    there that is not a calibration table is left as it is (:class:`harness.UsageError`)."""
    path = Path(path) if path else user_path()
    table = {}
    if path.exists():
        table = _read(path)
        if not table and path.read_bytes().strip() not in (b"", b"{}"):
            raise UsageError(f"{path} is not a calibration file (a JSON object of machines); give another --out")
    for machine, (speed, cells) in fits.items():
        table[machine] = {"fixed": speed.fixed, "work": speed.work, "rerun": speed.rerun, "cells": len(cells),
                          "runs": sorted({m.run for m in cells}), "commits": sorted({m.commit for m in cells} - {""})}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)
    except OSError as e:
        raise UsageError(f"cannot write the calibration file {path}: {e.strerror or e}") from None
    return path
