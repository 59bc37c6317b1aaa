"""SynthVAD: the procedural surveillance dataset every chapter uses in the smoke profile.

Like UBnormal (a synthetic benchmark with open-set splits), SynthVAD renders a fixed-camera world in
which normal and anomalous behaviour is scripted, so every level of ground truth is exact and every
sentence of text is true. Same seed and arguments -> byte-identical annotations and identical frames.

World
-----
* 4 scenes (``street``, ``plaza``, ``park``, ``campus``): textured grass / pavement / asphalt with
  noise, walkways, a two-lane road with markings, a bike lane, a bench area and a restricted zone
  (construction site, fountain enclosure, fenced pond, restricted lawn). Fixed camera.
* Agents drawn as shaded, textured sprites: person (head, hair, torso, arms, legs, shoes; walk/run
  leg swing; clothing colours), car (body, cabin, windows, wheels, head/tail lights; side view for
  east/west, rear/front view for north/south), bicycle (two wheels, frame, pedalling rider).
  Per-video colour tint, slow illumination drift and per-frame sensor noise.
* Normal: people walk the walkways (0.55-0.9 px/frame) or sit on the bench; cars drive in their
  lane's direction (2.2-3.4 px/frame); bicycles ride the bike lane (1.3-1.9 px/frame). Since generator
  2.0 also the look-alikes of the anomalies' single-frame signatures (``SynthConfig.bend_prob``,
  ``together_prob``, ``parked_prob``, ``bag_prob``): walkers who stop and bend down for 1-2 s, pairs
  walking side by side, cars parked in the scene's parking bays, walkers carrying a bag.
* Single-frame signatures (generator 2.0): every anomaly type whose real counterpart shows in one frame
  shows in one frame here too, as a shape or pose: a runner leans forward in a long stride with bent
  arms pumping, fighters face each other with fists raised above the shoulders, the snatched bag
  changes hands (and the victim throws up both arms), collided cars stand askew (12-25 degrees) with
  the hit end crushed, a faller lies on the ground. Wrong-way driving and loitering are defined by
  motion and need time.
* Anomalies (``ANOMALY_TYPES``), single-object: ``running``, ``wrong_way`` (car or bicycle against
  its lane), ``car_on_walkway``, ``falling`` (falls, lies, gets up), ``loitering`` (paces back and
  forth on one spot); interaction: ``fighting`` (two people, jittering contact, punches),
  ``collision`` (rear-end of two cars, or a car hitting a jaywalking person; vehicles stop, debris),
  ``theft`` (a thief comes up behind a person, snatches the bag, runs away). Normal videos have class
  ``normal``. An abnormal video holds 1 event, sometimes 2 of different types (XD-style multi-label),
  separated in time, inside an otherwise normal video.
* Context-defined traffic types (``CONTEXT_TYPES``, TAD's spirit, generated only when a request names
  them): ``illegal_occupation`` (a car stops in its lane and stays: anomalous after 3 s of standing),
  ``pedestrian_on_road`` (a person walks along the lane: anomalous after the 2 s a crossing takes),
  ``illegal_turn`` (a U-turn across the road). Their normal hard negatives (``SynthConfig.stop_rate``,
  ``crossing_rate``: cars that stop for 1-2.5 s, people crossing at a right angle) are off by default.
  ``LONG_CONFIG`` gives long videos (600-900 frames) with the hard negatives on, for a chapter's own
  split; ``benchmark_dataset()`` is the shared benchmark every method chapter also scores (all eleven
  types, the context types held out from every training split).

Defaults: 160x120 (W x H) at 15 fps, 160-320 frames per video (:class:`SynthConfig`). The shared
smoke dataset (:func:`smoke_dataset`) uses train 160 (half abnormal) / val 40 / test 60 videos of
160-240 frames.

Speed and size: ``python benchmarks/synth_disk.py`` prints both for the smoke set and the pretraining
corpus. Since generator 1.2 masks and instance maps are stored compressed (``.npz``), so the videos
dominate the disk use; generator 1.1 stored uint8 ``.npy`` masks (the smoke set was 617 MB, 475 MB of it
masks; the pretraining corpus 2.6 GB).

Versions: 1.2 keeps 1.1's frames, masks, boxes and text byte for byte (same plan, same random streams)
and adds the instance maps, the ``act`` column and the activity ground truth. 2.0 changes the frames
(poses, collision damage, the look-alikes and their ``act`` values ``bend``, ``walk_together``,
``park``, the parking bays in the background). A root of another version is never reused (the version
is part of the request hash that names cached roots, and ``generate`` refuses a directory holding one).

Example::

    from vadkit.data.synth import generate, load_synthvad, smoke_dataset
    root = smoke_dataset()                       # cached, shared by all chapters
    test = load_synthvad(root, "test")           # DatasetAnnotations
    open_set = generate("/tmp/synth-os", {"train": 40, "test": 20}, seed=1,
                        anomaly_types={"train": ["running", "falling", "theft"],
                                       "test": ["fighting", "wrong_way", "loitering"]})

On-disk layout
--------------
All frame indices are 0-based; all segment ends are INCLUSIVE (the last anomalous frame)::

    <root>/
      synthvad.json                    # generator_version, request_hash, seed, config (SynthConfig), splits,
                                       # anomaly_types per split, class_names, fps, width, height,
                                       # videos: {id: {split, scene, num_frames, classes, segments
                                       # [[s, e, type]], agents {track_id: {object_class, role, event,
                                       # attributes}}}}, files: {relative path: sha256} (all other files)
      videos/<video_id>.mp4            # mp4v (OpenCV), RGB content; id "Fighting_0003", "Normal_0012"
                                       # (UCF style: CamelCase primary class + per-class counter)
      splits/{train,val,test}.txt      # UCF-style lines "<class>/<video_id>.mp4", class = primary type
                                       # (snake_case, e.g. "wrong_way/WrongWay_0002.mp4"; "normal/Normal_0001.mp4")
      Temporal_Anomaly_Annotation.txt  # val+test videos, UCF format "id  class  s1  e1  s2  e2  " (two
                                       # spaces, trailing spaces, -1 = none; normal: "id  Normal  -1  -1  -1  -1  ")
      annotations_multiclasses.txt     # abnormal val+test videos, XD format "id type s1 e1 type s2 e2"
      test_frame_mask/<video_id>.npy   # uint8 [T] 0/1, every video of every split (ShanghaiTech format)
      test_pixel_mask/<video_id>.npz   # compressed, one array "mask": uint8 [T, H, W] 0/1 amodal
                                       # silhouettes of the anomalous agents (abnormal videos only)
      instance_mask/<video_id>.npz     # compressed, one array "ids": uint16 [T, H, W] modal object-id map
                                       # (track id of the agent seen at each pixel, 0 = background), every
                                       # agent of every video; the UBnormal layout writes its per-frame
                                       # "<video>_<frame>_gt.png" object maps from it
      tracks/<video_id>_tracks.txt     # UBnormal "object_id,start_frame,end_frame" per anomalous agent
                                       # (first/last anomalous frame; abnormal videos only)
      rbdc/<video_id>_gt.txt           # "track_id,frame,x1,y1,x2,y2" boxes of anomalous agents in their
                                       # anomalous frames (RBDC/TBDC ground truth; abnormal videos only)
      objects/<video_id>.csv           # header + "track_id,frame,x1,y1,x2,y2,object_class,anomalous,label"
                                       # (+ ",act") for ALL agents in every frame they are visible;
                                       # object_class in person/car/bicycle/debris; anomalous 0/1;
                                       # label = type or "normal"; act = the agent's action ("walk", ...)
      text/<video_id>.json             # {"captions": [[start, end_inclusive, sentence], ...] covering all
                                       # frames, "explanation": str, "target_sentences": [...],
                                       # "trajectory_sentences": [...], "qa": [[question, "Yes"|"No"], ...]}
      activity/<video_id>.json         # activity text of every agent and interacting pair per 1-s window,
                                       # target + trajectory sentences of every agent, multi-turn dialogue
                                       # (schema: vadkit.data.synth.loader.load_activity)

Boxes are pixel edges: ``x2``/``y2`` are one past the last pixel (a mask pixel ``(x, y)`` of the
agent satisfies ``x1 <= x < x2``). Frame labels equal the union of the segments (inclusive) and are 1
exactly where the pixel mask is non-empty.

Python API
----------
``generate(out_dir, splits, *, seed, config, anomaly_types, progress, workers)`` writes a root;
``smoke_dataset(seed)`` returns the cached shared one; ``load_synthvad(root, split)`` returns
:class:`~vadkit.data.annotations.DatasetAnnotations`; ``load_objects(root, video_id)`` a DataFrame.
Open-set splits: ``generate(..., anomaly_types={"train": [...], "test": [...]})``.
"""

