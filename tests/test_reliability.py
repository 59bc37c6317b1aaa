"""Reliability defects found by trying vadkit as a new user would (issue 10): each test failed before its fix.

Defects of other modules have their tests beside that module's (``test_features.py``, ``test_models.py``,
``test_metrics_*.py``, ``test_pipeline.py``); this file holds the cross-cutting ones: file modes, CLI
validation and exit codes, dataset verification, corrupt weight files, offline fetching.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from vadkit.errors import ModelNotFoundError, VadkitError


# ------------------------------------------------------------------------------------ file modes (umask)
@pytest.fixture
def umask():
    old = os.umask(0o022)
    try:
        yield lambda m: os.umask(m)
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_atomic_writes_honour_the_umask(tmp_path, umask):
    from vadkit.io_utils import atomic_save_npy, atomic_write_json, atomic_write_text, make_temp_dir

    umask(0o022)
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_save_npy(tmp_path / "a.npy", np.zeros(3))
    assert _mode(tmp_path / "a.json") == 0o644 and _mode(tmp_path / "a.npy") == 0o644
    umask(0o002)
    atomic_write_text(tmp_path / "b.txt", "hi")
    assert _mode(tmp_path / "b.txt") == 0o664
    assert _mode(make_temp_dir(".d.", tmp_path)) == 0o775
    # replacing a file keeps its mode, as open(path, "w") does
    os.chmod(tmp_path / "a.json", 0o600)
    atomic_write_json(tmp_path / "a.json", {"x": 2})
    assert _mode(tmp_path / "a.json") == 0o600
