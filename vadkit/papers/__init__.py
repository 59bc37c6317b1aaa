"""Published numbers, one data file per paper (``vadkit/papers/<paper>.yaml``), never typed into code or cells.

Schema of a paper file::

    paper: Ex-VAD                                   # display name
    citation: Huang et al., ICML 2025               # short citation
    source: shared/papers/ex-vad_huang2025_icml.md  # where the numbers were read
    tables:
      table1_ucf:                                   # a key chapters refer to
        caption: Fine-grained mAP@IoU on UCF-Crime (%)
        columns: ["0.1", "0.2", "0.3", "0.4", "0.5", "AVG"]
        unit: percent                               # percent | fraction | count | ms | M | G ...
        rows:                                       # row name -> one value per column (null = not reported)
          Random Baseline: [0.21, 0.14, 0.04, 0.02, 0.01, 0.08]
        notes: optional text (inconsistencies in the paper, where a row was quoted from)
        quoted_from: optional (another paper the row was reprinted from, e.g. "Ex-VAD Table 3")

:func:`table` returns a table as a pandas DataFrame (rows indexed by name), :func:`value` one number.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from vadkit.errors import ConfigError

_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem for p in _DIR.glob("*.yaml"))


@functools.lru_cache(maxsize=None)
def load(paper: str) -> dict[str, Any]:
    """The parsed data file of ``paper`` (file stem, e.g. ``"ex_vad"``), schema-checked."""
    path = _DIR / f"{paper}.yaml"
    if not path.is_file():
        raise ConfigError(f"no published-numbers file {path.name} in {_DIR}; available: {available()}")
    with open(path) as fh:
        doc = yaml.safe_load(fh)
    for key in ("paper", "citation", "tables"):
        if key not in doc:
            raise ConfigError(f"{path}: missing top-level key {key!r}")
    for name, t in doc["tables"].items():
        cols = t.get("columns")
        if not isinstance(cols, list) or not isinstance(t.get("rows"), dict):
            raise ConfigError(f"{path}: table {name!r} needs a 'columns' list and a 'rows' mapping")
        for row, vals in t["rows"].items():
            if not isinstance(vals, list) or len(vals) != len(cols):
                raise ConfigError(f"{path}: table {name!r}, row {row!r}: {vals!r} does not have one value per "
                                  f"column {cols}")
    return doc


def table(paper: str, name: str):
    """Table ``name`` of ``paper`` as a DataFrame (index: row names; columns as published)."""
    import pandas as pd

    doc = load(paper)
    if name not in doc["tables"]:
        raise ConfigError(f"{paper}.yaml has no table {name!r}; tables: {sorted(doc['tables'])}")
    t = doc["tables"][name]
    return pd.DataFrame.from_dict(t["rows"], orient="index", columns=[str(c) for c in t["columns"]])


def value(paper: str, name: str, row: str, column: str) -> float | None:
    """One published number (``None`` where the paper reports none)."""
    t = load(paper)["tables"][name]
    cols = [str(c) for c in t["columns"]]
    if row not in t["rows"] or str(column) not in cols:
        raise ConfigError(f"{paper}.yaml table {name!r} has no cell ({row!r}, {column!r})")
    return t["rows"][row][cols.index(str(column))]


def citation(paper: str) -> str:
    return load(paper)["citation"]