from vadkit.data.synth.builder import (BENCH_SPLITS, LONG_CONFIG, LONG_SPLITS, LONG_TYPES_LIST, SMOKE_CONFIG,
                                      SMOKE_SPLITS, benchmark_dataset, generate, long_dataset, plan_videos,
                                      pretrain_dataset, smoke_dataset)
from vadkit.data.synth.loader import (activity_text, load_activity, load_objects, load_synthvad, read_activity,
                                     read_manifest)
from vadkit.data.synth.world import (
    ALL_ANOMALY_TYPES,
    ANOMALY_TYPES,
    CLASS_NAMES,
    CONTEXT_TYPES,
    GENERATOR_VERSION,
    INTERACTION_TYPES,
    OBJECT_CLASSES,
    SCENE_NAMES,
    SINGLE_OBJECT_TYPES,
    SynthConfig,
)

__all__ = [
    "ALL_ANOMALY_TYPES", "ANOMALY_TYPES", "BENCH_SPLITS", "CLASS_NAMES", "CONTEXT_TYPES", "GENERATOR_VERSION",
    "INTERACTION_TYPES", "LONG_CONFIG", "LONG_SPLITS", "LONG_TYPES_LIST", "OBJECT_CLASSES", "SCENE_NAMES", "SINGLE_OBJECT_TYPES",
    "SMOKE_CONFIG", "SMOKE_SPLITS", "SynthConfig", "activity_text", "benchmark_dataset", "generate",
    "load_activity", "load_objects", "load_synthvad", "long_dataset", "plan_videos", "pretrain_dataset", "read_activity",
    "read_manifest", "render_video", "smoke_dataset",
]


def render_video(video_id: str, root=None, *, seed: int = 0, config: SynthConfig | None = None,
                 splits: dict[str, int] | None = None, anomaly_types=None):
    """Re-render one planned video in memory (no files): ``(frames [T, H, W, 3] uint8, mask [T, H, W])``.

    Uses the same plan as :func:`generate` with these arguments, so it reproduces the video's frames.
    If ``root`` is given, its ``synthvad.json`` supplies seed, config, splits and anomaly types.
    """
    from vadkit.data.synth.builder import SMOKE_SPLITS as _S, simulate_video

    if root is not None:
        meta = read_manifest(root)
        seed, config, splits = meta["seed"], SynthConfig.from_dict(meta["config"]), meta["splits"]
        anomaly_types = meta["anomaly_types"]
    config = config or SynthConfig()
    plan = {it["video_id"]: it for it in plan_videos(dict(splits or _S), seed, config, anomaly_types)}
    if video_id not in plan:
        from vadkit.errors import DatasetError

        raise DatasetError(f"SynthVAD: no video {video_id!r} in this plan")
    rend, *_ = simulate_video(plan[video_id], seed, config)
    return rend.frames, rend.mask
