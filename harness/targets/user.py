"""Bring your own model: a Python file becomes a Target (``harness run --model-file my_model.py``).

The file defines

* ``model(**data)``: a NumPyro model (continuous latent sites);
* ``make_data(n, seed) -> dict``: its data; ``n`` is None for fixed data, an int for
  synthetic data of size N (``--size N``);
* optionally ``reference = {site: {"mean": [...], "sd": [...]}}``: reference moments of
  latent or deterministic sites (flattened constrained coordinates, any nesting of lists).

Its registry name, and so the ``model`` of its cells and rows, is ``file:<absolute path>``
(:data:`PREFIX`): cells run in fresh processes and find the file again by that name. The
``source`` of the target records the file's SHA-256, so a report can tell edits apart.
Datasets: ``data`` (``make_data(None, seed)``) and ``synthetic`` (``make_data(N, seed)``).
The layout comes from tracing the model on its data (latent sites in trace order, their
shapes and supports), and the flat log density from the model (``model_log_density``).
A user reference, like every reference of synthetic data, describes data seed 0.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from harness import UsageError
from harness.targets.base import ANY_N, Layout, Param, Reference, Target

PREFIX = "file:"


def spec(path) -> str:
    """The registry name of a model file: ``file:<absolute path>``."""
    return PREFIX + str(Path(path).expanduser().resolve())


def _import(path: Path):
    if not path.is_file():
        raise UsageError(f"model file {path} not found")
    name = "harness_user_model_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:  # the user's code: report it on one line
        raise UsageError(f"model file {path} failed to import: {type(e).__name__}: {e}".splitlines()[0]) from None
    return module


def _trace(model, data: dict) -> dict:
    from numpyro import handlers

    return handlers.trace(handlers.seed(model, 0)).get_trace(**data)


def layout_of(model, data: dict, where: str = "model") -> Layout:
    """Latent sites of ``model(**data)``: name, constrained shape and support, in trace order."""
    params = []
    for name, site in _trace(model, data).items():
        if site["type"] != "sample" or site["is_observed"] or site["infer"].get("is_auxiliary"):
            continue
        support = site["fn"].support
        if support.is_discrete:
            raise UsageError(f"{where}: latent site {name!r} is discrete; only continuous latent sites are supported")
        params.append(Param(name, tuple(np.shape(site["value"])), support))
    if not params:
        raise UsageError(f"{where}: the model has no latent sample site")
    return Layout(tuple(params))


def _reference(module, path: Path) -> Reference | None:
    ref = getattr(module, "reference", None)
    if ref is None:
        return None
    if not isinstance(ref, dict) or not all(isinstance(v, dict) and {"mean", "sd"} <= set(v) for v in ref.values()):
        raise UsageError(f"model file {path}: reference must be {{site: {{'mean': [...], 'sd': [...]}}}}")
    mean = {k: np.asarray(v["mean"], dtype=np.float64).reshape(-1) for k, v in ref.items()}
    sd = {k: np.asarray(v["sd"], dtype=np.float64).reshape(-1) for k, v in ref.items()}
    for k in ref:
        if mean[k].shape != sd[k].shape:
            raise UsageError(f"model file {path}: reference {k!r} has {mean[k].size} means but {sd[k].size} sds")
    return Reference(mean=mean, sd=sd, source=f"reference in {path}")


@functools.lru_cache(maxsize=None)
def load(name: str) -> Target:
    """The Target of ``file:<path>`` (or a bare path); UsageError for a bad file."""
    path = Path(name[len(PREFIX):] if name.startswith(PREFIX) else name).expanduser().resolve()
    module = _import(path)
    missing = [f for f in ("model", "make_data") if not callable(getattr(module, f, None))]
    if missing:
        raise UsageError(f"model file {path} must define {' and '.join(missing)}: model(**data), make_data(n, seed)")
    ref = _reference(module, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
        return dict(module.make_data(n if dataset == "synthetic" else None, seed))

    return Target(
        name=spec(path),
        description=f"user model from {path.name}",
        source=f"{path} (sha256 {digest})",
        model=module.model,
        datasets={"data": None, "synthetic": ANY_N},
        make_data=make_data,
        layout=lambda data: layout_of(module.model, data, where=f"model file {path}"),
        reference=(lambda dataset, n: ref) if ref is not None else None,
    )


def check(target: Target, dataset: str, n: int | None) -> None:
    """Build the data once and check the file's reference against the model's sites (UsageError)."""
    where = f"model file {target.name[len(PREFIX):]}"
    try:
        data = target.make_data(dataset, n, 0)
    except Exception as e:
        raise UsageError(f"{where}: make_data({n}, 0) failed: {type(e).__name__}: {e}".splitlines()[0]) from None
    layout = target.layout(data)
    ref = target.reference(dataset, n) if target.reference else None
    if ref is None:
        return
    trace = _trace(target.model, data)
    sites = {k: int(np.size(s["value"])) for k, s in trace.items()
             if s["type"] == "deterministic" or k in layout.names}
    for k, m in ref.mean.items():
        if k not in sites:
            raise UsageError(f"{where}: reference names unknown site {k!r}; valid: {', '.join(sites)}")
        if m.size != sites[k]:
            raise UsageError(f"{where}: reference {k!r} has {m.size} values, the site has {sites[k]}")
