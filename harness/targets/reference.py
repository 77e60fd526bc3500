"""Reference posteriors: the moments a posterior is scored against, and where to find them.

A reference is per constrained site: mean, sd and the standard error of the mean.
Where it comes from, in order:

1. the target's own ``reference(dataset, n)`` hook (analytic truth, posteriordb figures);
2. a stored JSON file in the package, ``harness/references/<target>/<dataset>.json``
   for a dataset of fixed size, ``<dataset>-n<N>.json`` for synthetic data of size N,
   written by ``harness reference`` (:mod:`harness.reference_runs`). Its pooled ``sites``
   are the reference; the per-sampler moments newer files keep under ``samplers`` are
   evidence for ``harness reference --audit``, not read here, so older files read alike.

Data may depend on the data seed (synthetic data, a user's ``make_data``): every
reference describes the data of ``data_seed = 0`` (the default of every cell), so a
row with another data seed has no reference (its accuracy columns stay empty) rather
than a possibly wrong one. This module imports nothing of the harness: targets use it,
and computing a reference (running samplers) lives outside ``targets/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping

import numpy as np

ANY_N = "any"  # a dataset that is synthetic data of any size N


@dataclass(frozen=True)
class Reference:
    """Reference posterior moments per constrained site, and where they came from."""

    mean: Mapping[str, np.ndarray]
    sd: Mapping[str, np.ndarray]
    source: str
    se_mean: Mapping[str, np.ndarray] | None = None

REFERENCE_DATA_SEED = 0


def filename(target, dataset: str, n: int | None) -> str:
    """Relative path of a stored reference: ``<target>/<dataset>[-n<N>].json``."""
    synthetic = target.datasets[dataset] == ANY_N
    return f"{target.name}/{dataset}-n{n}.json" if synthetic else f"{target.name}/{dataset}.json"


def package_dir() -> Path:
    """``harness/references`` (package data), where shipped references live."""
    return Path(str(resources.files("harness"))) / "references"


def from_json(doc: dict) -> Reference:
    sites = doc["sites"]
    arr = lambda s, k: np.asarray(s[k], dtype=np.float64).reshape(s.get("shape", np.shape(s[k])))  # noqa: E731
    return Reference(
        mean={k: arr(s, "mean") for k, s in sites.items()},
        sd={k: arr(s, "sd") for k, s in sites.items()},
        se_mean={k: arr(s, "se_mean") for k, s in sites.items() if "se_mean" in s} or None,
        source=doc.get("source") or f"harness reference: {doc.get('command', '?')} ({doc.get('date', '?')})",
    )


def stored(target, dataset: str, n: int | None) -> Reference | None:
    """The shipped JSON reference of (target, dataset, n), or None."""
    path = package_dir() / filename(target, dataset, n)
    if not path.is_file():
        return None
    return from_json(json.loads(path.read_text()))


def lookup(target, dataset: str, n: int | None, data_seed: int = 0) -> Reference | None:
    """The reference for this posterior: the target's hook first, then a stored file; else None."""
    if data_seed != REFERENCE_DATA_SEED:
        return None
    if target.reference is not None:
        ref = target.reference(dataset, n)
        if ref is not None:
            return ref
    return stored(target, dataset, n)
