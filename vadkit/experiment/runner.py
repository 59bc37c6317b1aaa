"""The one runner: multi-seed runs, train-or-load, selection on validation, predictions kept.

A method plugs in through the :class:`Method` protocol:

* ``name`` and ``candidates`` (the score streams among which validation picks the inference variant);
* ``key_fields()`` - everything that identifies its trained weights (settings, data identity, code version):
  the weights cache is keyed by exactly these declared fields, nothing else;
* ``build(seed)`` - a fresh model (``None`` for training-free methods);
* ``fit(model, seed) -> {"best_epoch", "best_val", "history"}`` - training with epoch selection on validation
  (a no-op returning ``{}`` for training-free methods);
* ``predict(model, split) -> (predictions, failures)`` - :class:`~.types.VideoPrediction` per video;
* ``validation_value(predictions, stream) -> float`` - the validation criterion (frame AUC, or a video-level AUC
  where training videos have video labels only);
* ``evaluate(predictions) -> dict`` - test metrics (see :mod:`vadkit.experiment.evaluation`).

:func:`run_seeds` runs one method for each seed. Per seed: ``torch.manual_seed(seed)``, build, load the cached weights
for the key or fit and cache them (safetensors + a JSON record with the content digest of the weights file; no pickle),
predict the validation split and choose the candidate stream with the best validation value, predict and evaluate the
test split, and store the test predictions (:func:`save_predictions`) so chapter 01's conventions can re-score any
method without rerunning it. A seed that raises is recorded in its :class:`~.types.SeedRun` (``error``) and the other
seeds go on.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

import numpy as np

from vadkit.errors import VadkitError
from vadkit.experiment.types import ErrorInfo, SeedRun, VideoPrediction

log = logging.getLogger(__name__)


class Method(Protocol):
    name: str
    candidates: tuple[str, ...]

    def key_fields(self) -> dict: ...

    def build(self, seed: int) -> Any: ...

    def fit(self, model: Any, seed: int) -> dict: ...

    def predict(self, model: Any, split: str) -> tuple[dict[str, VideoPrediction], dict[str, str]]: ...

    def validation_value(self, preds: dict[str, VideoPrediction], stream: str) -> float: ...

    def evaluate(self, preds: dict[str, VideoPrediction], selected: str) -> dict[str, float]: ...


# ---------------------------------------------------------------- trained-weights cache ------------------------

def weights_cache_dir(name: str) -> Path:
    from vadkit import paths

    return paths.cache_dir() / "trained" / name


def weights_key(method_name: str, seed: int, fields: dict) -> str:
    from vadkit.identity import cache_key, producer

    return cache_key(producer("trained-weights"), method=method_name, seed=seed, fields=fields)


def save_weights(path_stem: Path, model, info: dict) -> None:
    """``<stem>.safetensors`` (the state dict) and ``<stem>.json`` (info + the weights file's sha256), atomically."""
    from safetensors.torch import save

    from vadkit.identity import bytes_digest, write_json_entry
    from vadkit.io_utils import atomic_write

    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    blob = save(state)
    with atomic_write(path_stem.with_suffix(".safetensors"), "wb") as fh:
        fh.write(blob)
    write_json_entry(path_stem.with_suffix(".json"), {**info, "weights_sha256": bytes_digest(blob)})


def load_weights(path_stem: Path, model) -> dict | None:
    """Load cached weights into ``model``; ``None`` when missing or damaged (the caller retrains)."""
    from safetensors.torch import load

    from vadkit.identity import bytes_digest, read_json_entry

    wf, jf = path_stem.with_suffix(".safetensors"), path_stem.with_suffix(".json")
    info = read_json_entry(jf)
    if info is None or not wf.is_file():
        return None
    blob = wf.read_bytes()
    if bytes_digest(blob) != info.get("weights_sha256"):
        log.warning("%s: cached weights fail their digest; retraining", wf)
        return None
    model.load_state_dict(load(blob))
    return info


# ---------------------------------------------------------------- predictions on disk --------------------------

def save_predictions(path: Path, preds: dict[str, VideoPrediction]) -> None:
    """Arrays to ``<path>.npz`` (no pickle), text and metadata to ``<path>.json``; both atomic."""
    from vadkit.io_utils import atomic_write, atomic_write_json

    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for vid, p in preds.items():
        for name, s in p.scores.items():
            arrays[f"{vid}|scores|{name}"] = np.asarray(s, dtype=np.float32)
        for name in ("class_probs", "heatmaps", "heatmap_frames", "regions"):
            val = getattr(p, name)
            if val is not None:
                arrays[f"{vid}|{name}"] = np.asarray(val)
        extra = {k: v for k, v in p.extra.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))}
        meta[vid] = {"snippet_len": p.snippet_len, "classes": list(p.classes) if p.classes else None,
                     "explanation": p.explanation, "answers": p.answers, "extra": extra}
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    with atomic_write(Path(str(path) + ".npz"), "wb") as fh:
        fh.write(buf.getvalue())
    atomic_write_json(Path(str(path) + ".json"), meta)


