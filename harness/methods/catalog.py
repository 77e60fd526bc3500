"""Every shipped method declared as data, and the selectors a suite's ``methods`` list may use.

Pure Python, no imports from JAX or the harness: the asv suite (``benchmarks/common.py``) loads
this file by its path at import time, to expand the asv matrix's selectors without importing a
sampler (asv imports that module in every benchmark process, also the ones it skips), and
``harness.methods`` registers the shipped methods from :data:`CATALOG` (checking each entry
against the Method it names). So a method added here (and its adapter) reaches every suite
whose ``methods`` select it: the asv matrix, the pytest-benchmark matrix and ``harness run``.

A suite's ``methods`` is a list of patterns, read in order (:func:`select`):

- ``"numpyro_nuts"``: that method;
- ``"family:mcmc"``, ``"library:blackjax"``, ``"*"``: every method of that family, of that
  library, or every one, in registration order;
- ``"-numpyro_sa"`` (or ``"-family:vi"``, ...): leave out what the pattern names, wherever it
  was selected; a suite says why in a comment.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple, Protocol


class Entry(NamedTuple):
    """A shipped method: its registry name, family ("mcmc" / "vi"), library, and the module
    attribute holding its ``harness.methods.base.Method``."""

    name: str
    family: str
    library: str
    module: str
    attr: str


_HAND, _BJ, _NP, _SVI = ("harness.methods.handrolled", "harness.methods.blackjax_mcmc",
                         "harness.methods.numpyro_mcmc", "harness.methods.numpyro_svi")

#: The shipped methods, in registration order (the order a selector lists them in).
CATALOG: tuple[Entry, ...] = (
    Entry("handrolled_hmc", "mcmc", "handrolled", _HAND, "HANDROLLED_HMC"),
    Entry("handrolled_hmc_tuned", "mcmc", "handrolled", _HAND, "HANDROLLED_HMC_TUNED"),
    Entry("blackjax_hmc", "mcmc", "blackjax", _BJ, "BLACKJAX_HMC"),
    Entry("blackjax_nuts", "mcmc", "blackjax", _BJ, "BLACKJAX_NUTS"),
    Entry("blackjax_mala", "mcmc", "blackjax", _BJ, "BLACKJAX_MALA"),
    Entry("blackjax_chees", "mcmc", "blackjax", _BJ, "BLACKJAX_CHEES"),
    Entry("numpyro_nuts", "mcmc", "numpyro", _NP, "NUMPYRO_NUTS"),
    Entry("numpyro_hmc", "mcmc", "numpyro", _NP, "NUMPYRO_HMC"),
    Entry("numpyro_hmcecs", "mcmc", "numpyro", _NP, "NUMPYRO_HMCECS"),
    Entry("numpyro_sa", "mcmc", "numpyro", _NP, "NUMPYRO_SA"),
    Entry("numpyro_barkermh", "mcmc", "numpyro", _NP, "NUMPYRO_BARKERMH"),
    Entry("svi_autonormal", "vi", "numpyro", _SVI, "SVI_AUTONORMAL"),
    Entry("svi_automvn", "vi", "numpyro", _SVI, "SVI_AUTOMVN"),
    Entry("svi_autolowrank", "vi", "numpyro", _SVI, "SVI_AUTOLOWRANK"),
    Entry("svi_autodelta", "vi", "numpyro", _SVI, "SVI_AUTODELTA"),
    Entry("svi_autolaplace", "vi", "numpyro", _SVI, "SVI_AUTOLAPLACE"),
)


class Described(Protocol):
    name: str
    family: str
    library: str


def is_selector(pattern: str) -> bool:
    """Whether a ``methods`` pattern selects by family / library / all, or leaves out."""
    return pattern == "*" or pattern.startswith("-") or ":" in pattern


def _matches(pattern: str, methods: list[Described]) -> list[str]:
    if pattern == "*":
        return [m.name for m in methods]
    kind, sep, value = pattern.partition(":")
    if sep:
        if kind not in ("family", "library"):
            raise ValueError(f"unknown selector {pattern!r}; valid: a method name, family:F, library:L, * "
                             "or any of them after '-'")
        found = [m.name for m in methods if getattr(m, kind) == value]
        if not found:
            valid = sorted({getattr(m, kind) for m in methods})
            raise ValueError(f"{pattern!r} selects no method; valid {kind} values: {', '.join(valid)}")
        return found
    return [pattern]  # a plain name: the registry reports an unknown one with its own message


def select(patterns: Iterable[str], methods: Iterable[Described]) -> list[str]:
    """The method names ``patterns`` mean (see the module docstring), in the order they were
    first selected; ``methods`` are the registered methods, in registration order. Raises
    ValueError for a selector that selects nothing or a ``-`` pattern naming no registered method."""
    methods = list(methods)
    chosen: list[str] = []
    dropped: set[str] = set()
    for pattern in patterns:
        if pattern.startswith("-"):
            names = _matches(pattern[1:], methods)
            unknown = [n for n in names if n not in {m.name for m in methods}]
            if unknown:
                raise ValueError(f"{pattern!r} leaves out {unknown[0]!r}, which is not registered")
            dropped.update(names)
        else:
            chosen.extend(n for n in _matches(pattern, methods) if n not in chosen)
    return [n for n in chosen if n not in dropped]
