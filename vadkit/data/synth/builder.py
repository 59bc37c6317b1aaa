"""Dataset generation: split plan, per-video simulation, files on disk, the cached smoke dataset."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from vadkit.data.synth.activity import activity_tracks, build_document
from vadkit.data.synth.render import estimate_presence, render_video
from vadkit.data.synth.simulate import BIKE_SPEED, CAR_SPEED, EVENT_BUILDERS, Ctx, hard_negatives, populate_normal
from vadkit.data.synth.text import video_text
from vadkit.data.synth.world import (
    ALL_ANOMALY_TYPES,
    ANOMALY_TYPES,
    CAMEL_NAMES,
    class_names_for,
    GENERATOR_VERSION,
    SynthConfig,
    make_scene,
)
from vadkit.errors import ConfigError, DatasetError
from vadkit.io_utils import (atomic_save_npy, atomic_save_npz, atomic_write_json, atomic_write_text, content_hash,
                             sha256_file)

MANIFEST = "synthvad.json"
SMOKE_SPLITS = {"train": 160, "val": 40, "test": 60}
SMOKE_CONFIG = SynthConfig(min_frames=160, max_frames=240)
EVAL_SPLITS = ("val", "test")  # splits written to the UCF/XD temporal annotation files


# ----------------------------------------------------------------------------------------------
# plan
# ----------------------------------------------------------------------------------------------
def plan_videos(splits: dict[str, int], seed: int, config: SynthConfig,
                anomaly_types: dict[str, list[str]] | None) -> list[dict]:
    """Which video gets which classes, scene and length. Balanced per split: abnormal videos cycle
    through the split's allowed types in a shuffled order; scenes cycle the same way."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xA11,)))
    anomaly_types = dict(anomaly_types or {})
    unknown = set(anomaly_types) - set(splits)
    if unknown:
        raise ConfigError(f"SynthVAD anomaly_types names split(s) {sorted(unknown)} not in splits {list(splits)}")
    plan, counters = [], {c: 0 for c in ("normal",) + ALL_ANOMALY_TYPES}
    for split, n in splits.items():
        if int(n) < 0:
            raise ConfigError(f"SynthVAD split {split!r}: negative size {n}")
        types = list(anomaly_types.get(split, ANOMALY_TYPES))
        bad = [t for t in types if t not in ALL_ANOMALY_TYPES]
        if bad:
            raise ConfigError(f"SynthVAD anomaly_types[{split!r}]: unknown type(s) {bad}; choose from "
                              f"{ALL_ANOMALY_TYPES}")
        n = int(n)
        n_ab = int(round(n * config.abnormal_fraction)) if types else 0
        primary = []
        while len(primary) < n_ab:
            primary += list(rng.permutation(types))
        classes = []
        for p in primary[:n_ab]:
            cls = [str(p)]
            others = [t for t in types if t != p]
            if others and rng.uniform() < config.second_event_prob:
                cls.append(str(rng.choice(others)))
            classes.append(tuple(cls))
        classes += [()] * (n - n_ab)
        order = rng.permutation(n)
        scenes = []
        while len(scenes) < n:
            scenes += list(rng.permutation(config.scenes))
        for j in order:
            cls = classes[j]
            name = cls[0] if cls else "normal"
            counters[name] += 1
            plan.append({
                "video_id": f"{CAMEL_NAMES[name]}_{counters[name]:04d}",
                "split": split,
                "classes": list(cls),
                "scene": str(scenes[j]),
                "num_frames": int(rng.integers(config.min_frames, config.max_frames + 1)),
                "index": len(plan),
            })
    return plan


