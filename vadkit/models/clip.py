"""open_clip image/text encoders behind one wrapper, :class:`ClipModel`.

Names (see :func:`load_clip`):

* ``"ViT-B-16:openai"``: an open_clip architecture and pretrained tag (full profile; VadCLIP and
  Ex-VAD use ViT-B/16 ``openai``). ``"hf-hub:org/repo"`` also works.
* a local directory holding ``open_clip_config.json`` + ``open_clip_model.safetensors`` (open_clip's own
  hub layout, written by :meth:`ClipModel.save_pretrained`); loaded through ``local-dir:`` by the same
  open_clip factory call as hub models. The tiny zoo's CLIP is such a directory.
* ``"<arch>:/path/to/checkpoint.safetensors"``: a registered architecture with a local checkpoint file in
  place of the pretrained tag (open_clip's ``pretrained=<file>``), e.g. ``"ViT-B-16:/ckpt/vit_b16.safetensors"``.
  vadkit registers its own small configs from ``vadkit/models/open_clip_configs/`` (``ViT-Tiny-rehearsal``:
  ViT-B/16's depth, patch size, resolution, context length and embedding width at toy widths; the full
  profile's rehearsal fixture, :mod:`vadkit.models.rehearsal`).

Preprocessing runs in torch on batches of ``uint8 [N, H, W, 3]`` frames (no PIL round trip): resize the
shorter side to ``S`` (bicubic, antialiased, as CLIP's ``Resize(S)``), centre-crop ``S x S``, scale to
``[0, 1]``, normalise with the model's mean/std. ``crop="ten_crop"`` resizes the shorter side to
``round(S * 256 / 224)`` and takes torchvision's TenCrop order (4 corners, centre, then the same five
crops of the flipped image), the 10-crop protocol of the I3D/CLIP features released with RTFM and VadCLIP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vadkit.errors import ModelNotFoundError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
CROPS = ("center", "ten_crop")
RESIZE_MODES = ("shortest", "squash")


#: On a CPU small batches are faster per image: the activations stay in the cache. EfficientNet-Lite0 at 224 px
#: (the tiny CLIP's trunk), ms per image, 1 / 2 threads: batch 96 -, 33; 16 38, 20; 8 31, 17; 4 23, 13; 2 -, 16
#: (2026-12-04, this 2-core machine). Results are the same.
CPU_BATCH = 4


def forward_batch(batch_size: int, device) -> int:
    """How many images one forward pass takes: ``batch_size``, at most :data:`CPU_BATCH` on a CPU."""
    return batch_size if torch.device(device or "cpu").type != "cpu" else min(batch_size, CPU_BATCH)


def _as_uint8_batch(frames) -> torch.Tensor:
    """``[N, H, W, 3]`` uint8 (array, tensor or list of frames) -> uint8 tensor ``[N, 3, H, W]``."""
    if isinstance(frames, (list, tuple)):
        frames = np.stack([np.asarray(f) for f in frames])
    t = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"frames must be [N, H, W, 3] RGB, got shape {tuple(t.shape)}")
    if t.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8, got {t.dtype}")
    return t.permute(0, 3, 1, 2)


def preprocess_frames(frames, image_size: int, mean=OPENAI_MEAN, std=OPENAI_STD, crop: str = "center",
                      device=None, resize_mode: str = "shortest") -> torch.Tensor:
    """CLIP preprocessing in torch.

    ``frames`` ``[N, H, W, 3]`` uint8 -> ``[N, 3, S, S]`` float32 (``crop="center"``) or
    ``[N, 10, 3, S, S]`` (``crop="ten_crop"``, TenCrop order), ``S = image_size``.

    ``resize_mode`` follows open_clip's ``PreprocessCfg.resize_mode``: ``"shortest"`` (CLIP's
    ``Resize(S)`` of the shorter side, then the crop; every released checkpoint) or ``"squash"`` (the
    whole frame resized to ``S x S`` so nothing at the borders is cut; the tiny zoo's CLIP, whose
    SynthVAD agents walk in and out at the frame edges).
    """
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    if resize_mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {resize_mode!r}")
    x = _as_uint8_batch(frames)
    if device is not None:
        x = x.to(device, non_blocking=True)
    x = x.float().div_(255.0)
    S = int(image_size)
    short = S if crop == "center" else int(round(S * 256 / 224))
    h, w = x.shape[-2:]
    if resize_mode == "squash":
        nh = nw = short
    else:
        scale = short / min(h, w)
        nh, nw = max(short, int(round(h * scale))), max(short, int(round(w * scale)))
    x = F.interpolate(x, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False).clamp_(0, 1)
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    x = (x - m) / s

    def cc(img):
        top, left = (img.shape[-2] - S) // 2, (img.shape[-1] - S) // 2
        return img[..., top:top + S, left:left + S]

    if crop == "center":
        return cc(x)
    def five(img):
        return [img[..., :S, :S], img[..., :S, -S:], img[..., -S:, :S], img[..., -S:, -S:], cc(img)]

    # torchvision TenCrop: five crops of the image, then five crops of its horizontal flip
    return torch.stack(five(x) + five(x.flip(-1)), dim=1)


class ClipModel:
    """An open_clip model with frame preprocessing, text tokenisation and patch-token taps.

    Attributes: ``model`` (the open_clip ``CLIP``; prompt learners use its ``token_embedding``,
    ``positional_embedding``, ``transformer``, ``ln_final``, ``text_projection``, ``attn_mask``),
    ``embed_dim`` ``D``, ``width`` (vision transformer width ``W``), ``image_size`` ``S``,
    ``context_length`` ``L``, ``name``, ``arch``, ``pretrained``.
    """

    def __init__(self, model, tokenizer, *, name: str, arch: str, pretrained: str | None,
                 model_cfg: dict | None = None, device=None, precision: str = "fp32"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name, self.arch, self.pretrained = name, arch, pretrained
        self.model_cfg = model_cfg
        self.device = torch.device(device or "cpu")
        self.precision = precision
        self.model.to(self.device)
        visual = model.visual
        size = visual.image_size
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.mean = tuple(getattr(visual, "image_mean", None) or OPENAI_MEAN)
        self.std = tuple(getattr(visual, "image_std", None) or OPENAI_STD)
        self.resize_mode = str((getattr(visual, "preprocess_cfg", None) or {}).get("resize_mode") or "shortest")
        self.embed_dim = int(model.text_projection.shape[1] if not isinstance(model.text_projection, torch.nn.Linear)
                             else model.text_projection.out_features)
        # ViT towers: transformer width; ModifiedResNet towers (CLIP RN50 family): channels into the attention pool
        self.is_resnet = not hasattr(visual, "transformer")
        self.width = int(visual.attnpool.k_proj.in_features if self.is_resnet else visual.transformer.width)
        self.context_length = int(model.context_length)
        if self.is_resnet:
            # NHWC convolutions: the tiny CLIP's training step (forward + backward of the image tower) ran 1.3x
            # faster on one CPU thread, and the results agree to float rounding; weights are saved contiguous
            visual.to(memory_format=torch.channels_last)

    # -- identity -------------------------------------------------------------------------------
    def describe(self) -> dict:
        """Provenance fields: model, pretrained tag, preprocessing."""
        return {"model": self.arch, "pretrained": self.pretrained, "name": self.name,
                "image_size": self.image_size, "mean": list(self.mean), "std": list(self.std),
                "resize": ("shorter side, bicubic antialias" if self.resize_mode == "shortest"
                           else "whole frame to S x S (squash), bicubic antialias"),
                "embed_dim": self.embed_dim}

    def _autocast(self):
        if self.device.type == "cuda" and self.precision in ("bf16", "amp"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        import contextlib

        return contextlib.nullcontext()

    # -- images ---------------------------------------------------------------------------------
    def preprocess(self, frames, crop: str = "center") -> torch.Tensor:
        return preprocess_frames(frames, self.image_size, self.mean, self.std, crop, device=self.device,
                                 resize_mode=self.resize_mode)

    def _tap_modules(self) -> list:
        """Modules whose outputs :meth:`encode_pixels` can tap: ViT residual blocks, or ResNet stages 1-4."""
        v = self.model.visual
        if self.is_resnet:
            return [v.layer1, v.layer2, v.layer3, v.layer4]
        return list(v.transformer.resblocks)

    @torch.no_grad()
    def encode_pixels(self, pixels: torch.Tensor, layers: Sequence[int] = (), normalize: bool = True):
        """Preprocessed ``[N, 3, S, S]`` -> (``[N, D]`` float32 CPU, ``{layer: [N, P, W]}``).

        ViT: ``layer`` indexes the residual blocks, ``P = (S / patch)^2`` tokens (class token removed).
        ResNet: ``layer`` indexes the four stages, ``P = h * w`` positions of that stage's map, row-major.
        """
        taps: dict[int, torch.Tensor] = {}
        handles = []
        blocks = self._tap_modules()
        for layer in layers:
            if not -len(blocks) <= layer < len(blocks):
                raise ValueError(f"{self.name}: layer {layer} out of range (model has {len(blocks)} "
                                 f"{'stages' if self.is_resnet else 'blocks'})")

            def hook(_m, _inp, out, layer=layer):
                out = out[0] if isinstance(out, tuple) else out
                if self.is_resnet:
                    taps[layer] = out.flatten(2).transpose(1, 2)  # [N, C, h, w] -> [N, h*w, C]
                    return
                if not getattr(self.model.visual.transformer, "batch_first", True):
                    out = out.transpose(0, 1)
                taps[layer] = out  # [N, 1 + P, W] (class token first)

            handles.append(blocks[layer].register_forward_hook(hook))
        try:
            with self._autocast():
                emb = self.model.encode_image(pixels.to(self.device), normalize=normalize)
        finally:
            for h in handles:
                h.remove()
        # CLIP ViTs prepend one class token; drop it so the maps are [N, P, W] patches only
        prefix = 1 if not self.is_resnet and getattr(self.model.visual, "class_embedding", None) is not None else 0
        tokens = {k: v[:, prefix:].float().cpu() for k, v in taps.items()}
        return emb.float().cpu(), tokens

    @torch.no_grad()
    def encode_images(self, frames, *, normalize: bool = True, crop: str = "center",
                      batch_size: int = 64) -> torch.Tensor:
        """``uint8 [N, H, W, 3]`` -> ``[N, D]`` (``crop="center"``) or ``[N, 10, D]`` (``"ten_crop"``)."""
        x = _as_uint8_batch(frames).permute(0, 2, 3, 1)
        outs = []
        batch_size = forward_batch(batch_size, self.device)
        for i in range(0, len(x), batch_size):
            px = self.preprocess(x[i:i + batch_size], crop)
            if crop == "ten_crop":
                n = px.shape[0]
                e, _ = self.encode_pixels(px.flatten(0, 1), normalize=normalize)
                outs.append(e.view(n, 10, -1))
            else:
                outs.append(self.encode_pixels(px, normalize=normalize)[0])
        if not outs:
            return torch.zeros((0, self.embed_dim))
        return torch.cat(outs)

    @torch.no_grad()
    def patch_tokens(self, frames, layers: Sequence[int] = (-1,)) -> dict[int, torch.Tensor]:
        """Intermediate patch tokens for T-VAD's AHD: ``{layer: [N, P, W]}`` (class token removed).

        ``P = (S / patch)^2``; the output of residual block ``layer`` (negative counts from the end),
        before ``ln_post`` and the projection.
        """
        if not layers:
            raise ValueError("patch_tokens needs at least one layer")
        return self.encode_pixels(self.preprocess(frames), layers=layers)[1]

    # -- text -----------------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """``N`` strings -> token ids ``[N, L]`` (open_clip BPE, SOT/EOT, zero padded)."""
        if isinstance(texts, str):
            texts = [texts]
        return self.tokenizer(list(texts), context_length=self.context_length)

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str], *, normalize: bool = True, batch_size: int = 256) -> torch.Tensor:
        """``N`` strings -> ``[N, D]`` float32 CPU."""
        outs = []
        texts = [texts] if isinstance(texts, str) else list(texts)
        for i in range(0, len(texts), batch_size):
            tok = self.tokenize(texts[i:i + batch_size]).to(self.device)
            with self._autocast():
                outs.append(self.model.encode_text(tok, normalize=normalize).float().cpu())
        return torch.cat(outs) if outs else torch.zeros((0, self.embed_dim))

    # -- persistence ----------------------------------------------------------------------------
    def save_pretrained(self, directory) -> Path:
        """Write open_clip's hub layout (``open_clip_config.json`` + safetensors), loadable by :func:`load_clip`."""
        from vadkit.io_utils import atomic_write, atomic_write_json

        if self.model_cfg is None:
            raise ValueError(f"{self.name}: no model config known; cannot save")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_json(d / "open_clip_config.json", {
            "model_cfg": self.model_cfg,
            "preprocess_cfg": {"mean": list(self.mean), "std": list(self.std), "resize_mode": self.resize_mode},
        })
        from vadkit.models.locked_clip import is_locked_cfg, trained_state

        # a locked image tower's trunk is read from its package, not written here
        state = trained_state(self.model) if is_locked_cfg(self.model_cfg) else self.model.state_dict()
        state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        with atomic_write(d / "open_clip_model.safetensors") as fh:
            fh.write(_safetensors_bytes(state))
        return d


