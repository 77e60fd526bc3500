"""The stored fixture run (tests/fixtures/run_small, written by tests/fixtures/make_run_small.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.report import frame

RUN_SMALL = Path(__file__).resolve().parent.parent / "fixtures" / "run_small"


def raw_rows() -> pd.DataFrame:
    """The fixture rows as stored, read without the report code."""
    return pd.DataFrame([json.loads(line) for line in (RUN_SMALL / "rows.jsonl").read_text().splitlines()])


@pytest.fixture(scope="session")
def run_small() -> Path:
    return RUN_SMALL


@pytest.fixture(scope="session")
def rows() -> pd.DataFrame:
    return frame.load(RUN_SMALL)


@pytest.fixture(scope="session")
def cells(rows) -> pd.DataFrame:
    return frame.aggregate(rows)
