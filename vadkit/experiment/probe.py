"""How visible anomalies are to a frozen image tower: a supervised linear probe and its controls.

The SynthVAD issue asks that a **supervised linear probe** on frozen snippet features of the default smoke
image tower reach a frame AUC of 0.75 on the smoke test split, while two controls stay near chance: the
same probe on a colour histogram of the same frames (anomalies must be shapes and poses, not tints) and on
the same tower with untrained weights (the architecture alone must not see them). This module measures all
three the same way:

* one feature vector per 16-frame snippet, of the frame the feature store encodes (the snippet's centre,
  :func:`vadkit.features.extract.snippet_frame_indices`); its label is that frame's exact ground truth;
* an L2-regularised logistic regression on standardised features of the **train** split, its inverse
  strength ``C`` chosen by snippet AUC on the **validation** split (never the test split), refitted on
  train with that ``C``;
* the test split scored snippet by snippet, expanded to frames (``repeat``, the tail padded with the last
  snippet's score) and evaluated as frame-level AUC_O against the exact frame labels
  (:func:`vadkit.metrics.evaluate_frame_level`, ``gt_convention="exact"``).

:func:`learning_curve` refits the same probe on nested random subsets of the training videos: where the test
AUC still climbs from half to all of them, the probe is limited by labelled data as much as by the features.

Measured on SynthVAD 2.0 (smoke split, frozen packaged EfficientNet-Lite0 at 240 x 320 px, its stage-7 map
max- and mean-pooled, 640-d): test AUC_O 0.56 / 0.57 / 0.64 with 25 / 50 / 100 % of the 160 training videos;
0.68 when the probe is fitted on the pretraining corpus' 9 589 labelled snippets (5x the data) as well; 0.67
for the same map pooled by an attention head trained on the corpus' event labels. Rendering the world at
320 x 240 (``SynthConfig(width=320, height=240)``: sprites scale, a person is ~36 px tall) and encoding it at
native size moved the same probe only to 0.66 (0.60 / 0.63 / 0.66 over the quarters). Frozen ImageNet features
do not reach the 0.75 goal through resolution or more data alone; the curve says the smoke split is short of
labelled anomalous snippets (~480 in train) as well.

Crowd density is the larger lever (``benchmarks/world_probe.py``, which regenerates the smoke splits of a world
variant, and with ``--zoo`` its pretraining corpus and the zoo's image towers): with a third of the traffic and
walkers (``pedestrian_rate=0.001, car_rate=0.004, bicycle_rate=0.002, parked_prob=0.15``) the frozen
EfficientNet's stage-5 + stage-7 read-out reaches 0.69 at 160 x 120, and the LiT tower trained on that world's
own corpus 0.746 with its earlier config and 0.755 with zoo v3's (0.65 here), while the colour histogram
falls to 0.48 and the tiny CLIP stays at 0.56 (its event read-out below chance). Not yet adopted: it changes
every chapter's world and needs a tiny CLIP that survives it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

PROBE_GOAL = 0.75
C_GRID = (0.01, 0.1, 1.0)


def snippet_labels(ann, n_snippets: int, snippet_len: int = 16) -> np.ndarray:
    """``[T]`` 0/1: the exact label of the frame each snippet's feature encodes."""
    from vadkit.experiment.data import frame_gt
    from vadkit.features.extract import snippet_frame_indices

    gt = frame_gt(ann)
    idx = snippet_frame_indices(int(ann.num_frames), snippet_len)[:, 0]
    return gt[idx[:n_snippets]].astype(np.uint8)


def snippet_frames(ann, snippet_len: int = 16) -> np.ndarray:
    """``[T, H, W, 3]`` uint8: the frame of each snippet that the feature store encodes."""
    from vadkit.data.video import VideoReader
    from vadkit.features.extract import snippet_frame_indices

    return VideoReader(ann.video_path).get_frames(snippet_frame_indices(int(ann.num_frames), snippet_len)[:, 0])


def colour_histograms(frames: np.ndarray, bins: int = 4) -> np.ndarray:
    """``[T, bins^3 + 3]`` control features of ``frames`` ``[T, H, W, 3]``: a joint RGB histogram (``bins``
    per channel, normalised) and the mean colour."""
    q = (frames.astype(np.int32) * bins) // 256
    codes = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    hist = np.stack([np.bincount(c.ravel(), minlength=bins ** 3) for c in codes]).astype(np.float32)
    hist /= hist.sum(1, keepdims=True)
    return np.concatenate([hist, frames.reshape(len(frames), -1, 3).mean(1) / 255.0], 1)


