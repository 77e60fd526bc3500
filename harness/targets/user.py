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

With a data file (``harness mcmc-vs-vi --data``; :mod:`harness.targets.data_file`) the name is
``file:<model path>#data=<data path>`` (:func:`spec`), ``make_data`` is not needed, and the one
dataset is named for the data file and its hash (``<file name>@<first 12 hex of its SHA-256>``),
synthetic-like: size N takes the first N rows. The source records both files' SHA-256. Its
reference is a computed one, looked up by model hash, data hash and N (:func:`cache_path`) in the
directory named by the environment variable :data:`REFERENCE_CACHE_ENV` (which the cells'
processes inherit); the model file's own ``reference`` is not used with a data file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from harness import UsageError
from harness.targets.base import ANY_N, Layout, Param, Reference, Target, initial_sites

PREFIX = "file:"
DATA_SEP = "#data="
#: Directory of computed references of model files with a data file (read by the cells' processes).
REFERENCE_CACHE_ENV = "HARNESS_REFERENCE_CACHE"
_WANTED = "model(**data) and make_data(n, seed)"
#: What the user's code may raise that becomes one line naming the file: any error, and also a
#: ``sys.exit`` or a KeyboardInterrupt raised by the file itself (else: exit 3 and no output).
USER_FAULTS = (Exception, SystemExit, KeyboardInterrupt)


def spec(path, data=None) -> str:
    """The registry name of a model file: ``file:<absolute path>``, with a data file
    ``file:<absolute path>#data=<absolute data path>``."""
    name = PREFIX + str(Path(path).expanduser().resolve())
    return name if data is None else name + DATA_SEP + str(Path(data).expanduser().resolve())


def _paths(name: str) -> tuple[Path, Path | None]:
    """(model path, data path or None) of a registry name (or a bare path)."""
    name = name[len(PREFIX):] if name.startswith(PREFIX) else name
    model, _, data = name.partition(DATA_SEP)
    return Path(model).expanduser().resolve(), (Path(data).expanduser().resolve() if data else None)


@functools.lru_cache(maxsize=None)
def digests(name: str) -> tuple[str, str | None]:
    """SHA-256 of the model file and of the data file (None without one), as loaded."""
    from harness.targets import data_file

    model, data = _paths(name)
    return hashlib.sha256(model.read_bytes()).hexdigest(), (data_file.digest(data) if data else None)


def cache_path(cache_dir, name: str, n: int) -> Path:
    """Where the computed reference of a model file with a data file, at size ``n``, is cached:
    ``<cache_dir>/<model sha256[:16]>/<data sha256[:16]>-n<N>.json``."""
    model, data = digests(name)
    if data is None:
        raise ValueError(f"{name} has no data file: its reference is not computed")
    return Path(cache_dir) / model[:16] / f"{data[:16]}-n{n}.json"


def _cached_reference(name: str, n: int | None) -> Reference | None:
    """The computed reference of (model, data, n) in :data:`REFERENCE_CACHE_ENV`'s directory, or None."""
    import json
    import os

    from harness.targets.reference import from_json

    cache = os.environ.get(REFERENCE_CACHE_ENV)
    if not cache or n is None:
        return None
    path = cache_path(cache, name, n)
    return from_json(json.loads(path.read_text())) if path.is_file() else None


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


def layout_of(model, data: dict, where: str = "model") -> Layout:
    """Latent sites of ``model(**data)``: name, constrained shape and support, in trace order."""
    params = []
    for name, site in initial_sites(model, data).items():
        if site["type"] != "sample" or site["is_observed"] or site["infer"].get("is_auxiliary"):
            continue
        support = site["support"]
        if support.is_discrete:
            raise UsageError(f"{where}: latent site {name!r} is discrete; only continuous latent sites are supported")
        params.append(Param(name, site["shape"], support))
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
    path, data_path = _paths(name)
    module = _import(path)
    if data_path is not None:
        return _with_data(module, path, data_path)
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


def _with_data(module, path: Path, data_path: Path) -> Target:
    """The Target of a model file and a data file (:mod:`harness.targets.data_file`): the data's first
    N rows at size N, a computed reference (:func:`_cached_reference`)."""
    from harness.targets import data_file

    if not callable(getattr(module, "model", None)):
        raise UsageError(f"model file {path} must define model: model(**data), data from {data_path.name}")
    data = data_file.read(data_path)
    name = spec(path, data_path)
    model_digest, data_digest = digests(name)
    dataset = f"{data_path.name}@{data_digest[:12]}"

    def make_data(dataset_: str, n: int | None, seed: int = 0) -> dict:
        return data_file.first(data, data_file.rows(data) if n is None else n, f"data file {data_path}")

    return Target(
        name=name,
        description=f"user model from {path.name} on {data_path.name} ({data_file.RULE})",
        source=f"{path} (sha256 {model_digest}); data {data_path} (sha256 {data_digest})",
        model=module.model,
        datasets={dataset: ANY_N},
        make_data=make_data,
        layout=lambda d: layout_of(module.model, d, where=f"model file {path}"),
        reference=lambda dataset_, n: _cached_reference(name, n),
    )


def check(target: Target, dataset: str, n: int | None) -> None:
    """Build the data once and check the file's reference against the model's sites (UsageError)."""
    model_path, data_path = _paths(target.name)
    where = f"model file {model_path}"
    call = f"model(**make_data({n}, 0))" if data_path is None else \
        f"model(**data) on the keys of {data_path.name} ({', '.join(target.make_data(dataset, n, 0))})"
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
        raise UsageError(f"{where}: {call} failed: {type(e).__name__}: {e}".splitlines()[0]) from None
    ref = target.reference(dataset, n) if target.reference else None
    if ref is None:
        return
    sites = {k: int(np.prod(s["shape"], dtype=int)) for k, s in initial_sites(target.model, data).items()
             if s["type"] == "deterministic" or k in layout.names}
    for k, m in ref.mean.items():
        if k not in sites:
            raise UsageError(f"{where}: reference names unknown site {k!r}; valid: {', '.join(sites)}")
        if m.size != sites[k]:
            raise UsageError(f"{where}: reference {k!r} has {m.size} values, the site has {sites[k]}")
