"""Ex-VAD AEGM / LAAM orchestration with stand-in models: caption cleaning, caching, strict phrase parsing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadkit.data.annotations import DatasetAnnotations, VideoAnnotation


class _Clip:
    name = "fake-clip"

    def encode_images(self, frames):
        # the mean colour decides the embedding: red frames -> e0, blue frames -> e1
        f = np.asarray(frames, dtype=np.float32).mean(axis=(1, 2))
        return torch.nn.functional.normalize(torch.tensor(f[:, [0, 2, 1]]), dim=-1)

    def encode_texts(self, texts):
        v = [[1.0 if "red" in t else 0.0, 1.0 if "blue" in t else 0.0, 0.1] for t in texts]
        return torch.nn.functional.normalize(torch.tensor(v), dim=-1)


class _Captioner:
    name = "fake-captioner"

    def __init__(self):
        self.calls = 0

    def caption(self, frames, prompt=None):
        self.calls += 1
        # a deliberately wrong caption for the second frame: cleaning must replace it
        return ["a red scene" if i != 1 else "a blue scene" for i in range(len(frames))]


class _LLM:
    name = "fake-llm"

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, config=None):
        self.calls += len(prompts)
        out = []
        for p in prompts:
            if "phrases" in p:
                out.append("\n".join(f"{i + 1}. phrase {i} about {p.split(chr(39))[1]}" for i in range(5)))
            else:
                out.append("EXPLANATION: " + p.splitlines()[1])
        return out


@pytest.fixture()
def video(tmp_path):
    from vadkit.data.video import write_video

    frames = np.zeros((40, 32, 32, 3), dtype=np.uint8)
    frames[..., 0] = 200                                            # all red
    path = write_video(tmp_path / "v.mp4", frames, fps=10)
    ann = DatasetAnnotations("t", {"v": VideoAnnotation("v", num_frames=40, video_path=path)})
    return ann


def test_generate_explanations_cleans_and_caches(video, tmp_path):
    from vadkit.methods.ex_vad import encode_explanations, encode_snippet_captions, generate_explanations

    cap, llm = _Captioner(), _LLM()
    recs, errs = generate_explanations(video, cap, _Clip(), llm, tmp_path / "cache", n_frames=4)
    assert not errs
    r = recs["v"]
    assert r["captions"][1] == "a blue scene" and set(r["cleaned"]) == {"a red scene"}
    assert r["explanation"].startswith("EXPLANATION") and "a red scene" in r["prompt"]
    recs2, _ = generate_explanations(video, cap, _Clip(), llm, tmp_path / "cache", n_frames=4)
    assert cap.calls == 1 and llm.calls == 1 and recs2["v"]["explanation"] == r["explanation"]
    assert encode_explanations(_Clip(), recs)["v"].shape == (3,)
    snip = encode_snippet_captions(_Clip(), recs, {"v": 3})
    assert snip["v"].shape == (3, 3)


def test_missing_video_is_recorded(tmp_path):
    from vadkit.methods.ex_vad import generate_explanations

    ann = DatasetAnnotations("t", {"x": VideoAnnotation("x", num_frames=10, video_path=None)})
    recs, errs = generate_explanations(ann, _Captioner(), _Clip(), _LLM(), tmp_path, n_frames=2)
    assert not recs and "x" in errs


def test_label_phrases_and_laam(tmp_path):
    from vadkit.methods.ex_vad import label_phrases, laam_embeddings

    phrases, errs = label_phrases(_LLM(), ["normal", "fighting"], 5, tmp_path)
    assert not errs and len(phrases["fighting"]) == 5
    emb, kept = laam_embeddings(_Clip(), ["normal", "fighting"], phrases, k=2)
    assert emb.shape == (2, 3) and all(len(v) == 2 for v in kept.values())
    _, errs = label_phrases(_LLM(), ["normal"], 9, tmp_path / "b")   # asks for 9, gets 5: a parse error
    assert "normal" in errs
