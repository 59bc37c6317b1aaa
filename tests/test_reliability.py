"""Reliability defects found by trying vadkit as a new user would (issue 10): each test failed before its fix.

Defects of other modules have their tests beside that module's (``test_features.py``, ``test_models.py``,
``test_metrics_*.py``, ``test_pipeline.py``); this file holds the cross-cutting ones: file modes, CLI
validation and exit codes, dataset verification, corrupt weight files, offline fetching.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from vadkit.errors import ModelNotFoundError, VadkitError


# ------------------------------------------------------------------------------------ file modes (umask)
@pytest.fixture
def umask():
    old = os.umask(0o022)
    try:
        yield lambda m: os.umask(m)
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_atomic_writes_honour_the_umask(tmp_path, umask):
    from vadkit.io_utils import atomic_save_npy, atomic_write_json, atomic_write_text, make_temp_dir

    umask(0o022)
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_save_npy(tmp_path / "a.npy", np.zeros(3))
    assert _mode(tmp_path / "a.json") == 0o644 and _mode(tmp_path / "a.npy") == 0o644
    umask(0o002)
    atomic_write_text(tmp_path / "b.txt", "hi")
    assert _mode(tmp_path / "b.txt") == 0o664
    assert _mode(make_temp_dir(".d.", tmp_path)) == 0o775
    # replacing a file keeps its mode, as open(path, "w") does
    os.chmod(tmp_path / "a.json", 0o600)
    atomic_write_json(tmp_path / "a.json", {"x": 2})
    assert _mode(tmp_path / "a.json") == 0o600


# ------------------------------------------------------------------------------------ shared fixtures
@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory) -> Path:
    """A random tiny open_clip ViT saved in open_clip's local layout (loaded by name like any model dir)."""
    import torch

    from vadkit.models.zoo import ClipTrainConfig, _new_clip

    torch.manual_seed(0)
    clip = _new_clip(ClipTrainConfig(tower="vit", image_size=32, vision_width=64, vision_layers=1, text_layers=1))
    return clip.save_pretrained(tmp_path_factory.mktemp("tiny-clip") / "tiny-clip")


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    """A handful of very short SynthVAD videos (the fixture is copied before a test damages it)."""
    from vadkit.data.synth import SynthConfig, generate

    return generate(tmp_path_factory.mktemp("synth") / "root", {"train": 3, "test": 3}, seed=0,
                    config=SynthConfig(min_frames=32, max_frames=48), progress=False, workers=1)


def _copy(root: Path, dst: Path) -> Path:
    import shutil

    return Path(shutil.copytree(root, dst))


def _cli(argv, capsys) -> tuple[int, str, str]:
    from vadkit.cli import main

    try:
        rc = main([str(a) for a in argv])
    except SystemExit as ex:
        rc = ex.code
    out = capsys.readouterr()
    return rc, out.out, out.err


