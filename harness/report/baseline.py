"""The method the report divides by when no other is named: its own module, so that the package
(``harness.report.build``) and the page (:mod:`harness.report.page`) both import it without
importing each other."""

from __future__ import annotations

#: The speedup table's and the crossovers' default baseline (``harness report --baseline``).
DEFAULT_BASELINE = "numpyro_nuts"
