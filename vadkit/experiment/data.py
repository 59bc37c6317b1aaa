"""A chapter's data: where the dataset lies, its train / validation / test splits, its frozen features.

* :func:`resolve_data_root` - the one function every chapter uses to find its dataset (smoke: the cached SynthVAD
  sets; full: ``data_root``, the dataset as downloaded).
* :func:`load_splits` - the three splits. Weakly supervised datasets (UCF-Crime, XD-Violence, TAD) ship only train
  and test, and their training videos carry video-level labels only. Their validation split is then **carved from the
  training videos** (:func:`carve_validation`: stratified by class, seeded, its list written beside the results), or
  read from a list the user passes (``val_list``); and because those videos have no frame labels, the model is
  selected by a **video-level criterion** (video AUC of the top-k mean of snippet scores) instead of frame AUC.
  :attr:`Splits.val_criterion` says which one applies; the chapters print it.
* :func:`load_features` - frozen CLIP snippet features of every split, through the shared feature cache (two chapters
  asking for the same encoder and settings on the same split share one store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.errors import ConfigError, DatasetError

#: SynthVAD roots a chapter can name with ``synth_set`` (``data_root=None``): the shared smoke splits, chapter 10's
#: long videos, the shared benchmark (one split ``bench``)
SYNTH_SETS = ("smoke", "long", "bench")


@dataclass
class DataSettings:
    """What data a run uses. ``val_split=None`` or a split the dataset lacks: carve ``val_fraction`` of train."""

    dataset: str = "synthvad"
    data_root: str | None = None
    train_split: str = "train"
    val_split: str | None = "val"
    test_split: str = "test"
    val_fraction: float = 0.2
    val_seed: int = 0
    val_list: str | None = None
    synth_set: str = "smoke"


@dataclass
class Splits:
    """The three splits of a run and how the validation split was made."""

    train: Any
    val: Any
    test: Any
    root: Path
    dataset: str
    val_source: str
    val_criterion: str                      # "frame" (frame AUC) or "video" (video-level AUC)
    files: dict[str, str] = field(default_factory=dict)

    def split(self, name: str):
        try:
            return {"train": self.train, "val": self.val, "test": self.test}[name]
        except KeyError:
            raise ConfigError(f"unknown split {name!r}: train, val or test") from None

    def describe(self) -> str:
        n = {s: len(self.split(s)) for s in ("train", "val", "test")}
        crit = ("frame-level AUC" if self.val_criterion == "frame"
                else "video-level AUC of top-k snippet scores (training videos have video labels only)")
        return (f"{n['train']} train / {n['val']} val / {n['test']} test videos; validation: {self.val_source}; "
                f"model selection by {crit}")


def resolve_data_root(dataset: str, data_root: str | None, synth_set: str = "smoke") -> Path:
    """The dataset's root directory. ``data_root=None`` is only valid for SynthVAD: the cached root ``synth_set``
    (:data:`SYNTH_SETS`)."""
    if data_root is None:
        if dataset != "synthvad":
            raise ConfigError(f"dataset {dataset!r} needs data_root (the dataset as downloaded; see "
                              f"`vadkit data info {dataset}` for its layout and `vadkit data verify {dataset} --root`)")
        from vadkit.data import synth

        makers = {"smoke": synth.smoke_dataset, "long": synth.long_dataset, "bench": synth.benchmark_dataset}
        if synth_set not in makers:
            raise ConfigError(f"synth_set must be one of {SYNTH_SETS}, got {synth_set!r}")
        return Path(makers[synth_set]())
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: data_root for {dataset!r} does not exist")
    return root


def has_frame_labels(ann) -> bool:
    """True when every anomalous video of ``ann`` has temporal ground truth (segments or frame labels)."""
    abn = [a for a in ann.values() if a.is_anomalous]
    return bool(abn) and all(a.segments or a.frame_labels is not None for a in abn)


def _stratum(a) -> str:
    return "+".join(sorted(a.classes)) if a.is_anomalous else "normal"


def carve_validation(train, fraction: float, seed: int):
    """Split ``train`` into ``(train', val)``: ``fraction`` of the videos of every class (at least one when the class
    has two or more videos), drawn with ``numpy.random.default_rng(seed)``; order within each split kept."""
    if not 0 < fraction < 1:
        raise ConfigError(f"val_fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    groups: dict[str, list[str]] = {}
    for vid, a in train.items():
        groups.setdefault(_stratum(a), []).append(vid)
    val_ids: set[str] = set()
    for key in sorted(groups):
        ids = groups[key]
        n = int(round(fraction * len(ids)))
        if len(ids) >= 2:
            n = min(max(n, 1), len(ids) - 1)
        else:
            n = 0
        val_ids.update(rng.choice(ids, size=n, replace=False).tolist() if n else [])
    # a validation split must hold both labels, or no AUC (frame or video) is defined on it
    for want in (False, True):
        if not any(train[v].is_anomalous == want for v in val_ids):
            pool = sorted(v for v, a in train.items() if a.is_anomalous == want and v not in val_ids)
            if len(pool) >= 2 or (pool and len([v for v, a in train.items() if a.is_anomalous == want]) >= 2):
                val_ids.add(pool[int(rng.integers(len(pool)))])
    if not val_ids or len({train[v].is_anomalous for v in val_ids}) < 2:
        raise DatasetError(f"{train.name}: too few training videos ({len(train)}) to carve a validation split with "
                           "both normal and anomalous videos (pass val_list, or use more training videos)")
    val = train.filter(lambda a: a.video_id in val_ids)
    rest = train.filter(lambda a: a.video_id not in val_ids)
    return rest, val


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"{path}: validation list not found")
    ids = [ln.strip().split()[0] for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if not ids:
        raise DatasetError(f"{path}: validation list is empty")
    return [Path(i).stem if i.endswith((".mp4", ".avi")) else i for i in ids]


def load_splits(s: DataSettings, *, list_dir: Path | None = None) -> Splits:
    """Load train / validation / test (see the module docstring). ``list_dir``: where a carved list is written."""
    from vadkit.data.datasets import load_dataset

    root = resolve_data_root(s.dataset, s.data_root, s.synth_set)
    full = load_dataset(s.dataset, root)
    splits = sorted({a.split for a in full.values() if a.split})

    def take(name: str):
        if name not in splits:
            raise DatasetError(f"{s.dataset}: no split {name!r} under {root} (splits found: {splits})")
        return full.split(name)

    train, test = take(s.train_split), take(s.test_split)
    files: dict[str, str] = {}
    if s.val_list:
        ids = set(_read_list(Path(s.val_list).expanduser()))
        missing = ids - set(train)
        if missing:
            raise DatasetError(f"{s.val_list}: {len(missing)} listed videos are not in the training split, e.g. "
                               f"{sorted(missing)[:3]}")
        val = train.filter(lambda a: a.video_id in ids)
        train = train.filter(lambda a: a.video_id not in ids)
        source = f"the user's list {s.val_list} ({len(val)} training videos held out)"
        files["val_list"] = str(s.val_list)
    elif s.val_split and s.val_split in splits:
        val = take(s.val_split)
        source = f"the dataset's {s.val_split!r} split"
    else:
        train, val = carve_validation(train, s.val_fraction, s.val_seed)
        source = (f"carved from the training videos ({len(val)} of {len(val) + len(train)}, "
                  f"{100 * s.val_fraction:.0f} % per class, seed {s.val_seed})")
        if list_dir is not None:
            from vadkit.io_utils import atomic_write_text

            path = Path(list_dir) / f"val_list_{s.dataset}_seed{s.val_seed}.txt"
            atomic_write_text(path, "".join(f"{v}\n" for v in val))
            files["val_list"] = str(path)
    crit = "frame" if has_frame_labels(val) else "video"
    return Splits(train, val, test, root, s.dataset, source, crit, files)


@dataclass
class FeatureSet:
    """Frozen CLIP snippet features of the three splits: ``stores[split].load(video_id) -> [T, D]``."""

    stores: dict[str, Any]
    clip: Any
    dim: int
    snippet_len: int

    def load(self, split: str, video_id: str, crop: int | None = None) -> np.ndarray:
        """``[T, D]`` (``crop`` picks one of ten crops of a ``[T, 10, D]`` store; default: the centre, index 4)."""
        x = np.asarray(self.stores[split].load(video_id))
        if x.ndim == 3:
            x = x[:, 4 if crop is None else crop]
        return x


def load_features(splits: Splits, clip_name: str, *, snippet_len: int = 16, batch_size: int = 64,
                  threads: int = 0, freeze: bool = True, train_crop: str = "center") -> FeatureSet:
    """Load the (frozen) CLIP and extract or reuse the snippet features of every split.

    ``train_crop="ten_crop"`` extracts the training split with ten crops (``[T, 10, D]``, VadCLIP's training list has
    one row per video and crop); validation and test always use the centre crop.
    """
    import torch

    from vadkit.features import extract_dataset
    from vadkit.models import load_clip

    clip = load_clip(clip_name)
    if freeze:
        for p in clip.model.parameters():
            p.requires_grad_(False)
    stores = {name: extract_dataset(splits.split(name), clip_name, snippet_len=snippet_len, batch_size=batch_size,
                                    clip=clip, crop=train_crop if name == "train" else "center")
              for name in ("train", "val", "test")}
    if threads:
        torch.set_num_threads(threads)          # extraction may have raised it
    for name in ("train", "val", "test"):       # real annotation files rarely give frame counts: the store has them
        store = stores[name]
        for vid, a in splits.split(name).items():
            if a.num_frames is None and vid in store:
                try:
                    a.num_frames = int(store.source(vid)["num_frames"])
                except (KeyError, OSError, ValueError):
                    pass
    first = next(iter(splits.train))
    dim = int(np.asarray(stores["train"].load(first)).shape[-1])     # [T, D] or [T, 10, D]
    return FeatureSet(stores, clip, dim, snippet_len)


def class_names(*splits) -> list[str]:
    """Class vocabulary, normal first: the dataset's ``class_names`` or the union of video classes."""
    names = list(splits[0].class_names) if splits[0].class_names else []
    if not names:
        seen = {c for s in splits for a in s.values() for c in a.classes}
        names = sorted(seen - {"normal"})
    names = [c for c in names if c.lower() not in ("normal", "a")]
    return ["normal"] + names


def frame_gt(ann) -> np.ndarray:
    """Exact frame labels of a video (``frame_labels`` if shipped, else from segments, ends inclusive)."""
    if ann.frame_labels is not None:
        return np.asarray(ann.frame_labels)
    return ann.frame_labels_from_segments(int(ann.num_frames), end_inclusive=True)
