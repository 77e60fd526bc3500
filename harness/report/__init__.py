"""``harness report RUN_DIR``: stored rows -> Markdown and HTML report with PNG figures.

Output (default ``RUN_DIR/report``)::

    report.md       the report in Markdown
    report.html     the same, one self-contained page (inline style, no scripts)
    figures/*.png   scaling, compile, per-gradient and accuracy figures
    diagnostics/*.png  ArviZ trace and rank plots of flagged cells with saved draws

Images are PNG files beside the pages, linked by relative paths (not embedded
as base64), so both pages share them, the diff of a committed report stays
readable, and the folder can be moved as a whole.

Modules: frame (read rows, flags, seed aggregation), stats (ratios, fits,
crossovers), tables, figures, crossovers, traces (ArviZ), render (Markdown /
HTML), compare (``harness compare``), styles (each method's colour and marker),
baseline (the default baseline). Importing the package imports none of them but
baseline (matplotlib is loaded by :func:`build`), so ``harness.report.frame`` stays
light enough for the CLI's plain table.
"""

from __future__ import annotations

from harness.report.baseline import DEFAULT_BASELINE


def build(run_dir, out_dir=None, baseline: str = DEFAULT_BASELINE, traces: tuple = ("flagged",),
          machine: str | None = None):
    """Write the report of ``run_dir`` under ``out_dir`` (default RUN_DIR/report); returns the HTML path.

    ``traces``: which ok rows get ArviZ trace/rank plots when their draws were
    saved: 'flagged' (always), 'all', or method names. ``machine``: the one machine to report
    where the rows come from several. See :mod:`harness.report.page`.
    """
    from harness.report import page

    return page.build(run_dir, out_dir, baseline=baseline, traces=traces, machine=machine)
