"""Dataset manifests: one YAML per dataset in ``data_manifests/``, validated by ``schema.json``.

A manifest says where a dataset comes from (archives, URLs as published), its terms and citation,
the expected on-disk tree (glob patterns with min/max counts and the archive that provides them),
splits, annotation format (the parser functions in :mod:`vadkit.data.parsers`), fps, sizes,
checksums and known quirks. Facts not read in an official source are listed under ``unverified``.

Manifests are found in ``$VADKIT_MANIFESTS`` if set, else in ``data_manifests/`` of the source
checkout (:func:`vadkit.paths.repo_root`).
"""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vadkit import paths
from vadkit.errors import DatasetError


def manifests_dir() -> Path:
    """Folder holding the ``<name>.yaml`` manifests and ``schema.json``."""
    env = os.environ.get("VADKIT_MANIFESTS")
    if env:
        d = Path(env).expanduser()
        if not d.is_dir():
            raise DatasetError(f"{d}: VADKIT_MANIFESTS points at a folder that does not exist")
        return d
    root = paths.repo_root()
    if root is None:
        raise DatasetError(
            "data_manifests/ not found: vadkit is not running from a source checkout; "
            "set VADKIT_MANIFESTS to the data_manifests folder of a vadkit checkout"
        )
    return root / "data_manifests"


@dataclass(frozen=True)
class TreeEntry:
    pattern: str
    description: str
    kind: str = "other"
    min: int = 0
    max: int | None = None
    archive: str | None = None
    required: bool = True


@dataclass
class Manifest:
    """A validated manifest. ``raw`` keeps the full YAML mapping."""

    name: str
    title: str
    kind: str
    raw: dict[str, Any] = field(repr=False)
    path: Path | None = None

    @property
    def tree(self) -> list[TreeEntry]:
        return [TreeEntry(**e) for e in self.raw["tree"]]

    @property
    def splits(self) -> dict[str, dict]:
        return self.raw["splits"]

    @property
    def annotation(self) -> dict[str, Any]:
        return self.raw["annotation"]

    @property
    def checksums(self) -> dict[str, str]:
        return dict(self.raw.get("checksums") or {})

    @property
    def archives(self) -> list[dict]:
        return list(self.raw["source"]["archives"])

    @property
    def fps(self) -> float | None:
        return self.raw.get("fps")

    def archive(self, name: str | None) -> dict | None:
        for a in self.archives:
            if a["name"] == name:
                return a
        return None

    def summary(self) -> str:
        """Human-readable summary (``vadkit data info``)."""
        r = self.raw
        nv = r["num_videos"]
        lines = [
            f"{r['title']}  [{r['name']}, {r['kind']}]",
            "",
            " ".join(r.get("description", "").split()),
            "",
            f"homepage:   {r['source'].get('homepage') or 'none'}",
            f"licence:    {r['terms']['licence']}{'' if r['terms']['verified'] else '  (not verified)'}",
            "videos:     " + ", ".join(f"{k} {v if v is not None else '?'}" for k, v in nv.items()),
            f"frames:     {r.get('num_frames') if r.get('num_frames') is not None else '?'}",
            f"fps:        {r.get('fps') if r.get('fps') is not None else '?'}",
            "splits:",
        ]
        for s, d in r["splits"].items():
            extra = "; ".join(f"{k}: {v}" for k, v in d.items() if k != "videos")
            lines.append(f"  {s:<12}{d.get('videos') if d.get('videos') is not None else '?':>6} videos  {extra}")
        ann = r["annotation"]
        lines += ["annotation: " + " ".join(ann["format"].split()),
                  f"parsers:    {', '.join(ann['parsers']) or 'none'}"
                  + (f" (loader {ann['loader']})" if ann.get("loader") else ""),
                  "expected tree (relative to the dataset root):"]
        for e in self.tree:
            mx = "inf" if e.max is None else e.max
            lines.append(f"  {e.pattern:<45} {e.min}..{mx}  {e.description}" + (f"  [{e.archive}]" if e.archive else ""))
        if r["source"].get("archives"):
            lines.append("archives:")
            for a in r["source"]["archives"]:
                lines.append(f"  {a['name']}: {a.get('url') or 'no direct link (see homepage)'}")
        if r["source"].get("instructions"):
            lines += ["how to get it: " + " ".join(r["source"]["instructions"].split())]
        for title, key in (("notes", "notes"), ("unverified", "unverified")):
            if r.get(key):
                lines.append(f"{title}:")
                lines += [f"  - {n}" for n in r[key]]
        lines += ["citation:", "  " + " ".join(r["citation"].split())]
        return "\n".join(lines)


