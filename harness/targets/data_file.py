"""A user's data file: a dict of arrays read from .pkl, .npz, .csv or .parquet, cut to size by a stated rule.

Formats: a pickle (``.pkl``, ``.pickle``) of a dict {name: array}; a NumPy ``.npz`` (one array per
name); a ``.csv`` or ``.parquet`` table (one 1-D array per column, read by pandas; parquet needs
pyarrow or fastparquet). The keys are the keyword arguments of ``model(**data)``.

The data axis is axis 0 of every array: every array must have at least one dimension and the same
length N along it. A size n takes **the first n rows** (``x[:n]`` of every array), never a random
subsample: sizes are nested (the data of 1,000 is part of the data of 10,000) and the rule needs no
seed. Floating arrays are read as float32 (the harness's default precision; a float64 cell casts them
back), integers and booleans as they are.

Bad input is a :class:`harness.UsageError` naming the file and what is valid.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from harness import UsageError

SUFFIXES = (".pkl", ".pickle", ".npz", ".csv", ".parquet")
RULE = "the first N rows along axis 0 of every array"


def digest(path) -> str:
    """SHA-256 of the file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _table(path: Path, read) -> dict:
    try:
        frame = read(path)
    except ImportError as e:
        raise UsageError(f"data file {path}: reading {path.suffix} needs a library that is missing ({e}); "
                         f"give .pkl, .npz or .csv instead".splitlines()[0]) from None
    return {str(c): frame[c].to_numpy() for c in frame.columns}


def _raw(path: Path) -> object:
    suffix = path.suffix.lower()
    if suffix in (".pkl", ".pickle"):
        with open(path, "rb") as f:
            return pickle.load(f)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    import pandas as pd

    if suffix == ".csv":
        return _table(path, pd.read_csv)
    return _table(path, pd.read_parquet)


def read(path) -> dict[str, np.ndarray]:
    """The arrays of a data file, checked: a non-empty dict of arrays with equal length along axis 0."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"data file {path}: unknown format {path.suffix or '(no suffix)'!r}; valid: {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise UsageError(f"data file {path} not found")
    try:
        raw = _raw(path)
    except UsageError:
        raise
    except Exception as e:  # a corrupt or foreign file
        raise UsageError(f"data file {path} could not be read: {type(e).__name__}: {e}".splitlines()[0]) from None
    if not isinstance(raw, Mapping) or not raw:
        what = "an empty dict" if isinstance(raw, Mapping) else type(raw).__name__
        raise UsageError(f"data file {path} must hold a dict of arrays {{name: array}}, got {what}")
    data = {}
    for key, value in raw.items():
        try:
            x = np.asarray(value)
        except Exception:  # noqa: BLE001 - ragged lists and the like
            x = np.asarray(None, dtype=object)
        if not isinstance(key, str) or x.dtype == object or x.ndim == 0:
            raise UsageError(f"data file {path}: entry {key!r} is not a numeric array with a data axis "
                             f"(a dict of arrays {{name: array}} with at least one dimension is valid)")
        data[key] = x.astype(np.float32) if np.issubdtype(x.dtype, np.floating) else x
    lengths = {k: v.shape[0] for k, v in data.items()}
    if len(set(lengths.values())) > 1:
        raise UsageError(f"data file {path}: arrays differ in length along the data axis (axis 0): "
                         + ", ".join(f"{k} {n}" for k, n in lengths.items()) + "; every array needs the same N")
    if not next(iter(lengths.values())):
        raise UsageError(f"data file {path} has no rows (length 0 along axis 0)")
    return data


def rows(data: Mapping[str, np.ndarray]) -> int:
    """N: the length of the data axis."""
    return int(next(iter(data.values())).shape[0])


def first(data: Mapping[str, np.ndarray], n: int, where: str = "data file") -> dict[str, np.ndarray]:
    """The first ``n`` rows of every array (UsageError for n < 1 or n above the data's N)."""
    total = rows(data)
    if not 1 <= n <= total:
        raise UsageError(f"size {n} is not between 1 and the {total} rows of {where}")
    return {k: v[:n] for k, v in data.items()}
