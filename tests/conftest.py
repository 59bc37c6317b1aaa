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


@pytest.fixture(scope="module")
def rehearsal_home(tmp_path_factory):
    """A private VADKIT_HOME for one test module (the rehearsals build data and models once per module), the
    caller's VADKIT_* variables restored afterwards."""
    home = tmp_path_factory.mktemp("vadkit-home")
    names = ("VADKIT_HOME", "VADKIT_DATA", "VADKIT_CACHE", "VADKIT_RESULTS")
    old = {k: os.environ.get(k) for k in names}
    os.environ["VADKIT_HOME"] = str(home)
    for k in names[1:]:
        os.environ.pop(k, None)
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


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


def small_heatmap_data(train: tuple[int, int], stride: int):
    """The heatmap protocol's data on a few smoke videos: ``train`` = (abnormal, normal) training videos, 2 + 1
    validation and 2 + 1 test videos, every ``stride``-th frame (shared by the heatmap chapters' tests)."""
    from vadkit.data.synth import load_synthvad, smoke_dataset
    from vadkit.experiment.data import Splits
    from vadkit.experiment.recipes.heatmaps import HeatmapData

    root = smoke_dataset()

    def pick(split, n_abn, n_norm):
        ds = load_synthvad(root, split)
        abn = [v for v, a in ds.items() if a.is_anomalous][:n_abn]
        nor = [v for v, a in ds.items() if not a.is_anomalous][:n_norm]
        return ds.filter(lambda a: a.video_id in abn + nor)

    splits = Splits(pick("train", *train), pick("val", 2, 1), pick("test", 2, 1), root, "synthvad", "val", "frame")
    return HeatmapData(splits, stride, (120, 160), cache_frames=False)
