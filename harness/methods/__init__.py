"""Registry of inference methods by the names users type (one adapter module per backend)."""

from __future__ import annotations

from harness import UsageError
from harness.methods.base import Method, RunConfig, RunResult
from harness.methods.blackjax_mcmc import BLACKJAX_CHEES, BLACKJAX_HMC, BLACKJAX_MALA, BLACKJAX_NUTS
from harness.methods.handrolled import HANDROLLED_HMC, HANDROLLED_HMC_TUNED
from harness.methods.numpyro_mcmc import (
    NUMPYRO_BARKERMH,
    NUMPYRO_HMC,
    NUMPYRO_HMCECS,
    NUMPYRO_NUTS,
    NUMPYRO_SA,
)
from harness.methods.numpyro_svi import SVI_METHODS

_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    if method.name in _REGISTRY:
        raise ValueError(f"method {method.name!r} is already registered")
    _REGISTRY[method.name] = method
    return method


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Method:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown method {name!r}; valid: {', '.join(names())}") from None


for _m in (
    HANDROLLED_HMC,
    HANDROLLED_HMC_TUNED,
    BLACKJAX_HMC,
    BLACKJAX_NUTS,
    BLACKJAX_MALA,
    BLACKJAX_CHEES,
    NUMPYRO_NUTS,
):
    register(_m)
for _m in (NUMPYRO_HMC, NUMPYRO_HMCECS, NUMPYRO_SA, NUMPYRO_BARKERMH, *SVI_METHODS):  # NumPyro MCMC, NumPyro SVI
    register(_m)

__all__ = ["Method", "RunConfig", "RunResult", "get", "names", "register"]
