"""Shared test set-up: offline, isolated caches, and where the real annotation files are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

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