@functools.lru_cache(maxsize=4)
def _schema(directory: str) -> dict:
    path = Path(directory) / "schema.json"
    if not path.is_file():
        raise DatasetError(f"{path}: manifest schema (schema.json) not found")
    return json.loads(path.read_text())


def list_manifests() -> list[str]:
    """Names of all manifests (YAML stems), sorted."""
    return sorted(p.stem for p in manifests_dir().glob("*.yaml"))


def _validate(raw: Any, path: Path, schema: bool = True) -> None:
    if schema:
        import jsonschema

        validator = jsonschema.Draft202012Validator(_schema(str(path.parent)))
        errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
        if errors:
            msgs = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:5])
            raise DatasetError(f"{path}: manifest does not match schema.json: {msgs}")
    elif not isinstance(raw, dict) or not {"name", "tree", "source", "annotation"} <= raw.keys():
        raise DatasetError(f"{path}: not a manifest (needs name, tree, source, annotation; run 'vadkit data list' to validate)")
    if raw["name"] != path.stem:
        raise DatasetError(f"{path}: manifest name {raw['name']!r} differs from the file name {path.stem!r}")
    archive_names = {a["name"] for a in raw["source"]["archives"]}
    for e in raw["tree"]:
        if e.get("archive") and e["archive"] not in archive_names:
            raise DatasetError(f"{path}: tree entry {e['pattern']!r} names unknown archive {e['archive']!r}")
        if e.get("max") is not None and e["max"] < e.get("min", 0):
            raise DatasetError(f"{path}: tree entry {e['pattern']!r} has max < min")
    from vadkit.data import parsers

    for fn in raw["annotation"]["parsers"]:
        if not callable(getattr(parsers, fn, None)):
            raise DatasetError(f"{path}: annotation parser {fn!r} does not exist in vadkit.data.parsers")


def load_manifest(name: str, schema: bool = True) -> Manifest:
    """Load and validate ``data_manifests/<name>.yaml``; unknown names list the known ones.

    ``schema=False`` skips the JSON-Schema pass (``import jsonschema`` alone takes seconds) but keeps
    the consistency checks; runtime callers that only read a few fields use it. Results are cached
    per file modification time.
    """
    d = manifests_dir()
    path = d / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(list_manifests())
        raise DatasetError(f"{path}: no manifest for dataset {name!r} (known: {known})")
    st = path.stat()
    m = _load_cached(str(path), st.st_mtime_ns, st.st_size, schema)
    return Manifest(m.name, m.title, m.kind, copy.deepcopy(m.raw), m.path)


@functools.lru_cache(maxsize=64)
def _load_cached(path_str: str, mtime_ns: int, size: int, schema: bool) -> Manifest:
    import yaml

    path = Path(path_str)
    try:
        raw = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise DatasetError(f"{path}: invalid YAML ({err})") from None
    _validate(raw, path, schema)
    return Manifest(raw["name"], raw["title"], raw.get("kind", "real"), raw, path)


def validate_all() -> dict[str, Manifest]:
    """Load every manifest; raises :class:`DatasetError` listing every invalid one."""
    out, problems = {}, []
    for name in list_manifests():
        try:
            out[name] = load_manifest(name)
        except DatasetError as err:
            problems.append(str(err))
    if problems:
        raise DatasetError("invalid manifests:\n  " + "\n  ".join(problems))
    return out
