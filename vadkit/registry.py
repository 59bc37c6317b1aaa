"""The results registry: every chapter run writes one machine-readable JSON record.

Layout: ``$VADKIT_RESULTS/<chapter>/<profile>.json`` (the latest run of that chapter and profile) and
``$VADKIT_RESULTS/<chapter>/history/<profile>-<timestamp>.json`` (every run). A record holds:

* ``metrics``: flat ``{name: float}``; ``tables``: ``{name: {"columns": [...], "rows": [[...]]}}``;
* ``config`` and ``seeds``; ``data``/``models`` provenance strings (which data and models produced
  the numbers, shown beside every table in the book);
* ``versions`` of the key packages, ``wall_time_s``, ``started``/``finished`` timestamps, host info.

The book's tables are built from these records (:func:`load`, :func:`table_frame`), never typed.

Usage in a chapter::

    run = registry.Run("11_vadclip", cfg)
    run.log_metric("auc", 0.87)
    run.log_table("table3", df)
    run.finish()
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

from vadkit import paths
from vadkit.io_utils import atomic_write_json

TRACKED_PACKAGES = (
    "vadkit", "torch", "torchvision", "transformers", "open_clip_torch", "peft", "numpy",
    "scikit-learn", "decord", "av", "opencv-python-headless", "papermill", "sentence-transformers",
)


def package_versions(names=TRACKED_PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _clean(value: Any) -> Any:
    """Make numpy / pandas values JSON-safe; NaN becomes None so JSON stays valid."""
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, np.ndarray):
            value = value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


class Run:
    """One chapter run. Metrics and tables are flushed to disk at every log call, so a crash keeps them."""

    def __init__(self, chapter: str, config: Any = None, *, profile: str | None = None,
                 data: str | None = None, models: str | None = None, root: Path | None = None):
        cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config or {})
        self.chapter = chapter
        self.profile = profile or cfg.get("profile", "smoke")
        self.root = Path(root) if root else paths.results_dir()
        self._t0 = time.perf_counter()
        self.record: dict[str, Any] = {
            "chapter": chapter,
            "profile": self.profile,
            "status": "running",
            "config": _clean(cfg),
            "seeds": _clean(cfg.get("seeds", [cfg["seed"]] if "seed" in cfg else [])),
            "data": data,
            "models": models,
            "metrics": {},
            "tables": {},
            "notes": {},
            "versions": package_versions(),
            "host": {"python": platform.python_version(), "machine": platform.machine(),
                     "cpus": os.cpu_count()},
            "started": _now(),
            "finished": None,
            "wall_time_s": None,
        }
        self._flush()

    @property
    def path(self) -> Path:
        return self.root / self.chapter / f"{self.profile}.json"

    def _flush(self) -> None:
        atomic_write_json(self.path, self.record)

    def set(self, key: str, value: Any) -> None:
        """Record provenance such as ``data`` or ``models``."""
        self.record[key] = _clean(value)
        self._flush()

    def log_metric(self, name: str, value: float) -> None:
        self.record["metrics"][name] = _clean(float(value) if value is not None else None)
        self._flush()

    def log_metrics(self, metrics: dict[str, float], prefix: str = "") -> None:
        for k, v in metrics.items():
            self.record["metrics"][prefix + k] = _clean(None if v is None else float(v))
        self._flush()

    def log_table(self, name: str, table: Any, caption: str | None = None) -> None:
        """Store a table (pandas DataFrame, or ``{"columns": [...], "rows": [[...]]}``)."""
        if hasattr(table, "to_dict") and hasattr(table, "columns"):
            df = table.reset_index() if getattr(table.index, "name", None) else table
            table = {"columns": [str(c) for c in df.columns], "rows": df.values.tolist()}
        entry = {"columns": list(table["columns"]), "rows": _clean(table["rows"])}
        if caption:
            entry["caption"] = caption
        self.record["tables"][name] = entry
        self._flush()

    def note(self, key: str, text: str) -> None:
        self.record["notes"][key] = text
        self._flush()

    def finish(self, status: str = "ok") -> "FinishedRun":
        """Close the run; returns the record (a dict) whose display in a notebook is one sentence."""
        self.record["status"] = status
        self.record["finished"] = _now()
        self.record["wall_time_s"] = round(time.perf_counter() - self._t0, 3)
        self._flush()
        stamp = self.record["finished"].replace(":", "").replace("+", "_")
        atomic_write_json(self.root / self.chapter / "history" / f"{self.profile}-{stamp}.json", self.record)
        return FinishedRun(self.record, self.path)


class FinishedRun(dict):
    """A finished run's record; shown in a notebook as one sentence instead of the whole record."""

    def __init__(self, record: dict, path: Path):
        super().__init__(record)
        self.path = path

    def sentence(self) -> str:
        n_m, n_t = len(self.get("metrics", {})), len(self.get("tables", {}))
        return (f"{self['chapter']} ({self['profile']}) finished in {self['wall_time_s']:.0f} s: {n_m} metrics and "
                f"{n_t} tables written to the results registry ({self.path.name} under "
                f"{self.path.parent.parent}).")

    def __repr__(self) -> str:
        return self.sentence()

    def _repr_markdown_(self) -> str:
        return f"*{self.sentence()}*"


def load(chapter: str, profile: str = "smoke", root: Path | None = None) -> dict[str, Any] | None:
    """The latest record of a chapter/profile, or ``None`` if the chapter has not run."""
    import json

    path = (Path(root) if root else paths.results_dir()) / chapter / f"{profile}.json"
    if not path.is_file():
        return None
    with open(path) as fh:
        return json.load(fh)


def load_all(profile: str = "smoke", root: Path | None = None) -> dict[str, dict[str, Any]]:
    base = Path(root) if root else paths.results_dir()
    out = {}
    if base.is_dir():
        for sub in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("_")):
            rec = load(sub.name, profile, base)
            if rec is not None:
                out[sub.name] = rec
    return out


def table_frame(record: dict[str, Any], name: str):
    """A registry table as a pandas DataFrame."""
    import pandas as pd

    tab = record["tables"][name]
    return pd.DataFrame(tab["rows"], columns=tab["columns"])