def _safetensors_bytes(state) -> bytes:
    from safetensors.torch import save

    return save(state)


def encode_text_embeddings(clip: "ClipModel | torch.nn.Module", prompt_embeds: torch.Tensor,
                           eot_index: torch.Tensor, *, normalize: bool = False) -> torch.Tensor:
    """Run CLIP's text tower on token *embeddings* (prompt learning, VadCLIP Sec. 3.3 / CoOp).

    ``prompt_embeds`` ``[N, L, W]`` replaces ``token_embedding(ids)``; ``eot_index`` ``[N]`` is where
    the end-of-text token sits (the feature pooled there is projected, as in CLIP's ``argmax`` pooling).
    Returns ``[N, D]``. Gradients flow (no ``no_grad``). With the plain token embeddings and
    ``eot_index = ids.argmax(-1)`` this equals ``model.encode_text(ids)``.
    """
    model = clip.model if isinstance(clip, ClipModel) else clip
    L = prompt_embeds.shape[1]
    if L != model.positional_embedding.shape[0]:
        raise ValueError(f"prompt_embeds length {L} != context length {model.positional_embedding.shape[0]}")
    cast = model.transformer.get_cast_dtype()
    x = prompt_embeds.to(cast) + model.positional_embedding.to(cast)
    x = model.transformer(x, attn_mask=model.attn_mask)
    x = model.ln_final(x)
    x = x[torch.arange(x.shape[0], device=x.device), eot_index.to(x.device).long()]
    proj = model.text_projection
    x = proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj
    return F.normalize(x, dim=-1) if normalize else x


