"""Shared test set-up: offline, isolated caches, and where the real annotation files are.

Network guard: ``VADKIT_NO_NETWORK=1`` makes :func:`vadkit.pipeline.notebooks.run_notebook` start every kernel
under :mod:`vadkit.pipeline.netguard` (non-loopback sockets, DNS lookups and apt/pip/curl subprocesses refused
before a packet is sent), whatever the profile: the book build in ``tests/test_book.py`` and every test that
executes a notebook run offline, and a chapter that tries the network fails naming what it tried.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["VADKIT_NO_NETWORK"] = "1"   # not setdefault: the suite's guard is not optional

REPO = Path(__file__).resolve().parents[1]
SHARED_ANNOTATIONS = REPO.parent / "shared" / "annotations"


@pytest.fixture
def shared_annotations() -> Path:
    if not SHARED_ANNOTATIONS.is_dir():
        pytest.skip(f"real annotation files not found at {SHARED_ANNOTATIONS}")
    return SHARED_ANNOTATIONS


@pytest.fixture
def vadkit_home(tmp_path, monkeypatch) -> Path:
    """A private VADKIT_HOME so a test never touches the user's caches."""
    home = tmp_path / "vadkit-home"
    monkeypatch.setenv("VADKIT_HOME", str(home))
    for var in ("VADKIT_DATA", "VADKIT_CACHE", "VADKIT_RESULTS"):
        monkeypatch.delenv(var, raising=False)
    return home


_REHEARSAL_TIMES: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Keep the duration of every full-profile rehearsal test (benchmarks/book_times.py prints the ledger)."""
    if report.when == "call" and "rehearsal" in report.keywords and report.passed:
        _REHEARSAL_TIMES[report.nodeid] = round(report.duration, 2)


def pytest_sessionfinish(session, exitstatus):
    if not _REHEARSAL_TIMES:
        return
    import json

    from vadkit import paths
    from vadkit.io_utils import atomic_write_json

    f = paths.results_dir() / "_rehearsals.json"
    try:
        old = json.loads(f.read_text()) if f.is_file() else {}
    except (OSError, ValueError):
        old = {}
    atomic_write_json(f, {**old, **_REHEARSAL_TIMES})
