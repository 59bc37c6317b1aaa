"""The shared SynthVAD benchmark layer: subsets, conventions, strides, leaderboard entries and the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vadkit.data.annotations import DatasetAnnotations, VideoAnnotation
from vadkit.experiment import benchmark as bm


def _bench() -> bm.Benchmark:
    """Three normal videos, one seen-type (running) and one held-out-type (illegal_turn) video, 64 frames each."""
    ann = DatasetAnnotations("synthvad")
    lab = np.zeros(64, np.uint8)
    lab[20:40] = 1
    for i in range(3):
        ann.add(VideoAnnotation(f"n{i}", split="bench", num_frames=64, frame_labels=np.zeros(64, np.uint8)))
    ann.add(VideoAnnotation("run", split="bench", classes=("running",), num_frames=64, frame_labels=lab.copy()))
    ann.add(VideoAnnotation("turn", split="bench", classes=("illegal_turn",), num_frames=64, frame_labels=lab.copy()))
    return bm.Benchmark(ann, Path("."), seen=("running",), heldout=("illegal_turn",))


def _frame_scores(bench, see_heldout: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for v, a in bench.ann.items():
        s = rng.uniform(0, 0.5, 64)
        if v == "run" or (v == "turn" and see_heldout):
            s = s + 0.6 * a.frame_labels
        out[v] = s
    return out


def test_heldout_types_are_scored_apart_from_seen_ones():
    b = _bench()
    blind = bm.score(b, _frame_scores(b, see_heldout=False), expand="none")
    assert blind["auc_seen"] == 1.0
    assert 0.3 < blind["auc_heldout"] < 0.7                    # chance on the type it never saw
    assert blind["auc_type/running"] == 1.0 and blind["auc_type/illegal_turn"] == blind["auc_heldout"]
    assert blind["auc_seen"] > blind["auc_o"] > blind["auc_heldout"]
    sees = bm.score(b, _frame_scores(b, see_heldout=True), expand="none")
    assert sees["auc_o"] == sees["auc_heldout"] == 1.0 and sees["ap"] == pytest.approx(1.0)


def test_snippet_scores_repeat_and_the_tail_is_held():
    b = _bench()
    # 64 frames = 4 snippets of 16; frames 20-39 are abnormal: snippets 1 and 2 cover them
    snip = {v: (np.array([0.0, 1.0, 1.0, 0.0]) if b.ann[v].is_anomalous else np.zeros(4)) for v in b.ann}
    m = bm.score(b, snip, expand="repeat", snippet_len=16)
    assert 0.9 < m["auc_o"] < 1.0                                # the snippets spill over 12 normal frames
    short = {v: s[:3] for v, s in snip.items()}                   # 48 frames scored: the last score is held
    assert np.isfinite(bm.score(b, short, expand="repeat", snippet_len=16)["auc_o"])


def test_stride_holds_each_score_and_rejects_too_few():
    np.testing.assert_array_equal(bm.hold_stride(np.array([1, 2, 3]), 4, 10), [1, 1, 1, 1, 2, 2, 2, 2, 3, 3])
    with pytest.raises(ValueError, match="cannot cover"):
        bm.hold_stride(np.array([1, 2]), 4, 10)
    b = _bench()
    full = _frame_scores(b, see_heldout=True)
    strided = {v: s[::4] for v, s in full.items()}
    assert bm.score(b, strided, expand="none", stride=4)["auc_o"] > 0.9


def test_every_bench_video_must_be_scored():
    b = _bench()
    s = _frame_scores(b, True)
    s.pop("turn")
    with pytest.raises(ValueError, match="1 of 5 videos have no scores"):
        bm.score(b, s, expand="none")


def test_load_benchmark_is_none_off_synthvad_or_when_switched_off():
    class Cfg:
        dataset, bench = "ubnormal", True

    assert bm.load_benchmark(Cfg()) is None
    Cfg.dataset, Cfg.bench = "synthvad", False
    assert bm.load_benchmark(Cfg()) is None


def test_entries_reach_the_leaderboard_first(vadkit_home):
    from vadkit import registry
    from vadkit.experiment.reporting import headline_entry  # noqa: F401  (the shape the entries share)
    from vadkit.pipeline.pages import leaderboard_markdown

    b = _bench()
    seeds = [bm.score(b, _frame_scores(b, see_heldout=False), expand="none"),
             bm.score(b, _frame_scores(b, see_heldout=True), expand="none")]
    entries = bm.headline_entries("Method A", seeds, profile="smoke", note="every frame")
    assert [e["metric"] for e in entries] == [name for _, name in bm.HEADLINE_METRICS]
    assert all(e["split"] == "bench" and e["dataset"] == "synthvad" and e["seeds"] == 2 for e in entries)
    held = entries[2]
    assert held["value"] == pytest.approx((seeds[0]["auc_heldout"] + 1.0) / 2) and held["std"] > 0
    test_row = {"method": "Method A", "metric": "AUC_O", "value": 0.7, "std": None, "ci": None, "seeds": 1,
                "dataset": "synthvad", "split": "test", "profile": "smoke", "paper": None}
    run = registry.Run("11_x", {"profile": "smoke"}, data="d", models="m")
    run.set("headline", [test_row, *entries])
    run.finish("ok")
    md = leaderboard_markdown("smoke")
    assert md.index("## The shared benchmark: SynthVAD, split `bench`") < md.index("## SynthVAD, split `test`")
    row = next(line for line in md.splitlines() if "AUC_O (held-out types)" in line)
    assert "every frame" in row and f"{100 * held['value']:.2f} ± {100 * held['std']:.2f}" in row
    table = bm.bench_table({"Method A": seeds})
    assert table.loc["Method A", "seeds"] == 2 and "AUC illegal_turn" in table.columns