def parse_clip_name(name: str) -> tuple[str, str | None]:
    """``"ViT-B-16:openai"`` -> ``("ViT-B-16", "openai")``; ``"hf-hub:org/x"`` -> (name, None)."""
    if name.startswith(("hf-hub:", "local-dir:")):
        return name, None
    if ":" in name:
        arch, tag = name.split(":", 1)
        return arch, tag
    return name, None


VADKIT_OPEN_CLIP_CONFIGS = Path(__file__).parent / "open_clip_configs"


def register_open_clip_configs() -> None:
    """Add vadkit's own architecture configs (``open_clip_configs/*.json``) to open_clip's registry (once)."""
    import open_clip

    if not all(p.stem in open_clip.list_models() for p in VADKIT_OPEN_CLIP_CONFIGS.glob("*.json")):
        open_clip.add_model_config(VADKIT_OPEN_CLIP_CONFIGS)


def load_open_clip(name: str, device=None, precision: str = "fp32") -> ClipModel:
    """Load a hub/open_clip name, ``arch:/checkpoint/file`` or a local directory through open_clip's factory
    (one code path)."""
    import open_clip

    register_open_clip_configs()

    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "open_clip_config.json").is_file():
            raise ModelNotFoundError(f"{path}: not an open_clip model directory (no open_clip_config.json)")
        ident, pretrained = f"local-dir:{path.resolve()}", None
        model_cfg = json.loads((path / "open_clip_config.json").read_text())["model_cfg"]
        arch, tag = str(path.resolve()), "local"
    else:
        ident, pretrained = parse_clip_name(name)
        model_cfg = None
        arch, tag = ident, pretrained
        if pretrained and pretrained.startswith((".", "/", "~")):
            ckpt = Path(pretrained).expanduser()
            if not ckpt.is_file():
                raise ModelNotFoundError(f"CLIP model {name!r}: checkpoint file {ckpt} does not exist")
            pretrained = tag = str(ckpt.resolve())
        if not ident.startswith(("hf-hub:", "local-dir:")) and ident not in open_clip.list_models():
            raise ModelNotFoundError(f"CLIP model {name!r}: unknown open_clip architecture {ident!r} and not a "
                                     f"directory; use e.g. 'ViT-B-16:openai' or 'zoo:tiny-clip'")
    from vadkit.models.weights import check_weights, weights_errors

    if path.is_dir():                          # a corrupt local file is named, not a raw traceback
        check_weights(path)
    elif pretrained and Path(pretrained).expanduser().is_file():
        check_weights(pretrained)
    from vadkit.models.locked_clip import is_locked_cfg

    if path.is_dir() and is_locked_cfg(model_cfg):   # the zoo's tiny CLIP: packaged frozen trunk + saved rest
        return _load_locked(path, name, model_cfg, device, precision)
    try:
        with weights_errors(name, "CLIP"):
            model, _, _ = open_clip.create_model_and_transforms(ident, pretrained=pretrained, device="cpu")
            tokenizer = open_clip.get_tokenizer(ident)
    except (RuntimeError, OSError, ValueError) as err:
        raise ModelNotFoundError(f"CLIP model {name!r} could not be loaded ({type(err).__name__}: {err}); "
                                 f"offline runs need the weights in the local cache") from err
    if model_cfg is None:
        try:
            model_cfg = open_clip.get_model_config(ident)
        except Exception:  # noqa: BLE001 - hub configs are not in the builtin registry
            model_cfg = None
    return ClipModel(model, tokenizer, name=name, arch=arch, pretrained=tag, model_cfg=model_cfg,
                     device=device, precision=precision)


def _load_locked(path: Path, name: str, model_cfg: dict, device, precision: str) -> ClipModel:
    """A saved locked-image CLIP (:mod:`vadkit.models.locked_clip`): the trunk from its package, the rest from
    ``open_clip_model.safetensors``."""
    import open_clip
    from safetensors.torch import load_file

    from vadkit.models.locked_clip import build_locked_clip, load_trained_state

    f = path / "open_clip_model.safetensors"
    if not f.is_file():
        raise ModelNotFoundError(f"{path}: no open_clip_model.safetensors")
    model = build_locked_clip(model_cfg)
    load_trained_state(model, load_file(str(f)), f)
    tok = open_clip.get_tokenizer("ViT-B-32")      # the open_clip BPE the tiny CLIP was trained with
    return ClipModel(model, tok, name=name, arch=str(path.resolve()), pretrained="local", model_cfg=model_cfg,
                     device=device, precision=precision)
