"""Datasets named by their knobs, so every knob of a cell is in its row.

A target whose shape is configurable (dimension D, condition number K) names its
datasets after the knobs: ``d100`` is D = 100, ``d100_c1000`` is D = 100 and
condition number 1000. Any name matching the family's pattern is valid; a few
are listed (``harness list``) as examples, followed by the pattern itself, e.g.
``d<D>``. The data size N stays the cell's ``n`` (for a time series, its length T).

:class:`ParametricDatasets` is a read-only mapping name -> size kind (ANY_N or
None), like the plain dict of a fixed-data target, so nothing that reads
``Target.datasets`` needs to know the difference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Callable


class ParametricDatasets(Mapping):
    """Dataset names matching ``pattern`` (a regex with named integer groups).

    Args:
        pattern: regex matched against the whole name, e.g. ``r"d(?P<d>\\d+)"``.
        size: size kind of every dataset of the family: ANY_N (synthetic data of
            any N) or None (no data: an analytic density).
        examples: names listed first (the first is the target's default).
        placeholder: how the pattern reads in listings, e.g. ``d<D>``.
        check: optional ``params -> error text or None`` for values out of range.
    """

    def __init__(self, pattern: str, size, examples: tuple[str, ...], placeholder: str,
                 check: Callable[[dict], str | None] | None = None):
        self._regex = re.compile(pattern)
        self._size = size
        self._examples = tuple(examples)
        self.placeholder = placeholder
        self._check = check
        for name in self._examples:
            if name not in self:
                raise ValueError(f"example dataset {name!r} does not match {pattern!r}")

    def params(self, name: str) -> dict[str, int]:
        """Knob values of a dataset name, e.g. ``d100_c1000`` -> {'d': 100, 'c': 1000}."""
        m = self._regex.fullmatch(name) if isinstance(name, str) else None
        if m is None:
            raise KeyError(name)
        values = {k: int(v) for k, v in m.groupdict().items()}
        if self._check is not None and self._check(values):
            raise KeyError(name)
        return values

    def why_invalid(self, name: str) -> str | None:
        """Why ``name`` is not a dataset of this family (None when it is)."""
        m = self._regex.fullmatch(name) if isinstance(name, str) else None
        if m is None:
            return f"expected a name like {self.placeholder}"
        return self._check({k: int(v) for k, v in m.groupdict().items()}) if self._check else None

    def __contains__(self, name) -> bool:
        return self.why_invalid(name) is None

    def __getitem__(self, name):
        if name == self.placeholder or name in self:
            return self._size
        raise KeyError(name)

    def __iter__(self):
        return iter(self._examples + (self.placeholder,))

    def __len__(self) -> int:
        return len(self._examples) + 1