# ------------------------------------------------------------------------------------ CLI values (exit 2)
BAD_ARGS = [
    (["data", "synth", "--out", "{tmp}/s", "--videos", "0"], "--videos: must be an integer >= 1"),
    (["data", "synth", "--out", "{tmp}/s", "--videos", "many"], "--videos: must be an integer >= 1, got 'many'"),
    (["data", "synth", "--out", "{tmp}/s", "--videos", "3", "--frames", "60", "30"], "--frames"),
    (["data", "synth", "--out", "{tmp}/s", "--videos", "3", "--seed", "-1"], "--seed: must be an integer >= 0"),
    (["data", "verify", "synthvad", "--root", "{tmp}", "--limit", "-1"], "--limit"),
    (["data", "inject", "--out", "{tmp}/i", "--width", "0"], "--width"),
    (["features", "extract", "--shard", "3/2"], "--shard: must be i/n with 0 <= i < n"),
    (["features", "extract", "--shard", "1-2"], "--shard: must look like i/n"),
    (["features", "extract", "--batch-size", "0"], "--batch-size: must be an integer >= 1"),
    (["features", "extract", "--frames-per-snippet", "0"], "--frames-per-snippet: must be an integer >= 1"),
    (["features", "extract", "--frames-per-snippet", "17"], "--frames-per-snippet: must be <= --snippet-len (16)"),
    (["features", "extract", "--snippet-len", "0"], "--snippet-len"),
    (["features", "extract", "--layers", "5,x"], "--layers: must be comma-separated integers"),
    (["features", "extract", "--prefetch", "-1"], "--prefetch"),
    (["features", "compare", "{tmp}", "{tmp}", "--crop", "-2"], "--crop"),
    (["zoo", "train", "tiny-nope"], "unknown zoo entry 'tiny-nope'"),
    (["run", "00_quickstart", "--timeout", "0"], "--timeout"),
    (["run", "no_such_chapter"], "no chapter notebook matches"),
    (["run", "00_quickstart", "-p", "no_such_parameter", "1"], "no parameter(s) ['no_such_parameter']"),
    (["book", "--only", "no_such_chapter"], "--only"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGS, ids=[" ".join(a[:2]) + " " + m.split(":")[0] for a, m in BAD_ARGS])
def test_invalid_cli_values_exit_2_before_any_work(argv, message, tmp_path, capsys, vadkit_home):
    rc, out, err = _cli([a.format(tmp=tmp_path) for a in argv], capsys)
    assert rc == 2, (out, err)
    assert message in err and "Traceback" not in err
    assert not vadkit_home.exists()                       # nothing was generated, trained or cached


def test_help_documents_progress_and_exit_codes(capsys):
    for argv in (["data", "verify", "-h"], ["features", "extract", "-h"], ["data", "synth", "-h"]):
        rc, out, _ = _cli(argv, capsys)
        assert rc == 0 and "exit codes: 0" in out and "2 bad arguments" in out, argv
    assert "progress bar" in _cli(["features", "extract", "-h"], capsys)[1]
    assert "progress bar" in _cli(["data", "synth", "-h"], capsys)[1]


# ------------------------------------------------------------------------------------ features extract exit codes
def _ucf_tree(synth_root: Path, dst: Path) -> tuple[Path, list[str]]:
    """A tiny tree in UCF-Crime's layout (temporal annotation file + videos in class folders), SynthVAD pixels."""
    import shutil

    src = sorted((synth_root / "videos").glob("*.mp4"))[:4]
    names = ["Abuse001_x264", "Abuse002_x264", "Normal_Videos_001_x264", "Normal_Videos_002_x264"]
    lines = []
    for s, n in zip(src, names):
        folder = dst / ("Testing_Normal_Videos_Anomaly" if n.startswith("Normal") else "Abuse")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(s, folder / f"{n}.mp4")
        cls, seg = ("Normal", "-1  -1") if n.startswith("Normal") else ("Abuse", "4  20")
        lines.append(f"{n}.mp4  {cls}  {seg}  -1  -1  ")
    (dst / "Temporal_Anomaly_Annotation.txt").write_text("\n".join(lines) + "\n")
    return dst, names


def test_features_extract_exits_1_after_finishing_the_others(synth_root, tiny_clip_dir, tmp_path, capsys):
    import shutil

    from vadkit.features import FeatureStore

    root, names = _ucf_tree(synth_root, tmp_path / "ucf")
    missing, broken = root / "Abuse" / f"{names[0]}.mp4", root / "Abuse" / f"{names[1]}.mp4"
    keep = tmp_path / "keep"
    keep.mkdir()
    shutil.move(missing, keep / missing.name)             # a video not downloaded yet: recorded, the batch goes on
    shutil.copy(broken, keep / broken.name)
    broken.write_bytes(b"\x00" * 64)                     # a corrupt one, likewise
    argv = ["features", "extract", "--dataset", "ucf_crime", "--root", root, "--split", "test",
            "--clip", tiny_clip_dir, "--cache-root", tmp_path / "c", "--no-progress"]
    rc, out, err = _cli(argv, capsys)
    assert rc == 1, (out, err)
    assert f"failed {names[0]}" in err and "video file not found" in err and f"failed {names[1]}" in err
    assert "2 of 4 videos have features, 2 failed" in out
    store = FeatureStore(next((tmp_path / "c").iterdir()))
    assert sorted(store.video_ids) == sorted(names[2:])
    # the videos arrive: the rerun does only the two that failed and exits 0, in the same store
    shutil.copy(keep / missing.name, missing)
    shutil.copy(keep / broken.name, broken)
    rc, out, _ = _cli(argv, capsys)
    assert rc == 0 and "4 of 4 videos have features, 0 failed" in out
    assert [p.name for p in (tmp_path / "c").iterdir()] == [store.root.name]


# ------------------------------------------------------------------------------------ data verify
def test_verify_rejects_empty_annotation_files(synth_root, tmp_path, capsys):
    root = _copy(synth_root, tmp_path / "root")
    rc, out, _ = _cli(["data", "verify", "synthvad", "--root", root, "--no-probe"], capsys)
    assert rc == 0 and ": OK" in out
    (root / "Temporal_Anomaly_Annotation.txt").write_text("")
    (root / "splits" / "test.txt").write_text("\n  \n")
    rc, out, _ = _cli(["data", "verify", "synthvad", "--root", root, "--no-probe"], capsys)
    assert rc == 1 and "PROBLEMS FOUND" in out
    assert "Temporal_Anomaly_Annotation.txt: empty file (0 bytes)" in out
    assert "splits/test.txt: holds only whitespace" in out
    # an empty file is fine only where the dataset's own checksum record says it is empty (SynthVAD without
    # abnormal val/test videos writes an empty XD-layout list)
    import hashlib

    from vadkit.data.datasets import empty_annotation_problem

    e = tmp_path / "e.txt"
    e.write_text("")
    assert empty_annotation_problem(e, hashlib.sha256(b"").hexdigest()) is None
    assert "empty file" in empty_annotation_problem(e, "0" * 64)


def test_verify_reports_a_malformed_annotation_file(synth_root, tmp_path):
    """A file the parser rejects is a problem naming file and line (before: a note, and the report said OK
    whenever nothing else was wrong)."""
    from vadkit.data.datasets import verify_dataset

    root, _ = _ucf_tree(synth_root, tmp_path / "ucf")
    f = root / "Temporal_Anomaly_Annotation.txt"
    f.write_text(f.read_text() + "Abuse009_x264.mp4  Abuse  9  5  -1  -1  \n")
    report = verify_dataset("ucf_crime", root, probe_videos=False)
    assert [p for p in report.bad_annotations if f"{f}:5" in p.message and "end 5 < start 9" in p.message]
    assert "annotation files empty or unreadable (1)" in report.format()


# ------------------------------------------------------------------------------------ corrupt weight files
def _truncate(f: Path, keep: float = 0.5) -> None:
    data = f.read_bytes()
    f.write_bytes(data[: int(len(data) * keep)])


def test_check_safetensors_names_the_file_and_the_problem(tmp_path):
    import torch
    from safetensors.torch import save_file

    from vadkit.models.weights import CorruptWeightsError, check_safetensors

    f = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(64, 64), "b": torch.ones(8)}, str(f))
    check_safetensors(f)                                     # a good file passes
    good = f.read_bytes()
    for data, problem in [(good[: len(good) // 2], "truncated safetensors file"),
                          (good[:5], "shorter than the 8-byte header"),
                          (b"<html>404 Not Found</html>" * 3, "header length field"),
                          (good[:8] + b"{not json" + good[17:], "header is not valid"),
                          (good + b"\0" * 10, "10 bytes after the last tensor")]:
        f.write_bytes(data)
        with pytest.raises(CorruptWeightsError, match=problem) as err:
            check_safetensors(f)
        assert str(f) in str(err.value)
        assert isinstance(err.value, ModelNotFoundError) and isinstance(err.value, VadkitError)


def test_corrupt_clip_weights_name_the_file(tiny_clip_dir, tmp_path):
    from vadkit.models import load_clip

    d = _copy(tiny_clip_dir, tmp_path / "clip")
    _truncate(d / "open_clip_model.safetensors")
    with pytest.raises(ModelNotFoundError, match=r"open_clip_model\.safetensors: truncated safetensors file"):
        load_clip(str(d))


def test_corrupt_hf_weights_name_the_file(tmp_path):
    """The LLM / VLM / captioner loaders (from_pretrained) and a LoRA adapter: the same clear error."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from vadkit.models.llm import load_hf_llm
    from vadkit.models.vlm import load_image_text_model

    torch.manual_seed(0)
    d = tmp_path / "llm"
    LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=2)).save_pretrained(d)
    _truncate(d / "model.safetensors")
    with pytest.raises(ModelNotFoundError, match=r"model\.safetensors: truncated safetensors file"):
        load_hf_llm(d)
    with pytest.raises(ModelNotFoundError, match=r"model\.safetensors: truncated"):
        load_image_text_model(str(d))


def test_corrupt_prefix_captioner_weights_name_the_file(tmp_path):
    import torch
    from safetensors.torch import save_file

    from vadkit.models.captioner import PREFIX_CAPTIONER_FILE, load_prefix_captioner

    d = tmp_path / "cap"
    d.mkdir()
    (d / PREFIX_CAPTIONER_FILE).write_text('{"class": "PrefixCaptioner", "prefix": {}, "grid_layer": 0}')
    save_file({"w": torch.zeros(32, 32)}, str(d / "prefix.safetensors"))
    _truncate(d / "prefix.safetensors", 0.3)
    with pytest.raises(ModelNotFoundError, match=r"prefix\.safetensors: truncated safetensors file"):
        load_prefix_captioner(d)


# ------------------------------------------------------------------------------------ offline means offline
@pytest.fixture
def no_network_calls(monkeypatch):
    """Any subprocess or URL opened by the code under test fails the test (and records what was tried)."""
    import subprocess
    import urllib.request

    tried = []

    def refuse(what):
        def f(*args, **kwargs):
            tried.append((what, args[0] if args else kwargs))
            raise AssertionError(f"{what} called while offline: {args[:1]}")
        return f

    monkeypatch.setattr(subprocess, "run", refuse("subprocess.run"))
    monkeypatch.setattr(subprocess, "Popen", refuse("subprocess.Popen"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))
    return tried


def test_fetch_offline_runs_no_apt_get_and_opens_no_url(no_network_calls, tmp_path, monkeypatch, capsys):
    from vadkit.data import real_footage as RF
    from vadkit.errors import DatasetError

    monkeypatch.setattr(RF, "_VTEST_INSTALLED", tmp_path / "not-installed" / "vtest.avi")
    for kwargs in ({}, {"allow_network": False}):          # offline is also the library default (chapters)
        with pytest.raises(DatasetError, match=r"vadkit data fetch vtest") as err:
            RF.fetch("vtest", tmp_path / "d", **kwargs)
        assert "apt-get download" not in str(err.value).split("\n")[1]   # no apt source was even listed
    rc, _, err = _cli(["data", "fetch", "vtest", "--offline", "--dest", tmp_path / "d"], capsys)
    assert rc == 1 and "could not fetch vtest.avi" in err
    assert no_network_calls == []


def test_quickstart_chapter_asks_for_footage_offline():
    """Chapter 00 reads the footage with the library's offline default (no web fallback)."""
    import inspect
    import json

    from vadkit.data import real_footage as RF

    assert inspect.signature(RF.fetch).parameters["allow_network"].default is False
    assert inspect.signature(RF.injected_anomaly_set).parameters["allow_network"].default is False
    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "00_quickstart.ipynb").read_text())
    calls = [ln for c in nb["cells"] for ln in "".join(c["source"]).splitlines() if "real_footage.fetch(" in ln]
    assert calls and not any("allow_network=True" in ln for ln in calls)


