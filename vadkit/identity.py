"""One identity design for every cache in vadkit.

Every cached thing (feature stores, trained weights, model-call outputs, SynthVAD roots, zoo entries) is keyed
by *what* produced it, never by *where* it lies, and every entry carries a digest of its own content that is
checked when it is read back.

=============  =====================================================  ==============================================
what           identity                                               computed by
=============  =====================================================  ==============================================
dataset        its manifest (name, split, the generation request of   :func:`dataset_identity`
               SynthVAD) plus a content digest of its annotations
               and of its video files (name + size); never its path,
               which moves
model          its weights digest (sha256 over the weight files of a  :func:`weights_digest`;
               directory); a hub id without local files is keyed by   ``vadkit.models.model_identity(name)``
               the id itself (pin it by downloading to a directory)
producer       the code version of what made the entry: one version   :data:`PRODUCERS`, :func:`producer`
               constant per producer, bumped when outputs change
entry          sha256 of the entry's payload, stored with the entry   :func:`write_json_entry` /
               and verified on read; a damaged entry is recomputed     :func:`read_json_entry`,
               (caches) or named in the error (inputs)                :func:`file_digest`, :func:`verify_file`
=============  =====================================================  ==============================================

A cache key is :func:`cache_key` of a mapping built only from these (plus the settings that change the
output), e.g. ``cache_key(producer("features"), dataset=..., model=..., settings={...})``. Keys are short
sha256 prefixes of the canonical JSON (sorted keys), so the same inputs give the same key on every machine.

Weights digests of large directories are expensive (a 7B model is ~15 GB), so :func:`weights_digest` memoises
each file's sha256 in ``cache_dir()/identity/digests.json`` keyed by (resolved path, size, mtime): the first
call reads the files once, later calls cost a ``stat``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping

from vadkit.errors import CacheMismatchError
from vadkit.io_utils import _json_default, atomic_write_json, content_hash, sha256_file

#: Code versions of every producer of cached outputs. Bump one when what it writes changes meaning.
PRODUCERS: dict[str, int] = {
    "features": 2,          # CLIP snippet feature stores (2: per-entry digests, dataset identity in the key)
    "trained-weights": 1,   # the experiment runner's train-or-load cache
    "model-calls": 1,       # LLM generations, VLM chats, frame captions
    "zoo-frozen-maps": 1,   # the zoo's shared frozen EfficientNet-Lite0 maps of its corpus (zoo.corpus_maps)
}

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt", ".npz")

_lock = threading.Lock()


def producer(name: str) -> dict[str, Any]:
    """``{"producer": name, "version": PRODUCERS[name]}``: the producer part of a cache key."""
    if name not in PRODUCERS:
        raise KeyError(f"unknown producer {name!r}; known: {sorted(PRODUCERS)}")
    return {"producer": name, "version": PRODUCERS[name]}


def cache_key(*parts: Mapping[str, Any], length: int = 16, **named: Any) -> str:
    """Short stable hash of the merged ``parts`` and ``named`` fields (canonical JSON, sorted keys)."""
    merged: dict[str, Any] = {}
    for p in parts:
        merged.update(p)
    merged.update(named)
    return content_hash(merged, length)


def bytes_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a whole file."""
    return sha256_file(path)


def verify_file(path: str | os.PathLike, expected: str | None, what: str = "cache entry") -> bool:
    """True when ``path`` exists and its sha256 equals ``expected`` (``None`` expected = no digest: False)."""
    p = Path(path)
    return bool(expected) and p.is_file() and file_digest(p) == expected


def _digest_memo_path() -> Path:
    from vadkit import paths

    return paths.cache_dir() / "identity" / "digests.json"


def _memo_load() -> dict:
    f = _digest_memo_path()
    try:
        return json.loads(f.read_text()) if f.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}


def memo_file_digest(path: str | os.PathLike) -> str:
    """sha256 of ``path``, memoised by (resolved path, size, mtime_ns) across processes."""
    p = Path(path).resolve()
    st = p.stat()
    k = f"{p}|{st.st_size}|{st.st_mtime_ns}"
    with _lock:
        memo = _memo_load()
        if k in memo:
            return memo[k]
    d = file_digest(p)
    with _lock:
        memo = _memo_load()
        memo[k] = d
        try:
            atomic_write_json(_digest_memo_path(), memo)
        except OSError:
            pass  # a read-only cache still works, just slower
    return d


