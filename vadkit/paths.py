"""Where vadkit keeps data, caches and results.

All locations derive from ``VADKIT_HOME`` (default ``~/.cache/vadkit``) and can be overridden one by
one, as uvadlc notebooks do for dataset and checkpoint paths:

=====================  ==============================  ===========================================
variable               default                         holds
=====================  ==============================  ===========================================
``VADKIT_HOME``        ``~/.cache/vadkit``             everything below
``VADKIT_DATA``        ``$VADKIT_HOME/data``           SynthVAD splits, fetched real footage
``VADKIT_CACHE``       ``$VADKIT_HOME/cache``          features, tiny-zoo checkpoints, LLM outputs
``VADKIT_RESULTS``     ``$VADKIT_HOME/results``        the results registry (one JSON per run)
=====================  ==============================  ===========================================
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("VADKIT_HOME", Path.home() / ".cache" / "vadkit")).expanduser()


def data_dir() -> Path:
    return Path(os.environ.get("VADKIT_DATA", home() / "data")).expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get("VADKIT_CACHE", home() / "cache")).expanduser()


def results_dir() -> Path:
    return Path(os.environ.get("VADKIT_RESULTS", home() / "results")).expanduser()


def repo_root() -> Path | None:
    """The source checkout this package runs from, if it is one (has ``data_manifests/``)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "data_manifests").is_dir() else None
