"""Registry of inference methods by the names users type (one adapter module per backend).

The shipped methods are declared once, as data, in :mod:`harness.methods.catalog` (name,
family, library, where the Method lives) and registered from there; a plugin registers its
own with :func:`register`. Suites select methods by name or by selector (``family:mcmc``,
``library:blackjax``, ``*``, ``-name``: :func:`harness.methods.catalog.select`).
"""

from __future__ import annotations

import importlib

from harness import UsageError
from harness.methods.base import Method, RunConfig, RunResult
from harness.methods.catalog import CATALOG, select

_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    if method.name in _REGISTRY:
        raise ValueError(f"method {method.name!r} is already registered")
    _REGISTRY[method.name] = method
    return method


def names() -> list[str]:
    return sorted(_REGISTRY)


def registered() -> list[Method]:
    """Every registered method, in registration order (the catalog's, then plugins')."""
    return list(_REGISTRY.values())


def get(name: str) -> Method:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown method {name!r}; valid: {', '.join(names())}") from None


def _from_catalog() -> None:
    for entry in CATALOG:
        method = getattr(importlib.import_module(entry.module), entry.attr)
        declared = (method.name, method.family, method.library)
        if declared != (entry.name, entry.family, entry.library):
            raise RuntimeError(f"harness.methods.catalog: {entry.module}.{entry.attr} is {declared}, "
                               f"the catalog says {(entry.name, entry.family, entry.library)}")
        register(method)


_from_catalog()

__all__ = ["Method", "RunConfig", "RunResult", "get", "names", "register", "registered", "select"]