def weights_digest(directory: str | os.PathLike, suffixes: Iterable[str] = WEIGHT_SUFFIXES) -> str:
    """Digest of a model directory (or one weights file): sha256 over (relative name, sha256) of its weight files.

    Config files count too (a changed config changes the model), weight files by their full content digest.
    """
    d = Path(directory)
    if d.is_file():
        return memo_file_digest(d)[:16]
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: no such model directory")
    suffixes = tuple(suffixes)
    rows = []
    for f in sorted(x for x in d.rglob("*") if x.is_file()):
        rel = str(f.relative_to(d))
        if f.suffix in suffixes:
            rows.append((rel, memo_file_digest(f)))
        elif f.suffix == ".json" and f.name not in ("zoo.json",):
            rows.append((rel, file_digest(f)))   # configs: small, always read
    if not rows:
        raise FileNotFoundError(f"{d}: no weight or config files to identify the model by")
    return content_hash(rows, 16)


#: Fields of a SynthVAD manifest (``synthvad.json``) that record how a generation went, not what it made.
VOLATILE_MANIFEST_FIELDS = ("generation_seconds",)


def synth_manifest_digest(root: str | os.PathLike) -> str:
    """Digest of a SynthVAD root's manifest without its volatile fields (:data:`VOLATILE_MANIFEST_FIELDS`): two
    generations of the same request get the same identity, whichever machine made them and however long it took."""
    import json

    meta = json.loads((Path(root) / "synthvad.json").read_text())
    return content_hash({k: v for k, v in meta.items() if k not in VOLATILE_MANIFEST_FIELDS}, 16)


def dataset_identity(annotations, *, name: str | None = None) -> dict[str, Any]:
    """Identity of a loaded dataset split (a :class:`~vadkit.data.annotations.DatasetAnnotations` or mapping).

    ``{"dataset": name, "manifest": <SynthVAD request digest or None>, "digest": <annotations + videos>}``.
    The digest covers each video's id, labels, segments, frame count and its file's name and size; it does not
    cover the root path, so a moved dataset keeps its identity and two SynthVAD seeds never collide.
    """
    ds_name = name or getattr(annotations, "name", None) or "dataset"
    rows = []
    manifest = None
    root = getattr(annotations, "root", None)
    if root is not None and (Path(root) / "synthvad.json").is_file():
        manifest = synth_manifest_digest(root)
    for vid in sorted(annotations):
        a = annotations[vid]
        path = getattr(a, "video_path", None)
        size = None
        if path is not None and Path(path).exists():
            size = Path(path).stat().st_size if Path(path).is_file() else "dir"
        segs = [(s.start, s.end, s.label) for s in getattr(a, "segments", ()) or ()]
        rows.append((str(vid), list(getattr(a, "classes", ()) or ()), segs, getattr(a, "num_frames", None),
                     None if path is None else Path(path).name, size))
    return {"dataset": ds_name, "manifest": manifest, "digest": content_hash(rows, 16), "videos": len(rows)}


# ---------------------------------------------------------------- JSON entries with digests ---------------------

def _payload_digest(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "digest"}
    return content_hash(body, 32)


def write_json_entry(path: str | os.PathLike, record: Mapping[str, Any]) -> None:
    """Atomically write ``record`` plus ``"digest"`` (sha256 of the rest, canonical JSON)."""
    rec = dict(record)
    rec = json.loads(json.dumps(rec, default=_json_default))   # digest what the file will hold
    rec["digest"] = _payload_digest(rec)
    atomic_write_json(path, rec)


def read_json_entry(path: str | os.PathLike, *, strict: bool = False) -> dict[str, Any] | None:
    """A JSON entry written by :func:`write_json_entry`, or ``None`` when missing, unreadable or damaged.

    With ``strict`` a damaged entry raises :class:`~vadkit.errors.CacheMismatchError` naming the file instead.
    """
    p = Path(path)
    if not p.is_file():
        return None
    try:
        rec = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        if strict:
            raise CacheMismatchError(f"{p}: unreadable cache entry ({err})") from err
        return None
    if not isinstance(rec, dict) or rec.get("digest") != _payload_digest(rec):
        if strict:
            raise CacheMismatchError(f"{p}: cache entry fails its content digest (damaged or edited)")
        return None
    return rec
