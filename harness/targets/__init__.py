"""Registry of targets by the names users type."""

from __future__ import annotations

from harness import UsageError
from harness.targets.base import ANY_N, Layout, Param, Posterior, Reference, Target
from harness.targets import posteriordb, sparse_logistic

_REGISTRY: dict[str, Target] = {}


def register(target: Target) -> Target:
    if target.name in _REGISTRY:
        raise ValueError(f"target {target.name!r} is already registered")
    _REGISTRY[target.name] = target
    return target


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Target:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; valid: {', '.join(names())}") from None


register(sparse_logistic.TARGET)
for _t in posteriordb.TARGETS:
    register(_t)

__all__ = ["ANY_N", "Layout", "Param", "Posterior", "Reference", "Target", "get", "names", "register"]
