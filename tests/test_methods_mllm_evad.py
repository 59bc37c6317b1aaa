"""MLLM-EVAD's pieces (vadkit.methods.mllm_evad and its recipe): windows and units, the pair rule on SynthVAD's
ground truth, MOG2 and tracking on synthetic frames, frame and box scores, the nominal bank, the description cache,
fusion and the contrast's parsing."""

from __future__ import annotations

import numpy as np
import pytest

from vadkit.methods import mllm_evad as me


def _square_video(T=40, H=60, W=80, moving=((5, 20), (1.5, 0.0)), static=(60, 40), seed=0):
    """Noise background, one 6x10 bright box moving at ``moving = ((x0, y0), (vx, vy))`` and one static box."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(40, 60, size=(H, W, 3)).astype(np.uint8)
    frames, boxes = [], []
    (x0, y0), (vx, vy) = moving
    for t in range(T):
        f = bg.copy()
        f[static[1]:static[1] + 10, static[0]:static[0] + 6] = 220
        x, y = int(round(x0 + vx * t)), int(round(y0 + vy * t))
        f[y:y + 10, x:x + 6] = (250, 30, 30)
        frames.append(f)
        boxes.append((x, y, x + 6, y + 10))
    return np.stack(frames), boxes


def test_delta_is_in_seconds():
    assert me.delta_frames(1.0, 15) == 15 and me.delta_frames(1.0, 25) == 25 and me.delta_frames(1.0, 30) == 30
    assert me.delta_frames(0.5, 15) == 8 and me.delta_frames(0.01, 15) == 1
    with pytest.raises(ValueError):
        me.delta_frames(0, 15)


def test_units_windows_singles_and_pairs():
    # ids 1 and 2 side by side (a pair), 3 far away, 4 seen only at the window's start
    box = lambda x, y: (x, y - 18, x + 6, y)  # noqa: E731  18 px tall, bottom at y
    tracks = {f: {1: box(10, 50), 2: box(18, 50), 3: box(70, 90), **({4: box(12, 52)} if f == 0 else {})}
              for f in range(0, 31)}
    units = me.form_units("v", tracks, num_frames=31, D=15)
    assert sorted({u.t0 for u in units}) == [0, 15]                 # t0 + D < T: windows at 0 and 15, not 30
    w0 = [u for u in units if u.t0 == 0]
    assert [u.ids for u in w0 if u.kind == "single"] == [(1,), (2,), (3,)]    # 4 is not seen at t1
    assert [u.ids for u in w0 if u.kind == "pair"] == [(1, 2)]
    pair = next(u for u in w0 if u.kind == "pair")
    assert pair.distance == pytest.approx(8.0) and pair.h == pytest.approx(18.0) and pair.t1 == 15
    assert pair.boxes_t0 == (box(10, 50), box(18, 50))
    assert not any(u.kind == "pair" for u in me.form_units("v", tracks, 31, 15, pairs=False))
    assert not any(u.kind == "pair" for u in me.form_units("v", tracks, 31, 15, h_scale=0.4))   # 8 > 0.4 * 18


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    from vadkit.data.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("evad") / "synth"
    return generate(root, {"train": 2, "test": 3}, seed=11, config=SynthConfig(min_frames=64, max_frames=96),
                    anomaly_types={"train": ["fighting"], "test": ["fighting", "theft", "running"]},
                    progress=False, workers=1)


def test_units_from_ground_truth_boxes_are_the_activity_documents_units(synth_root):
    """With SynthVAD's boxes, the units are exactly the singles and pairs of its activity ground truth (same
    windows, same visibility rule, same pair rule), so the oracle rows describe the units the method forms."""
    from vadkit.data.synth import activity_text, load_activity, load_synthvad
    from vadkit.experiment.recipes.mllm_evad import _gt_tracks

    n_pairs = 0
    for vid, ann in load_synthvad(synth_root).items():
        tracks = _gt_tracks(synth_root, vid)
        for delta, h, doc in ((1.0, 1.0, load_activity(synth_root, vid)),
                              (0.5, 2.0, activity_text(synth_root, vid, delta_s=0.5, h_scale=2.0))):
            units = me.form_units(vid, tracks, ann.num_frames, me.delta_frames(delta, ann.fps), h_scale=h)
            ref = {(w["start"], "single", (s["id"],)) for w in doc["windows"] for s in w["singles"]}
            ref |= {(w["start"], "pair", tuple(p["ids"])) for w in doc["windows"] for p in w["pairs"]}
            assert {(u.t0, u.kind, u.ids) for u in units} == ref
            n_pairs += sum(u.kind == "pair" for u in units)
    assert n_pairs > 0


def test_oracle_text_and_groups(synth_root):
    from vadkit.data.synth import load_activity, load_synthvad
    from vadkit.experiment.recipes import mllm_evad as R

    test = load_synthvad(synth_root, "test")
    vid = next(v for v, a in test.items() if "fighting" in a.classes)
    tracks = R._gt_tracks(synth_root, vid)
    units = me.form_units(vid, tracks, test[vid].num_frames, 15)
    texts = R.oracle_texts(synth_root, vid, units, 1.0, 1.0, 15.0)
    doc = load_activity(synth_root, vid)
    single = {(w["start"], s["id"]): s["text"] for w in doc["windows"] for s in w["singles"]}
    for u, t in zip(units, texts):
        if u.kind == "single":
            assert t == single[(u.t0, u.ids[0])]
        else:                                    # the agent further left first, then the relation
            left, right = sorted(range(2), key=lambda i: u.boxes_t0[i][0] + u.boxes_t0[i][2])
            assert t.lower().startswith(single[(u.t0, u.ids[left])].lower() + "; ")
            assert single[(u.t0, u.ids[right])] in t
    g = R.groups(test)
    assert vid in g["interaction"] and vid not in g["single-object"]
    run = next(v for v, a in test.items() if a.classes == ("running",))
    assert run in g["single-object"] and run not in g["interaction"]


def test_mog2_finds_the_moving_box_and_not_the_static_one():
    frames, boxes = _square_video()
    dets = me.mog2_detect(frames, min_area=10)
    assert all(len(d) >= 1 for d in dets[2:])
    m, n = me.detector_recall(dets, {t: [b] for t, b in enumerate(boxes)}, iou=0.5)
    assert m / n > 0.9
    static = (60, 40, 66, 50)
    m, _ = me.detector_recall(dets, {t: [static] for t in range(len(frames))}, iou=0.3)
    assert m == 0
    with pytest.raises(ValueError):
        me.mog2_detect(frames[..., 0])


def test_detector_recall_is_one_to_one():
    det = [np.array([[0, 0, 10, 10, 1.0]])]
    assert me.detector_recall(det, {0: [(0, 0, 10, 10), (0, 0, 10, 9)]}, 0.5) == (1, 2)
    assert me.detector_recall(det, {0: [(20, 20, 30, 30)], 1: [(0, 0, 1, 1)]}, 0.1) == (0, 2)


@pytest.mark.parametrize("tracker", ["iou", "bytetrack"])
def test_trackers_keep_two_crossing_free_objects_apart(tracker):
    if tracker == "bytetrack":
        pytest.importorskip("trackers")
    dets = [np.array([[5 + t, 10, 11 + t, 20, 0.9], [60 - t, 40, 66 - t, 50, 0.9]]) for t in range(20)]
    dets[7] = dets[7][:1]                        # one miss: the track survives it
    tr = me.track(dets, fps=15, tracker=tracker)
    ids = {i for f in range(3, 20) for i in tr[f]}
    assert len(ids) == 2
    left = {next(i for i, b in tr[f].items() if b[1] < 30) for f in range(3, 20)}
    assert len(left) == 1
    with pytest.raises(ValueError):
        me.track(dets, 15, "nope")


def test_frame_scores_take_the_max_and_the_last_window_runs_to_the_end():
    b = (0, 0, 2, 2)
    u = lambda t0, i: me.Unit("v", t0, t0 + 5, "single", (i,), (b,), (b,))  # noqa: E731
    units = [u(0, 1), u(0, 2), u(10, 1)]
    s = me.frame_scores(units, [0.2, 0.7, 0.4], num_frames=18, D=5)
    assert s[:5].tolist() == [0.7] * 5
    assert s[5:10].tolist() == [0.0] * 5                 # no unit: nothing unusual seen
    assert s[10:].tolist() == [0.4] * 8                  # last window holds the frames after it


def test_box_scores_interpolate_missing_frames_and_take_the_max():
    u1 = me.Unit("v", 0, 4, "single", (1,), ((0, 0, 10, 10),), ((4, 0, 14, 10),))
    u2 = me.Unit("v", 0, 4, "pair", (1, 2), ((0, 0, 10, 10), (20, 0, 30, 10)), ((4, 0, 14, 10), (20, 0, 30, 10)))
    tracks = {0: {1: (0, 0, 10, 10), 2: (20, 0, 30, 10)}, 4: {1: (4, 0, 14, 10), 2: (20, 0, 30, 10)},
              1: {2: (20, 0, 30, 10)}}
    rows = me.box_scores([u1, u2], [0.3, 0.9], tracks, num_frames=4, D=4)
    assert len(rows) == 8                                 # two objects x frames 0-3
    r = {(int(f), int(x1)): s for f, x1, _, _, _, s in rows}
    assert r[(2, 2)] == pytest.approx(0.9)                # object 1 at frame 2: interpolated x1 = 2, pair's score
    assert r[(1, 20)] == pytest.approx(0.9)


def _bow():
    vocab = {}

    def embed(texts):
        rows = []
        for t in texts:
            v = np.zeros(64)
            for w in t.split():
                v[vocab.setdefault(w, len(vocab)) % 64] += 1
            rows.append(v)
        return np.array(rows)
    return me.TextEmbeddings(embed)


def test_nominal_bank_scores_by_the_k_nearest_nominal_descriptions():
    emb = _bow()
    bank, counts = me.nominal_bank(["a person walks", "a person walks", "a car drives"], emb)
    assert len(bank) == 3 and counts["a person walks"] == 2 and bank.payload[2] == "a car drives"
    s = me.score_texts(bank, emb, ["a person walks", "two people fight hard", "a car drives"], k=1)
    assert s[0] == pytest.approx(0, abs=1e-6) and s[2] == pytest.approx(0, abs=1e-6) and s[1] > 0.5
    s2 = me.score_texts(bank, emb, ["a person walks", "a car drives"], k=2)
    assert s2[0] == pytest.approx(0, abs=1e-6)              # a frequent nominal text: its k nearest are itself
    assert s2[1] == pytest.approx((0 + (1 - 1 / 3)) / 2, abs=1e-6)   # a rare one: itself and "a person walks"
    with pytest.raises(ValueError):
        me.nominal_bank([], emb)
    e = me.explanation(me.Unit("v", 0, 5, "single", (1,), ((0, 0, 1, 1),), ((0, 0, 1, 1),)), "a person runs",
                       0.4, bank, emb, n=2)
    assert [x["text"] for x in e["nearest_nominal"]] == ["a person walks", "a car drives"]    # distinct
    assert e["nearest_nominal"][0]["count"] == 2


class CountingDescriber:
    name = "counting-describer"

    def __init__(self):
        self.calls = 0

    def describe(self):
        return {"name": self.name, "prompt": "p"}

    def describe_crops(self, crops_t, crops_t1, kinds, config=None, *, delta_s=1.0):
        self.calls += len(crops_t)
        return [f"{k} {int(a.mean())} {int(b.mean())}" for k, a, b in zip(kinds, crops_t, crops_t1)]


def test_descriptions_are_cached_per_crop_pair(tmp_path):
    from vadkit.models.calls import STATS

    frames, boxes = _square_video(T=31)
    tracks = {t: {1: b, 2: (60, 40, 66, 50)} for t, b in enumerate(boxes)}
    units = me.form_units("v", tracks, 31, 15)
    cache = me.DescriptionCache(tmp_path)
    d = CountingDescriber()
    made0 = STATS["describe/made"]
    first = me.describe_units(d, frames, units, cache=cache, size=16, batch_size=2)
    assert d.calls == len(units) == STATS["describe/made"] - made0 and len(first) == len(units)
    again = me.describe_units(d, frames, units, cache=cache, size=16)
    assert again == first and d.calls == len(units)                     # a rerun makes no call
    other = frames.copy()
    other[:, :30] = 0                                                    # new pixels around the moving box
    me.describe_units(d, other, units, cache=cache, size=16)
    assert d.calls > len(units)
    d2 = CountingDescriber()
    d2.describe = lambda: {"name": "counting-describer", "prompt": "another prompt"}
    me.describe_units(d2, frames, units, cache=cache, size=16)
    assert d2.calls == len(units)                                       # another prompt: no reuse
    shard = cache.shard(me.describer_identity(d, {"crop_size": 16, "margin": 0.5, "delta_s": 1.0})[0], "v")
    shard.write_text(shard.read_text().replace("single", "sXngle"))      # damaged: treated as empty
    me.describe_units(d, frames, units, cache=cache, size=16)
    assert d.calls >= 2 * len(units)


def test_fusion_standardises_on_reference_and_checks_the_weight():
    a = {"x": np.array([0.0, 1.0, 2.0])}
    b = {"x": np.array([10.0, 10.0, 40.0])}
    za, zb = me.standardise(a, a), me.standardise(b, b)
    assert za["x"].mean() == pytest.approx(0) and za["x"].std() == pytest.approx(1)
    assert np.allclose(me.fuse(za, zb, 1.0)["x"], za["x"]) and np.allclose(me.fuse(za, zb, 0.0)["x"], zb["x"])
    with pytest.raises(ValueError):
        me.fuse(za, zb, 1.5)
    assert me.standardise({"x": np.ones(3)}, {"x": np.ones(3)})["x"].tolist() == [0, 0, 0]


def test_parse_judgment():
    assert me.parse_judgment("Yes, a fight.") == 1.0 and me.parse_judgment(" no") == 0.0
    assert me.parse_judgment("maybe") == 0.5 and me.parse_judgment("\"Yes\"") == 1.0


def test_torchvision_detector_gives_one_box_array_per_frame():
    from vadkit.models import rehearsal

    model = rehearsal.load_detector(rehearsal.path("detector"))
    out = me.torchvision_detect(model, np.zeros((3, 64, 80, 3), dtype=np.uint8), min_score=0.0, batch_size=2)
    assert len(out) == 3 and all(d.ndim == 2 and d.shape[1] == 5 for d in out)


def test_knn_top_k_by_partition_matches_a_full_sort():
    from vadkit.methods.knn import KNNBank

    rng = np.random.default_rng(0)
    bank = KNNBank(rng.normal(size=(50, 8)))
    q = rng.normal(size=(7, 8))
    sims, idx = bank.query(q, 5)
    full = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ bank.embeddings.T
    assert np.array_equal(idx, np.argsort(-full, axis=1, kind="stable")[:, :5])
    assert np.allclose(sims, np.sort(full, axis=1)[:, ::-1][:, :5], atol=1e-6)
    assert bank.query(q, 80)[1].shape == (7, 50)


# ------------------------------------------------------------------------ the chapter's rows and its real demo --

def test_the_smoke_delta_ablation_has_half_a_second_and_two_seconds():
    from vadkit.chapters.mllm_evad import MLLMEVADConfig
    from vadkit.experiment.recipes.mllm_evad import variants

    for profile in ("smoke", "full"):
        cfg = MLLMEVADConfig.resolve(profile)
        rows = {v.name: v for v in variants(cfg, synth=True)}
        assert rows["delta = 0.5 s"].delta_s == 0.5 and rows["delta = 2 s"].delta_s == 2.0
        assert rows["delta = 0.5 s"].text == "describer" and rows["delta = 0.5 s"].h_scale == cfg.h_scale
        assert rows["MLLM-EVAD"].delta_s == cfg.delta_s == 1.0


class _MotionDescriber:
    """A stand-in describer that reads motion only: "stands still" when the two crops are (nearly) the same
    pixels, "walks" otherwise; counts its calls."""

    name = "test-motion-describer"
    calls = 0

    def describe_crops(self, crops_t, crops_t1, kinds, config=None, *, delta_s=1.0):
        type(self).calls += len(kinds)
        diff = np.abs(crops_t.astype(np.int16) - crops_t1.astype(np.int16)).mean(axis=(1, 2, 3))
        return [f"{'A pair' if k == 'pair' else 'A person'} {'stands still' if d < 1.5 else 'walks'}"
                for k, d in zip(kinds, diff)]

    def describe(self):
        return {"name": self.name, "rule": "mean |C_t1 - C_t| < 1.5"}


@pytest.fixture
def footage_home(tmp_path, monkeypatch):
    """A private VADKIT_HOME whose data folder holds vtest.avi (copied from the user's cache, read only)."""
    import shutil

    from vadkit import paths
    from vadkit.data import real_footage as RF
    from vadkit.errors import DatasetError

    cached = paths.data_dir() / "real_footage" / RF.FILES["vtest"]
    home = tmp_path / "home"
    monkeypatch.setenv("VADKIT_HOME", str(home))
    for var in ("VADKIT_DATA", "VADKIT_CACHE", "VADKIT_RESULTS"):
        monkeypatch.delenv(var, raising=False)
    dest = home / "data" / "real_footage"
    dest.mkdir(parents=True)
    try:
        if cached.is_file():
            shutil.copy(cached, dest)
        RF.fetch("vtest", dest, allow_network=False)
    except DatasetError as err:
        pytest.skip(f"vtest.avi unavailable here: {err}")
    return home


def test_injected_demo_banks_the_normal_clips_and_scores_the_edited_ones(footage_home):
    from vadkit.chapters.mllm_evad import MLLMEVADConfig
    from vadkit.errors import ConfigError
    from vadkit.experiment.recipes import mllm_evad as R

    cfg = MLLMEVADConfig.resolve("smoke", real_clip_frames=48, real_width=640, real_normals=2, hog_every=2,
                                 hog_scale=1.2,
                                 flow_width=64, tracker="iou")
    sp = R.injected_splits(cfg)
    assert sp.root == R.injected_root(cfg) and sp.root.is_relative_to(footage_home / "data" / "real_injected")
    assert sp.ann.name == "real_injected" and len(sp.ann) == 2 + 3       # load_dataset("real_injected", root)
    assert sp.bank == ["Normal_vtest_000"]                               # all normal clips but the last
    assert sp.test == sorted(["Normal_vtest_001", "Running_vtest_000", "WrongWay_vtest_000", "Frozen_vtest_000"])
    assert not any(sp.ann[v].is_anomalous for v in sp.bank)
    assert {c for v in sp.test for c in sp.ann[v].classes} == {"running", "wrong_way", "frozen"}
    assert 0.0 <= sp.overlap() <= 1.0
    with pytest.raises(ConfigError, match="real_normals"):
        R.injected_splits(MLLMEVADConfig.resolve("smoke", real_normals=1))

    emb = R.load_embeddings(cfg, "words")
    _MotionDescriber.calls = 0
    demo = R.injected_demo(cfg, _MotionDescriber(), emb, k=1)
    assert _MotionDescriber.calls > 0 and set(demo["units"]) == set(sp.bank + sp.test)
    assert set(demo["scored"].frames) == set(sp.test)
    for vid, s in demo["scored"].frames.items():
        assert len(s) == sp.ann[vid].num_frames == 48
    auc = demo["auc"]
    assert set(auc) == {"all/micro", "all/macro", "running/micro", "wrong_way/micro", "frozen/micro"}
    assert all(0.0 <= v <= 1.0 for v in auc.values())                   # every class has frames on both sides
    top = R.injected_top(demo, emb)
    assert top["video"] in sp.test and top["nearest_nominal"] and 0.0 <= top["inside_segment"] <= 1.0
    assert set(R.injected_table(demo)["method"].str[:9]) == {"MLLM-EVAD", "flow grid"}
    made = _MotionDescriber.calls
    again = R.injected_demo(cfg, _MotionDescriber(), emb, k=1)          # every description from the cache
    assert _MotionDescriber.calls == made and again["auc"] == auc


def test_bench_scores_at_a_frame_stride_cover_every_bench_frame(synth_root, tmp_path, monkeypatch):
    from vadkit.chapters.mllm_evad import MLLMEVADConfig
    from vadkit.data.synth import load_synthvad
    from vadkit.experiment import benchmark
    from vadkit.experiment.recipes import mllm_evad as R

    monkeypatch.setenv("VADKIT_CACHE", str(tmp_path / "cache"))
    ann = load_synthvad(synth_root).split("test")
    bm = benchmark.Benchmark(ann, synth_root, ("fighting", "theft", "running"), ())
    emb = R.load_embeddings(None, "words")
    bank, counts = me.nominal_bank(["A person walks", "A person walks", "A person stands still"], emb)
    scored = R.Scored({}, {}, {}, bank, counts, 1)
    for stride in (1, 2):
        cfg = MLLMEVADConfig.resolve("smoke", bench_stride=stride, tracker="iou")
        _MotionDescriber.calls = 0
        scores, info = R.bench_scores(cfg, bm, _MotionDescriber(), scored, emb, progress=False)
        assert set(scores) == set(ann) and info["stride"] == stride and _MotionDescriber.calls > 0
        for v, s in scores.items():
            assert len(s) == -(-ann[v].num_frames // stride)
        res = benchmark.score(bm, scores, expand="none", stride=stride)
        assert 0.0 <= res["auc_o"] <= 1.0
        assert ("every frame" in R.bench_note(cfg)) == (stride == 1)
    with pytest.raises(R.ConfigError, match="detector='gt'"):
        R.bench_scores(MLLMEVADConfig.resolve("smoke", detector="gt"), bm, _MotionDescriber(), scored, emb)