# ----------------------------------------------------------------------------------------------
# one video
# ----------------------------------------------------------------------------------------------
def simulate_video(item: dict, seed: int, config: SynthConfig):
    """Simulate and render one planned video, re-drawing until its events fit (see ``max_attempts``).

    Returns ``(rendered, agents, events, scene, T)``; events carry ``segment = (start, end)``
    inclusive frame indices measured from the rendered masks.
    """
    scene = make_scene(item["scene"], config.width, config.height)
    T = item["num_frames"]
    types = item["classes"]
    last_err = None
    for attempt in range(config.max_attempts):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(item["index"], attempt)))
        ctx = Ctx(scene, rng, T, fps=config.fps)
        events, ev_agents = [], []
        # a second event that does not fit is dropped after half the attempts (the video keeps its
        # primary class; its recorded classes are the events actually placed)
        use = types if attempt < config.max_attempts // 2 else types[:1]
        t_min = int(0.08 * T)
        ok = True
        for k, typ in enumerate(use):
            if k == 0:
                hi = int((0.3 if len(use) > 1 else 0.5) * T)
                ts = int(rng.integers(t_min, max(hi, t_min + 1)))
            else:
                ts = t_min + int(rng.integers(0, max(int(0.08 * T), 1)))
                if ts >= T - 24:
                    ok = False
                    break
            ags, info = EVENT_BUILDERS[typ](ctx, ts, k)
            for a in ags:
                a.compile(rng, scene.scale)
            pres = np.nonzero(estimate_presence(scene, ags, T + 2000, k))[0]
            if len(pres) == 0:
                ok = False
                break
            # long events are moved earlier so they end inside the video (agents' scripts are
            # independent of their start frame)
            shift = max(0, int(pres[-1]) - (T - 4))
            shift = min(shift, int(pres[0]) - (t_min if k else 1))
            for a in ags:
                a.t0 -= max(shift, 0)
            events.append({"index": k, "type": typ, "agents": ags, "info": info})
            ev_agents += ags
            t_min = int(pres[-1]) - max(shift, 0) + 12
        if not ok:
            continue
        speeds = {l.name: rng.uniform(*(BIKE_SPEED if l.kind == "bike" else CAR_SPEED)) * scene.scale
                  for l in scene.lanes}
        hard = (hard_negatives(ctx, speeds, config.stop_rate, config.crossing_rate)
                if config.stop_rate > 0 or config.crossing_rate > 0 else [])
        normal = hard + populate_normal(ctx, speeds, (config.pedestrian_rate, config.car_rate, config.bicycle_rate),
                                        bend_prob=config.bend_prob, together_prob=config.together_prob,
                                        parked_prob=config.parked_prob, bag_prob=config.bag_prob)
        for a in normal:
            a.compile(rng, scene.scale)
        agents = ev_agents + normal
        rend = render_video(scene, agents, T, len(events), rng, rng.uniform(*config.noise_sigma),
                            rng.uniform(*config.illumination_amplitude))
        # short videos cannot hold whole events: they may run past the last frame (as in UCF-Crime)
        last_err = _check_events(rend, events, T, strict=attempt < config.max_attempts // 2 and T >= 128)
        if last_err is None:
            for ev in events:
                vict = [a for a in ev["agents"] if a.role == "victim"]
                ev["item"] = vict[0].attrs.get("item", "") if vict else ""
            return rend, agents, events, scene, T, rng
    raise DatasetError(f"SynthVAD video {item['video_id']}: could not place events {types} in {T} frames "
                       f"after {config.max_attempts} attempts ({last_err}); raise min_frames")


def _check_events(rend, events, T, strict: bool) -> str | None:
    prev_end = -10
    for ev, pres in zip(events, rend.presence):
        idx = np.nonzero(pres)[0]
        if len(idx) < 8:
            return f"event {ev['type']} visible in only {len(idx)} frames"
        s, e = int(idx[0]), int(idx[-1])
        if len(idx) != e - s + 1:
            return f"event {ev['type']} not contiguous"
        if s <= prev_end + 2:
            return f"event {ev['type']} overlaps the previous one"
        if strict and (s < 1 or e > T - 3):
            return f"event {ev['type']} touches the video border"
        ev["segment"] = (s, e)
        prev_end = e
    return None


def _write_video_files(root: Path, item: dict, config: SynthConfig, seed: int) -> dict:
    from vadkit.data.video import write_video

    vid = item["video_id"]
    rend, agents, events, scene, T, rng = simulate_video(item, seed, config)
    write_video(root / "videos" / f"{vid}.mp4", rend.frames, config.fps)
    frame_mask = rend.mask.reshape(T, -1).any(1).astype(np.uint8)
    atomic_save_npy(root / "test_frame_mask" / f"{vid}.npy", frame_mask)
    atomic_save_npz(root / "instance_mask" / f"{vid}.npz", ids=rend.ids)
    agent_event = {a.aid: ev for ev in events for a in ev["agents"]}
    if events:
        atomic_save_npz(root / "test_pixel_mask" / f"{vid}.npz", mask=rend.mask)
        tr_lines, gt_lines = [], []
        for a in agents:
            rows = [r for r in rend.boxes[a.aid] if r[5] >= 0]
            if not rows:
                continue
            tr_lines.append(f"{a.aid},{rows[0][0]},{rows[-1][0]}")
            gt_lines += [f"{a.aid},{t},{x1},{y1},{x2},{y2}" for t, x1, y1, x2, y2, _ in rows]
        atomic_write_text(root / "tracks" / f"{vid}_tracks.txt", "\n".join(tr_lines) + "\n")
        atomic_write_text(root / "rbdc" / f"{vid}_gt.txt", "\n".join(gt_lines) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["track_id", "frame", "x1", "y1", "x2", "y2", "object_class", "anomalous", "label", "act"])
    rows = []
    for a in agents:
        for t, x1, y1, x2, y2, k in rend.boxes[a.aid]:
            label = events[k]["type"] if k >= 0 else "normal"
            rows.append((t, a.aid, x1, y1, x2, y2, a.kind, int(k >= 0), label, a.act[t - a.t0]))
    rows.sort()
    for t, aid, x1, y1, x2, y2, kind, an, label, act in rows:
        w.writerow([aid, t, x1, y1, x2, y2, kind, an, label, act])
    atomic_write_text(root / "objects" / f"{vid}.csv", buf.getvalue())
    text = video_text(scene, agents, events, T, config.fps, rend.boxes, rng)
    anomalous_text = text.pop("agent_sentences")
    atomic_write_json(root / "text" / f"{vid}.json", text)
    summary = {
        "video_id": vid, "split": item["split"], "scene": item["scene"], "num_frames": T,
        "classes": [ev["type"] for ev in events],
        "segments": [[int(ev["segment"][0]), int(ev["segment"][1]), ev["type"]] for ev in events],
        "agents": {str(a.aid): {"object_class": a.kind, "role": a.role or None,
                                "event": agent_event[a.aid]["type"] if a.aid in agent_event else None,
                                "attributes": {k: v for k, v in a.attrs.items() if k != "points"}}
                   for a in agents if rend.boxes[a.aid]},
    }
    tracks = activity_tracks(rows)
    atomic_write_json(root / "activity" / f"{vid}.json", build_document(
        vid, tracks, summary["agents"], scene, config.fps, T, summary["segments"], anomalous_text))
    atomic_write_json(root / ".done" / f"{vid}.json", summary)
    return summary


def _worker(args):
    root, item, config_d, seed = args
    try:
        return _write_video_files(Path(root), item, SynthConfig.from_dict(config_d), seed)
    except Exception as exc:  # recorded by the parent, which stops with a clear error
        return {"video_id": item["video_id"], "error": f"{type(exc).__name__}: {exc}"}


# ----------------------------------------------------------------------------------------------
# dataset
# ----------------------------------------------------------------------------------------------
def _request(splits, seed, config, anomaly_types) -> dict:
    return {"generator_version": GENERATOR_VERSION, "config": config.to_dict(), "seed": int(seed),
            "splits": {k: int(v) for k, v in splits.items()},
            "anomaly_types": {k: list(v) for k, v in (anomaly_types or {}).items()}}


def is_complete(root: Path, request: dict | None = None) -> bool:
    man = Path(root) / MANIFEST
    if not man.is_file():
        return False
    if request is None:
        return True
    try:
        meta = json.loads(man.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return meta.get("request_hash") == content_hash(request)


@contextlib.contextmanager
def _file_lock(path: Path):
    """Exclusive advisory lock (POSIX ``flock``); a no-op where unavailable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: atomic rename still prevents corruption
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def generate(out_dir, splits: dict[str, int] | None = None, *, seed: int = 0, config: SynthConfig | None = None,
             anomaly_types: dict[str, list[str]] | None = None, progress: bool = True,
             workers: int | None = None) -> Path:
    """Generate a SynthVAD root at ``out_dir`` (layout in :mod:`vadkit.data.synth`).

    ``splits`` maps split name -> number of videos (default ``{"train": 160, "val": 40, "test": 60}``);
    ``anomaly_types`` optionally restricts the types per split (open set: disjoint train/test types).
    The root is built in ``.<name>.partial-<hash>`` next to ``out_dir`` (each video's files are written
    atomically, so an interrupted run resumes where it stopped) and renamed into place at the end.
    Re-running with the same arguments on a complete root is a no-op; a root made with other
    arguments raises :class:`~vadkit.errors.DatasetError` instead of being overwritten.
    """
    out = Path(out_dir).expanduser().resolve()
    splits = dict(SMOKE_SPLITS if splits is None else splits)
    config = config or SynthConfig()
    request = _request(splits, seed, config, anomaly_types)
    rhash = content_hash(request)
    if out.exists():
        if is_complete(out, request):
            return out
        if is_complete(out):
            raise DatasetError(f"{out}: holds a SynthVAD root generated with other settings; choose another "
                               f"directory or delete it")
        if any(out.iterdir()):
            raise DatasetError(f"{out}: exists, is not empty and is not a SynthVAD root")
    plan = plan_videos(splits, seed, config, anomaly_types)
    with _file_lock(out.parent / f".{out.name}.lock"):
        if is_complete(out, request):  # another process finished it while we waited
            return out
        part = out.parent / f".{out.name}.partial-{rhash}"
        part.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        todo = [it for it in plan if not (part / ".done" / f"{it['video_id']}.json").is_file()]
        summaries = {}
        n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        jobs = [(str(part), it, config.to_dict(), int(seed)) for it in todo]
        bar = _progress(len(plan), len(plan) - len(todo), progress)
        failures = []
        if n_workers > 1 and len(jobs) > 4:
            with ProcessPoolExecutor(max_workers=n_workers) as ex:
                for res in ex.map(_worker, jobs, chunksize=2):
                    (failures.append(res) if "error" in res else None)
                    bar.update(1)
        else:
            for job in jobs:
                res = _worker(job)
                (failures.append(res) if "error" in res else None)
                bar.update(1)
        bar.close()
        if failures:
            msg = "; ".join(f"{f['video_id']}: {f['error']}" for f in failures[:5])
            raise DatasetError(f"{out}: {len(failures)} video(s) failed to generate: {msg}")
        for it in plan:
            summaries[it["video_id"]] = json.loads((part / ".done" / f"{it['video_id']}.json").read_text())
        _write_index_files(part, plan, summaries)
        files = {}
        for p in sorted(part.rglob("*")):
            rel = p.relative_to(part).as_posix()
            if p.is_file() and not rel.startswith(".done/"):
                files[rel] = sha256_file(p)
        manifest = {
            "name": "SynthVAD", "generator_version": GENERATOR_VERSION, "request_hash": rhash,
            "seed": int(seed), "config": config.to_dict(), "splits": request["splits"],
            "anomaly_types": {s: list(anomaly_types.get(s, ANOMALY_TYPES)) if anomaly_types else list(ANOMALY_TYPES)
                              for s in splits},
            "class_names": list(class_names_for(
                t for sp in splits for t in (anomaly_types or {}).get(sp, ANOMALY_TYPES))),
            "fps": config.fps, "width": config.width, "height": config.height,
            "frame_index_base": 0, "segment_end_inclusive": True, "box_format": "x1,y1,x2,y2 (x2/y2 exclusive)",
            "generation_seconds": round(time.time() - t0, 2),
            "videos": {vid: {k: v for k, v in s.items() if k != "video_id"} for vid, s in summaries.items()},
            "files": files,
        }
        atomic_write_json(part / MANIFEST, manifest)
        shutil.rmtree(part / ".done", ignore_errors=True)
        try:
            os.rename(part, out)
        except OSError:
            if out.exists() and not any(out.iterdir()):
                out.rmdir()
                os.rename(part, out)
            elif is_complete(out, request):
                shutil.rmtree(part, ignore_errors=True)
            else:
                raise
    return out


def _write_index_files(root: Path, plan: list[dict], summaries: dict) -> None:
    by_split: dict[str, list[str]] = {}
    temporal, multi = [], []
    for it in plan:
        s = summaries[it["video_id"]]
        cls = s["classes"][0] if s["classes"] else "normal"
        by_split.setdefault(it["split"], []).append(f"{cls}/{it['video_id']}.mp4")
        if it["split"] in EVAL_SPLITS:
            segs = sorted(s["segments"])
            if segs:
                nums = [x for sg in segs[:2] for x in sg[:2]] + [-1, -1] * (2 - len(segs[:2]))
                temporal.append(f"{it['video_id']}  {cls}  " + "  ".join(str(x) for x in nums) + "  ")
                multi.append(it["video_id"] + " " + " ".join(f"{sg[2]} {sg[0]} {sg[1]}" for sg in segs))
            else:
                temporal.append(f"{it['video_id']}  Normal  -1  -1  -1  -1  ")
    for split, lines in by_split.items():
        atomic_write_text(root / "splits" / f"{split}.txt", "\n".join(lines) + "\n")
    atomic_write_text(root / "Temporal_Anomaly_Annotation.txt", "\n".join(temporal) + ("\n" if temporal else ""))
    atomic_write_text(root / "annotations_multiclasses.txt", "\n".join(multi) + ("\n" if multi else ""))


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total, done, enabled):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc="SynthVAD", unit="video")


def smoke_dataset(seed: int = 0, *, root=None) -> Path:
    """The shared smoke-profile SynthVAD root (train 160 / val 40 / test 60, 160-240 frames).

    Cached under ``vadkit.paths.data_dir() / f"synthvad-smoke-{hash}"`` (hash of generator version,
    config, seed and split sizes) unless ``root`` is given; generated once (file lock + atomic rename,
    so concurrent chapters do not race) and reused by every chapter.
    """
    root = cached_root("smoke", seed) if root is None else root
    return generate(root, SMOKE_SPLITS, seed=seed, config=SMOKE_CONFIG, progress=True)


#: The tiny zoo's pretraining corpus: disjoint from the smoke splits (own seed), 3/4 abnormal so the rare
#: event types are seen often enough. It plays the part of CLIP's web-scale pretraining data: the VAD
#: methods never train on it, and the zoo's held-out figures are measured on the smoke *test* split.
PRETRAIN_SPLITS = {"train": 800}
PRETRAIN_SEED = 1_000_003
PRETRAIN_CONFIG = SynthConfig(min_frames=160, max_frames=240, abnormal_fraction=0.75)


#: Long videos on request (a chapter's own split): 40-60 s at 15 fps, with the normal hard negatives of the
#: context types (cars that stop briefly, people crossing the road).
LONG_CONFIG = SynthConfig(min_frames=600, max_frames=900, stop_rate=0.004, crossing_rate=0.004)

#: The shared benchmark every method chapter also scores (the cross-method leaderboard reads it): one split
#: ``bench`` of its own seed, with every type, the three context types among them. No chapter trains on a
#: context type (the smoke splits do not hold them), so they are held-out types in UBnormal's open-set sense;
#: normal videos hold the context types' hard negatives, which the smoke training videos never show.
BENCH_SPLITS = {"bench": 66}
BENCH_SEED = 2_000_003
BENCH_CONFIG = SynthConfig(min_frames=300, max_frames=420, second_event_prob=0.0, stop_rate=0.004,
                           crossing_rate=0.004)
BENCH_TYPES = {"bench": list(ALL_ANOMALY_TYPES)}


#: VAD-LLaMA's long-video split (chapter 10): 40-60 s videos in TAD's spirit, one event each, of seven types that
#: mirror TAD's seven categories (accidents, illegal turns, illegal occupations, retrograde motion, pedestrians on
#: the road, vehicles off the road, and loitering); four of them need seconds of context (:data:`CONTEXT_TYPES`
#: plus loitering), three are visible within a snippet or two.
LONG_SPLITS = {"train": 48, "val": 16, "test": 28}
LONG_SEED = 3_000_003
LONG_TYPES_LIST = ["collision", "wrong_way", "car_on_walkway", "loitering", "illegal_occupation",
                   "pedestrian_on_road", "illegal_turn"]
LONG_TYPES = {s: list(LONG_TYPES_LIST) for s in LONG_SPLITS}
LONG_SPLIT_CONFIG = dataclasses.replace(LONG_CONFIG, second_event_prob=0.0)


def long_dataset(*, root=None) -> Path:
    """The long-video root of chapter 10 (:data:`LONG_SPLITS`, 600-900 frames, :data:`LONG_TYPES_LIST`, the
    context types' normal hard negatives on), cached under ``vadkit.paths.data_dir() / f"synthvad-long-{hash}"``
    like :func:`smoke_dataset` (~1.5 min on 2 cores)."""
    root = cached_root("long") if root is None else root
    return generate(root, LONG_SPLITS, seed=LONG_SEED, config=LONG_SPLIT_CONFIG, anomaly_types=LONG_TYPES,
                    progress=True)


def benchmark_dataset(*, root=None) -> Path:
    """The shared benchmark root (:data:`BENCH_SPLITS`, 300-420 frames per video; one event per video so
    per-type scores are clean): cached under ``vadkit.paths.data_dir() / f"synthvad-bench-{hash}"`` like
    :func:`smoke_dataset`. Seen types: the eight of the smoke splits; held-out types:
    :data:`vadkit.data.synth.CONTEXT_TYPES`."""
    root = cached_root("bench") if root is None else root
    return generate(root, BENCH_SPLITS, seed=BENCH_SEED, config=BENCH_CONFIG, anomaly_types=BENCH_TYPES,
                    progress=True)


def pretrain_request_hash() -> str:
    """Hash of the pretraining corpus' generation request (generator version, config, seed, size): the
    generator is deterministic, so this names the corpus without generating it (tiny-zoo cache keys)."""
    return content_hash(_request(PRETRAIN_SPLITS, PRETRAIN_SEED, PRETRAIN_CONFIG, None))


def pretrain_dataset(*, root=None) -> Path:
    """The tiny zoo's pretraining SynthVAD root (one split ``train`` of 800 videos, 3/4 abnormal).

    Cached under ``vadkit.paths.data_dir() / f"synthvad-pretrain-{hash}"`` like :func:`smoke_dataset`
    (~2 min on 2 cores, ~540 MB, three quarters of it videos; ``benchmarks/synth_disk.py``). Its seed differs from every chapter's, so no
    video of it is a smoke train/val/test video.
    """
    root = cached_root("pretrain") if root is None else root
    return generate(root, PRETRAIN_SPLITS, seed=PRETRAIN_SEED, config=PRETRAIN_CONFIG, progress=True)


def cached_root(name: str, seed: int | None = None) -> Path:
    """Where the cached root ``name`` ("smoke", "pretrain", "bench" or "long") lives: ``vadkit.paths.data_dir() /
    f"synthvad-{name}-{hash}"``, the hash of its generation request (generator version, config, seed,
    splits, types), so another version or setting never reuses it. ``seed`` only for "smoke"."""
    from vadkit.paths import data_dir

    requests = {"smoke": (SMOKE_SPLITS, 0 if seed is None else seed, SMOKE_CONFIG, None),
                "pretrain": (PRETRAIN_SPLITS, PRETRAIN_SEED, PRETRAIN_CONFIG, None),
                "bench": (BENCH_SPLITS, BENCH_SEED, BENCH_CONFIG, BENCH_TYPES),
                "long": (LONG_SPLITS, LONG_SEED, LONG_SPLIT_CONFIG, LONG_TYPES)}
    if name not in requests:
        raise ConfigError(f"SynthVAD: no cached root {name!r}; choose from {sorted(requests)}")
    return data_dir() / f"synthvad-{name}-{content_hash(_request(*requests[name]), 10)}"