# ------------------------------------------------------------------------------------ scale-out under torchrun
@pytest.mark.slow
def test_torchrun_two_ranks_equal_one_process(synth_root, tiny_clip_dir, tmp_path, capsys):
    """Issue 9: ``torchrun --nproc_per_node 2`` (gloo, CPU) over a small SynthVAD tree: the ranks take disjoint
    shards (RANK/WORLD_SIZE), both write into the same store, and together they equal a single-process run."""
    import json
    import subprocess
    import sys

    from vadkit.features import FeatureStore

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    args = ["features", "extract", "--root", str(synth_root), "--clip", str(tiny_clip_dir), "--batch-size", "8",
            "--no-progress"]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "vadkit.cli", *args, "--cache-root", str(tmp_path / "ranks")],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(shard 0/2) have features" in proc.stdout and "(shard 1/2) have features" in proc.stdout
    assert "all 2 ranks finished: 6 videos" in proc.stdout

    rc, out, _ = _cli([*args, "--cache-root", tmp_path / "single"], capsys)
    assert rc == 0 and "6 of 6 videos have features" in out
    (ranked,), (single,) = (list((tmp_path / d).iterdir()) for d in ("ranks", "single"))
    assert ranked.name == single.name                     # the same key: same dataset, model, settings
    a, b = FeatureStore(ranked), FeatureStore(single)
    assert a.video_ids == b.video_ids and len(a) == 6
    shards = {v: json.loads((ranked / "sources" / f"{v}.json").read_text())["shard"] for v in a.video_ids}
    by_rank = {s: sorted(v for v, x in shards.items() if x == s) for s in ("0/2", "1/2")}
    assert by_rank["0/2"] == a.video_ids[0::2] and by_rank["1/2"] == a.video_ids[1::2]   # disjoint, complete
    for v in a.video_ids:
        np.testing.assert_allclose(a.load(v), b.load(v), rtol=0, atol=1e-6)  # batch composition differs
        assert a.source(v)["sha256_edges"] == b.source(v)["sha256_edges"] and a.source(v)["T"] == b.source(v)["T"]
    assert a.provenance == b.provenance
