"""How each method is drawn: one colour and marker per method name, the same in every report.

A style is looked up by the method's name in :data:`STYLES`, never by its place among the
methods a report happens to hold, so NumPyro NUTS has one look in a report of two methods and
in one of sixteen. The marker names the library (hand-rolled: diamond, BlackJAX: square,
NumPyro MCMC: circle, NumPyro SVI: triangle) and the colour the method (15 of Kelly's colours
of maximum contrast and a cyan; none grey or black, which the figures keep for keys, floors
and the GPU ring).

A method not in the table (a plugin) gets :func:`fallback_style`: colour and marker picked by a
hash of its name (stable across processes and machines, unlike ``hash``), from markers the
table does not use, so it never looks like a shipped method. Two plugins may share a look.

Pure Python (no matplotlib): colours are hex strings matplotlib reads as they are.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple


class Style(NamedTuple):
    """How one method is drawn in every figure of every report."""

    colour: str
    marker: str


_HAND, _BJ, _NP, _SVI = "D", "s", "o", "^"

#: method name -> Style, for every method in :data:`harness.methods.catalog.CATALOG`.
STYLES: dict[str, Style] = {
    "handrolled_hmc": Style("#882D17", _HAND),        # reddish brown
    "handrolled_hmc_tuned": Style("#C2B280", _HAND),  # buff
    "blackjax_hmc": Style("#A1CAF1", _BJ),            # light blue
    "blackjax_nuts": Style("#0067A5", _BJ),           # blue
    "blackjax_mala": Style("#8DB600", _BJ),           # yellow green
    "blackjax_chees": Style("#604E97", _BJ),          # violet
    "numpyro_nuts": Style("#BE0032", _NP),            # red
    "numpyro_hmc": Style("#F38400", _NP),             # orange
    "numpyro_hmcecs": Style("#875692", _NP),          # purple
    "numpyro_sa": Style("#008856", _NP),              # green
    "numpyro_barkermh": Style("#E68FAC", _NP),        # purplish pink
    "svi_autonormal": Style("#E25822", _SVI),         # reddish orange
    "svi_automvn": Style("#1BA3C6", _SVI),            # cyan
    "svi_autolowrank": Style("#B3446C", _SVI),        # purplish red
    "svi_autodelta": Style("#F6A600", _SVI),          # orange yellow
    "svi_autolaplace": Style("#654522", _SVI),        # yellowish brown
}

#: Colours (matplotlib's tab10 less its grey) and markers a plugin's look is drawn from; no
#: marker of :data:`STYLES`, so a plugin never takes a shipped method's pair.
FALLBACK_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                    "#bcbd22", "#17becf")
FALLBACK_MARKERS = ("v", "P", "X", "*", "<", ">", "p", "h")


def fallback_style(name: str) -> Style:
    """The look of a method missing from :data:`STYLES`, from the CRC-32 of its name."""
    h = zlib.crc32(name.encode())
    return Style(FALLBACK_COLOURS[h % len(FALLBACK_COLOURS)],
                 FALLBACK_MARKERS[(h // len(FALLBACK_COLOURS)) % len(FALLBACK_MARKERS)])


def style(name: str) -> Style:
    """The look of method ``name``: its entry in :data:`STYLES`, else :func:`fallback_style`."""
    return STYLES.get(name) or fallback_style(name)
