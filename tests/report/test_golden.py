"""Rows in, tables out, pinned: the fixture run's tables equal the committed golden file.

A refactor of the row schema, the frame or the tables must leave this file unchanged; a change
that means to move a figure reruns ``python tests/fixtures/make_golden.py`` and commits the diff.
"""

from __future__ import annotations

import importlib.util

from tests.report.conftest import RUN_SMALL


def test_the_fixture_runs_tables_equal_the_golden_file():
    spec = importlib.util.spec_from_file_location("make_golden", RUN_SMALL.parent / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (RUN_SMALL / "golden.md").read_text()