def load_predictions(path: Path) -> dict[str, VideoPrediction]:
    """The inverse of :func:`save_predictions`."""
    meta = json.loads(Path(str(path) + ".json").read_text())
    out = {vid: VideoPrediction(vid, snippet_len=m["snippet_len"], classes=tuple(m["classes"]) if m["classes"] else None,
                                explanation=m["explanation"], answers=m["answers"], extra=m["extra"])
           for vid, m in meta.items()}
    with np.load(Path(str(path) + ".npz"), allow_pickle=False) as z:
        for key in z.files:
            parts = key.split("|")
            vid = parts[0]
            if parts[1] == "scores":
                out[vid].scores[parts[2]] = z[key]
            else:
                setattr(out[vid], parts[1], z[key])
    return out


def predictions_dir(chapter: str, profile: str) -> Path:
    from vadkit import paths

    return paths.results_dir() / chapter / "predictions" / profile


# ---------------------------------------------------------------- the runner -----------------------------------

def best_stream(val: dict[str, float]) -> str:
    """The candidate with the highest finite validation value (ties: the first)."""
    return max(val, key=lambda k: -np.inf if not np.isfinite(val[k]) else val[k])


def trained_model(method: Method, seed: int, *, cache_name: str, retrain: bool = False) -> tuple[Any, dict, bool]:
    """``(model, info, cached)``: ``method.build(seed)`` with its cached weights for the declared key, or fitted and
    cached now (``model`` is ``None`` for training-free methods). A method whose model starts from another's (a
    second training phase) calls this for the first one in its ``build``."""
    import torch

    torch.manual_seed(seed)
    model = method.build(seed)
    info: dict | None = None
    if model is None:
        return None, method.fit(None, seed) or {}, False
    stem = weights_cache_dir(cache_name) / weights_key(method.name, seed, method.key_fields())
    if not retrain:
        info = load_weights(stem, model)
    cached = info is not None
    if info is None:
        info = method.fit(model, seed) or {}
        save_weights(stem, model, {"method": method.name, "seed": seed, "fields": method.key_fields(), **info})
    return model, info, cached


def run_seed(method: Method, seed: int, *, cache_name: str, retrain: bool = False, threads: int = 0,
             store: Path | None = None) -> SeedRun:
    """One seed of ``method`` (module docstring). Raises on failure; :func:`run_seeds` records it."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    run = SeedRun(method.name, seed)
    model, info, run.cached = trained_model(method, seed, cache_name=cache_name, retrain=retrain)
    run.best_epoch = int(info.get("best_epoch", -1))
    run.best_val = float(info.get("best_val", float("nan")))
    run.history = list(info.get("history", []))
    run.model = model
    val_preds, _ = method.predict(model, "val")
    run.val_predictions = val_preds
    run.val = {k: float(method.validation_value(val_preds, k)) for k in method.candidates}
    run.selected = best_stream(run.val)
    preds, fails = method.predict(model, "test")
    run.failures = dict(fails)
    run.predictions = preds
    run.test = method.evaluate(preds, run.selected)
    if store is not None:
        save_predictions(Path(store) / method.name.replace("/", "_").replace(" ", "_") / f"seed{seed}", preds)
    return run


#: what a failing seed raises; :func:`run_seeds` records these and goes on
SEED_ERRORS = (VadkitError, ValueError, RuntimeError, KeyError, OSError)


def run_seeds(method: Method | Callable[[int], Method], seeds: Iterable[int], *, cache_name: str,
              retrain: bool = False, threads: int = 0, store: Path | None = None,
              progress: bool = True) -> list[SeedRun]:
    """:func:`run_seed` for every seed; a seed that fails is recorded with its exception and the rest go on."""
    from tqdm.auto import tqdm

    out = []
    seeds = list(seeds)
    for s in tqdm(seeds, desc=getattr(method, "name", "seeds"), leave=False, disable=not progress):
        m = method(s) if callable(method) and not hasattr(method, "predict") else method
        try:
            out.append(run_seed(m, s, cache_name=cache_name, retrain=retrain, threads=threads, store=store))
        except SEED_ERRORS as err:
            out.append(SeedRun(getattr(m, "name", "method"), s, error=ErrorInfo.of(err)))
    return out


def check_runs(runs: Sequence[SeedRun], what: str = "runs") -> list[SeedRun]:
    """The successful runs; raises with every seed's error when none succeeded."""
    ok = [r for r in runs if r.ok]
    if not ok:
        raise VadkitError(f"every seed of {what} failed: " + "; ".join(f"seed {r.seed}: {r.error}" for r in runs))
    return ok
