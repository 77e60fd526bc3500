"""Registry of inference methods by the names users type (one adapter module per backend).

The shipped methods are declared once, as data, in :mod:`harness.methods.catalog` (name,
family, library, where the Method lives) and registered from there; a plugin registers its
own with :func:`register`. Suites select methods by name or by selector (``family:mcmc``,
``library:blackjax``, ``*``, ``-name``: :func:`harness.methods.catalog.select`).
"""

from __future__ import annotations

import importlib

from harness.methods.base import Method, RunConfig, RunResult
from harness.methods.catalog import CATALOG, select
from harness.registry import Registry

REGISTRY: Registry[Method] = Registry("method")
register, get, names = REGISTRY.register, REGISTRY.get, REGISTRY.names
#: every registered method, in registration order (the catalog's, then plugins')
registered = REGISTRY.values


def _from_catalog() -> None:
    for entry in CATALOG:
        method = getattr(importlib.import_module(entry.module), entry.attr)
        declared = (method.name, method.family, method.library)
        if declared != (entry.name, entry.family, entry.library):
            raise RuntimeError(f"harness.methods.catalog: {entry.module}.{entry.attr} is {declared}, "
                               f"the catalog says {(entry.name, entry.family, entry.library)}")
        register(method)


_from_catalog()

__all__ = ["REGISTRY", "Method", "RunConfig", "RunResult", "get", "names", "register", "registered", "select"]