def encode_frames(clip, frames: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """``[T, D]`` embeddings of ``frames`` in memory (no cache), for a tower that has no place in the feature
    cache (the untrained twin)."""
    import torch

    with torch.no_grad():
        return clip.encode_images(frames, batch_size=batch_size).float().cpu().numpy()


def snippet_types(ann, n_snippets: int, snippet_len: int = 16) -> list[str]:
    """``[T]`` anomaly type of the frame each snippet's feature encodes (``"normal"`` outside every segment)."""
    from vadkit.features.extract import snippet_frame_indices

    idx = snippet_frame_indices(int(ann.num_frames), snippet_len)[:n_snippets, 0]
    out = ["normal"] * len(idx)
    for seg in ann.segments:
        end = seg.end if seg.end_inclusive is not False else seg.end - 1
        for i, f in enumerate(idx):
            if seg.start <= f <= end:
                out[i] = seg.label or "anomaly"
    return out


def _stack(split, features: Mapping[str, np.ndarray], snippet_len: int):
    xs, ys = [], []
    for vid, ann in split.items():
        x = np.asarray(features[vid], np.float32)
        xs.append(x)
        ys.append(snippet_labels(ann, len(x), snippet_len))
    return np.concatenate(xs), np.concatenate(ys)


def fit_probe(splits, features: Mapping[str, Mapping[str, np.ndarray]], *, snippet_len: int = 16,
              c_grid=C_GRID):
    """``(model, info)``: a logistic regression on standardised train snippet features, ``C`` chosen by
    snippet AUC on validation and refitted on train. ``model.decision_function([T, D]) -> [T]``; ``info``:
    ``{"C", "val_snippet_auc", "n_train_snippets", "train_anomalous_share"}``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, ytr = _stack(splits.train, features["train"], snippet_len)
    xva, yva = _stack(splits.val, features["val"], snippet_len)

    def fit(c):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(xtr, ytr)

    val = {c: roc_auc_score(yva, fit(c).decision_function(xva)) for c in c_grid}
    best = max(val, key=lambda c: (val[c], -c))  # ties: the stronger regularisation
    return fit(best), {"C": best, "val_snippet_auc": float(val[best]), "n_train_snippets": int(len(ytr)),
                       "train_anomalous_share": float(ytr.mean())}


def per_type_auc(model, split, features: Mapping[str, np.ndarray], snippet_len: int = 16) -> dict[str, float]:
    """``{type: AUC}`` of the probe's snippet scores: the snippets of one anomaly type against all normal
    snippets of ``split`` (which types one frame shows)."""
    from sklearn.metrics import roc_auc_score

    scores, types = [], []
    for vid, ann in split.items():
        x = np.asarray(features[vid], np.float32)
        scores.append(model.decision_function(x))
        types += snippet_types(ann, len(x), snippet_len)
    scores, types = np.concatenate(scores), np.asarray(types)
    normal = types == "normal"
    return {t: float(roc_auc_score(np.r_[np.ones((types == t).sum()), np.zeros(normal.sum())],
                                   np.r_[scores[types == t], scores[normal]]))
            for t in sorted(set(types) - {"normal"}) if normal.any()}


def linear_probe(splits, features: Mapping[str, Mapping[str, np.ndarray]], *, snippet_len: int = 16,
                 c_grid=C_GRID) -> dict:
    """Fit, select and score a linear probe (see the module docstring).

    ``splits``: the chapter's :class:`~vadkit.experiment.data.Splits`; ``features[split][video_id]``:
    ``[T, D]`` snippet features. Returns ``{"C", "val_snippet_auc", "test_auc_o", "test_auc_a",
    "n_train_snippets", "train_anomalous_share", "per_type"}`` (``per_type``: :func:`per_type_auc` on test).
    """
    from vadkit.metrics import evaluate_frame_level

    model, info = fit_probe(splits, features, snippet_len=snippet_len, c_grid=c_grid)
    scores = {vid: model.decision_function(np.asarray(features["test"][vid], np.float32))
              for vid in splits.test}
    res = evaluate_frame_level(scores, splits.test, gt_convention="exact", expand="repeat",
                               snippet_len=snippet_len, align="pad_edge", per_class=False, missing="error")
    return {**info, "test_auc_o": float(res["auc_o"]), "test_auc_a": float(res["auc_a"]),
            "per_type": per_type_auc(model, splits.test, features["test"], snippet_len)}


def learning_curve(splits, features: Mapping[str, Mapping[str, np.ndarray]], *,
                   fractions=(0.25, 0.5, 1.0), snippet_len: int = 16, seed: int = 0, c_grid=C_GRID) -> list[dict]:
    """The probe refitted on nested random subsets of the training videos (``fractions`` of them, the same
    ``seed``-shuffled order, so each subset holds the smaller ones), ``C`` chosen on the full validation split
    each time and the full test split scored. One row per fraction: ``{"train_fraction", "n_train_videos",
    "n_train_snippets", "train_anomalous_share", "C", "val_snippet_auc", "test_auc_o"}``."""
    from types import SimpleNamespace

    from vadkit.errors import ConfigError

    if not fractions or any(not 0.0 < f <= 1.0 for f in fractions):
        raise ConfigError(f"probe.learning_curve: fractions must lie in (0, 1], got {list(fractions)}")
    vids = sorted(splits.train)
    np.random.default_rng(seed).shuffle(vids)
    rows = []
    for f in sorted(fractions):
        keep = vids[:max(1, int(round(f * len(vids))))]
        sub = SimpleNamespace(train={v: splits.train[v] for v in keep}, val=splits.val, test=splits.test)
        res = linear_probe(sub, features, snippet_len=snippet_len, c_grid=c_grid)
        rows.append({"train_fraction": float(f), "n_train_videos": len(keep),
                     **{k: res[k] for k in ("n_train_snippets", "train_anomalous_share", "C", "val_snippet_auc",
                                            "test_auc_o")}})
    return rows


def probe_table(splits, towers: Mapping[str, Callable[[str], Mapping[str, np.ndarray]]], *,
                snippet_len: int = 16):
    """``(table, per_type)``: one row per feature source (``towers[name](split_name) -> {video_id: [T, D]}``;
    columns ``features``, ``C``, ``val_snippet_auc``, ``test_auc_o``, ``test_auc_a``, ``goal``), and the
    per-type AUCs of every source (:func:`per_type_auc`; one column per source)."""
    import pandas as pd

    rows, per_type = [], {}
    for name, make in towers.items():
        feats = {s: make(s) for s in ("train", "val", "test")}
        res = linear_probe(splits, feats, snippet_len=snippet_len)
        per_type[name] = res.pop("per_type")
        rows.append({"features": name, **res})
    df = pd.DataFrame(rows)
    df["goal"] = PROBE_GOAL
    return df, pd.DataFrame(per_type).rename_axis("anomaly type (test snippets vs normal ones)")
