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
shapes and supports) at NumPyro's uniform initial values (``init_to_uniform``), never by
sampling the prior, so improper priors (``dist.ImproperUniform``) work; the flat log
density comes from the model (``model_log_density``).
A user reference, like every reference of synthetic data, describes data seed 0.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from harness import UsageError
from harness.targets.base import ANY_N, Layout, Param, Reference, Target

PREFIX = "file:"
_WANTED = "model(**data) and make_data(n, seed)"
#: What the user's code may raise that becomes one line naming the file: any error, and also a
#: ``sys.exit`` or a KeyboardInterrupt raised by the file itself (else: exit 3 and no output).
USER_FAULTS = (Exception, SystemExit, KeyboardInterrupt)


def spec(path) -> str:
    """The registry name of a model file: ``file:<absolute path>``."""
    return PREFIX + str(Path(path).expanduser().resolve())


def _import(path: Path):
    if path.is_dir():
        raise UsageError(f"model file {path} is a directory; give a .py file defining {_WANTED}")
    if not path.is_file():
        raise UsageError(f"model file {path} not found")
    name = "harness_user_model_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module_spec = importlib.util.spec_from_file_location(name, path)  # None for a name not ending in .py
    if path.suffix != ".py" or module_spec is None:
        raise UsageError(f"model file {path} is not a Python file (.py); give a .py file defining {_WANTED}")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except USER_FAULTS as e:  # the user's code: report it on one line
        raise UsageError(f"model file {path} failed to import: {type(e).__name__}: {e}".splitlines()[0]) from None
    return module


def _trace(model, data: dict) -> dict:
    """Trace of ``model(**data)`` with every continuous latent site at NumPyro's uniform
    initial value (as its MCMC starts), not a draw of its prior: an improper prior
    (``dist.ImproperUniform``) cannot be sampled."""
    from numpyro import handlers
    from numpyro.infer import init_to_uniform

    return handlers.trace(handlers.substitute(handlers.seed(model, 0), substitute_fn=init_to_uniform)).get_trace(**data)


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
        raise UsageError(f"model file {path} must define {' and '.join(missing)}: {_WANTED}")
    ref = _reference(module, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def make_data(dataset: str, n: int | None, seed: int = 0) -> dict:
        data = module.make_data(n if dataset == "synthetic" else None, seed)
        if not isinstance(data, Mapping):
            raise UsageError(f"model file {path}: make_data must return a dict of model(**data)'s keyword "
                             f"arguments, got {type(data).__name__}")
        return dict(data)

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
    except UsageError:
        raise
    except USER_FAULTS as e:
        raise UsageError(f"{where}: make_data({n}, 0) failed: {type(e).__name__}: {e}".splitlines()[0]) from None
    try:
        layout = target.layout(data)
    except UsageError:
        raise
    except USER_FAULTS as e:  # the user's model on its own data
        raise UsageError(f"{where}: model(**make_data({n}, 0)) failed: {type(e).__name__}: {e}".splitlines()[0]) from None
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
