"""Released feature formats, and how close self-extracted features are to them.

* ``format="vadclip"``: VadCLIP's CLIP ViT-B/16 features, one ``.npy`` per video *and crop*, named
  ``<video>__<crop>.npy`` (crop 0..9), each ``[T, 512]`` float32, ``T`` = number of 16-frame snippets. VadCLIP's
  training lists use all ten crops (16,100 rows on UCF-Crime); its test lists use crop ``__5`` on UCF-Crime and
  ``__0`` on XD-Violence (:data:`VADCLIP_TEST_CROP`; ``list/ucf_CLIP_rgbtest.csv``, ``list/xd_CLIP_rgbtest.csv``).
* ``format="rtfm"``: RTFM's I3D features, one ``.npy`` per video named ``<video>_i3d.npy`` (or
  ``<video>.npy``), ``[T, 10, 2048]`` (10 crops).

Self-extracted features never match released ones bit for bit (decoder, resize filter, JPEG frames vs
video decode, which frame of the snippet): :func:`compare_features` puts a number on it (cosine
statistics per snippet), the check the field most often asks for.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from vadkit.errors import DatasetError

#: The crop VadCLIP's official test lists read, per dataset.
VADCLIP_TEST_CROP = {"ucf_crime": 5, "xd_violence": 0}

_VADCLIP_RE = re.compile(r"^(?P<vid>.+)__(?P<crop>\d+)\.npy$")
_RTFM_RE = re.compile(r"^(?P<vid>.+?)(?:_i3d)?\.npy$")


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path)
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: unreadable feature file ({err})") from err


def read_released(path_or_dir, format: str = "vadclip", *, crop: int | None = None):
    """Read released features.

    A single file -> its array. A directory -> ``{video_id: array}``: for ``vadclip``, ``[T, 512]`` when
    ``crop`` is given, else all crops stacked ``[T, C, 512]``; for ``rtfm``, ``[T, 10, 2048]`` (or
    ``[T, 2048]`` of one ``crop``). Shapes are checked; a bad file raises :class:`DatasetError`.
    """
    if format not in ("vadclip", "rtfm"):
        raise ValueError(f"format must be 'vadclip' or 'rtfm', got {format!r}")
    p = Path(path_or_dir).expanduser()
    if not p.exists():
        raise DatasetError(f"{p}: no such file or directory")
    if p.is_file():
        arr = _load(p)
        _check(p, arr, format, single_crop=(format == "vadclip"))
        if format == "rtfm" and crop is not None:
            arr = arr[:, crop]
        return arr
    out: dict[str, np.ndarray] = {}
    if format == "vadclip":
        groups: dict[str, dict[int, Path]] = {}
        for f in sorted(p.rglob("*.npy")):
            m = _VADCLIP_RE.match(f.name)
            if m:
                groups.setdefault(m.group("vid"), {})[int(m.group("crop"))] = f
        for vid, crops in groups.items():
            if crop is not None:
                if crop not in crops:
                    continue
                arr = _load(crops[crop])
                _check(crops[crop], arr, format, single_crop=True)
                out[vid] = arr
            else:
                arrs = [_load(crops[c]) for c in sorted(crops)]
                for c, a in zip(sorted(crops), arrs):
                    _check(crops[c], a, format, single_crop=True)
                T = min(len(a) for a in arrs)
                out[vid] = np.stack([a[:T] for a in arrs], axis=1)
    else:
        for f in sorted(p.rglob("*.npy")):
            arr = _load(f)
            _check(f, arr, format, single_crop=False)
            vid = _RTFM_RE.match(f.name).group("vid")
            out[vid] = arr[:, crop] if crop is not None else arr
    if not out:
        raise DatasetError(f"{p}: no {format} feature files found")
    return out


def _check(path: Path, arr: np.ndarray, format: str, single_crop: bool) -> None:
    if format == "vadclip" and arr.ndim != 2:
        raise DatasetError(f"{path}: VadCLIP features must be [T, D], got shape {arr.shape}")
    if format == "rtfm" and arr.ndim != 3:
        raise DatasetError(f"{path}: RTFM features must be [T, crops, D], got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise DatasetError(f"{path}: features contain NaN/inf")


def compare_features(a: np.ndarray, b: np.ndarray) -> dict:
    """Per-snippet cosine similarity between two ``[T, D]`` feature arrays of the same video.

    Lengths may differ by a few snippets (decoders disagree on frame counts): the first ``min(Ta, Tb)``
    rows are compared and both lengths reported. Returns ``{"cos_mean", "cos_median", "cos_min",
    "cos_p05", "cos_std", "len_a", "len_b", "n"}``; for ``[T, C, D]`` inputs crops are compared pairwise.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"feature shapes differ beyond length: {a.shape} vs {b.shape}")
    n = min(len(a), len(b))
    if n == 0:
        raise ValueError("cannot compare empty feature arrays")
    x, y = a[:n].reshape(-1, a.shape[-1]), b[:n].reshape(-1, b.shape[-1])
    cos = (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1) + 1e-12)
    return {"cos_mean": float(cos.mean()), "cos_median": float(np.median(cos)), "cos_min": float(cos.min()),
            "cos_p05": float(np.percentile(cos, 5)), "cos_std": float(cos.std()),
            "len_a": int(len(a)), "len_b": int(len(b)), "n": int(n)}


def compare_stores(a, b, video_ids=None):
    """Per-video :func:`compare_features` of two feature sources -> ``pandas.DataFrame``.

    ``a``/``b``: a :class:`~vadkit.features.extract.FeatureStore` or ``{video_id: array}``.
    """
    import pandas as pd

    def get(src, vid):
        return src.load(vid) if hasattr(src, "load") else src[vid]

    ids_a = set(a.video_ids if hasattr(a, "video_ids") else a)
    ids_b = set(b.video_ids if hasattr(b, "video_ids") else b)
    ids = sorted(video_ids or (ids_a & ids_b))
    rows = [{"video_id": v, **compare_features(get(a, v), get(b, v))} for v in ids]
    return pd.DataFrame(rows)
