"""Registry of targets by the names users type."""

from __future__ import annotations

from harness.registry import Registry
from harness.targets.base import ANY_N, Layout, Param, Posterior, Reference, Target
from harness.targets import covtype, eight_schools, funnel, gaussian, linear_regression, logistic, posteriordb
from harness.targets import sparse_logistic, stochastic_volatility, user

REGISTRY: Registry[Target] = Registry("target", asked_as="model")
register, names = REGISTRY.register, REGISTRY.names


def get(name: str) -> Target:
    """A registered target, or a user's model file named ``file:<path>`` (see harness.targets.user)."""
    if name.startswith(user.PREFIX):
        return user.load(name)
    return REGISTRY.get(name)


register(sparse_logistic.TARGET)
register(sparse_logistic.TARGET_XT)
register(logistic.TARGET)
register(covtype.TARGET)
register(eight_schools.CENTERED)
register(eight_schools.NONCENTERED)
register(funnel.TARGET)
register(gaussian.TARGET)
register(linear_regression.TARGET)
register(stochastic_volatility.TARGET)
for _t in posteriordb.TARGETS:
    register(_t)

__all__ = ["ANY_N", "REGISTRY", "Layout", "Param", "Posterior", "Reference", "Target", "get", "names", "register"]
