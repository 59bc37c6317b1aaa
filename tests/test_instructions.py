"""The generic instruction mix (vadkit.models.instructions) and the zoo's instruction-following tiny LLM."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from vadkit.data.annotations import Segment, VideoAnnotation
from vadkit.models import instructions as ins


def _ann(segments=(), n=150, fps=15.0):
    caps = {0: "Two people walk along the walkway.", 45: "A person falls down on the walkway.",
            75: "A person lies on the ground.", 105: "Two people walk along the walkway."}
    return VideoAnnotation("v", num_frames=n, fps=fps, segments=list(segments), captions=caps,
                           classes=("falling",) if segments else ())


def test_window_truth_share_interval_and_frames():
    a = _ann([Segment(45, 89, "falling", end_inclusive=True)])
    t = ins.window_truth(a, 30, 90, 15.0)
    assert t["share"] == pytest.approx(45 / 60) and t["frames"] == (45, 89) and t["label"] == "falling"
    assert t["interval"] == (3.0, 6.0)  # frames 45..89 at 15 fps, half-open end in seconds
    assert ins.window_truth(a, 90, 150, 15.0) == {"share": 0.0, "interval": None, "frames": None,
                                                  "label": "normal"}
    assert ins.answer("when", t) == "From 3.0 s to 6.0 s." and ins.answer("rate", t) == "0.8"
    assert ins.answer("yes_no", ins.window_truth(a, 90, 150, 15.0)) == "No."


def test_timed_captions_lines_and_cap():
    a = _ann([Segment(45, 89, "falling", end_inclusive=True)])
    text, frames = ins.timed_captions(a, 30, 120, 15.0)
    assert frames == [30, 45, 75, 105]
    assert text.splitlines()[1] == "[3.0 s] A person falls down on the walkway."
    many = VideoAnnotation("w", num_frames=300, fps=15.0, segments=[Segment(200, 230, "running")],
                           captions={f: f"caption {f}" for f in range(0, 300, 10)}, classes=("running",))
    text, frames = ins.timed_captions(many, 0, 300, 15.0)
    assert len(frames) == ins.MAX_LINES and 200 in frames  # the anomaly onset survives the cap


def test_training_mix_never_uses_the_held_out_template():
    a = _ann([Segment(45, 89, "falling", end_inclusive=True)])
    rng = random.Random(0)
    ex = ins.window_examples(a, rng, n_windows=20, window_s=(3.0, 6.0))
    ex += ins.phrase_examples({"falling": ["a person falls", "someone lies down", "a fall"]}, rng, per_label=20)
    assert {e.task for e in ex} == set(ins.TASKS)
    assert all(e.template < len(ins.TEMPLATES[e.task]) - 1 for e in ex)
    held = ins.window_examples(a, rng, n_windows=2, window_s=(3.0, 6.0), templates="held_out")
    assert all(e.template == len(ins.TEMPLATES[e.task]) - 1 for e in held)
    # half the windows of an abnormal video cover its anomaly
    assert sum(e.truth["interval"] is not None for e in ex if e.task == "rate") >= 10
    with pytest.raises(ValueError, match="templates"):
        ins.window_examples(a, rng, n_windows=1, window_s=(3.0, 6.0), templates="all")


def test_score_answers_perfect_and_wrong():
    rng = random.Random(1)
    ex = []
    for segs in ([Segment(45, 89, "falling", end_inclusive=True)], []):
        ex += ins.window_examples(_ann(segs), rng, n_windows=4, window_s=(3.0, 6.0), templates="seen")
    ex += ins.phrase_examples({"falling": ["a person falls", "someone lies down", "a fall"]}, rng, per_label=3,
                              templates="seen")
    perfect = ins.score_answers(ex, [e.target for e in ex])
    assert perfect["rate_auc"] == 1.0 and perfect["yes_no_accuracy"] == 1.0 and perfect["when_mean_iou"] == 1.0
    assert perfect["when_normal_says_none"] == 1.0 and perfect["phrases_parse_rate"] == 1.0
    assert perfect["summarise_bleu4"] > 0.99
    wrong = ins.score_answers(ex, ["I cannot tell." for _ in ex])
    assert wrong["rate_parse_rate"] == 0.0 and wrong["rate_auc"] == 0.5 and wrong["yes_no_accuracy"] == 0.0
    assert 0.5 <= wrong["yes_no_majority"] <= 1.0


def test_tiny_instruct_trains_and_loads_through_the_hf_loader(tmp_path_factory, tmp_path, monkeypatch):
    synth = pytest.importorskip("vadkit.data.synth")
    from vadkit.models import GenerationConfig, load_llm, zoo

    monkeypatch.setenv("VADKIT_CACHE", str(tmp_path / "cache"))
    root = synth.generate(tmp_path_factory.mktemp("synth") / "root", {"train": 4, "test": 2}, seed=3,
                          config=synth.SynthConfig(min_frames=48, max_frames=64), progress=False)
    cfg = zoo.InstructTrainConfig(lm=zoo.LMTrainConfig(vocab_size=500, hidden=32, layers=1, heads=2,
                                                       intermediate=64, max_len=256, steps=2, batch_size=2),
                                  windows_per_video=1, phrases_per_label=1, pretrain=False)
    d = zoo.train_or_load("tiny-instruct", root=root, config=cfg, progress=False)
    m = json.loads((d / "zoo.json").read_text())["metrics"]
    assert {"rate_auc", "yes_no_accuracy", "held_out_yes_no_accuracy", "untrained_yes_no_accuracy",
            "when_mean_iou", "summarise_bleu4", "phrases_parse_rate"} <= set(m)
    out = load_llm(str(d)).generate([ins.TEMPLATES["yes_no"][-1].format(captions="[0.0 s] A car drives.")],
                                    GenerationConfig(max_new_tokens=3))
    assert len(out) == 1 and isinstance(out[0], str)
    assert np.isfinite(m["final_train_loss"])
