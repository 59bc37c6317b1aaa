"""A locked-image CLIP (LiT) from the two real pretrained towers that ship in packages.

LiT (Zhai et al., CVPR 2022, "LiT: Zero-Shot Transfer with Locked-image text Tuning") keeps a pretrained image
tower frozen and trains the text side to read its embeddings. Here both towers are real and frozen:

* image: EfficientNet-Lite0 with its ImageNet-1k weights (:func:`vadkit.models.efficientnet.load_efficientnet_lite0`,
  digest-checked), cut after stage 7 (320 channels, stride 32);
* text: all-MiniLM-L6-v2 (:func:`vadkit.models.text.load_sentence_embedder`), its mean-pooled, L2-normalised
  384-d sentence embedding;

and what is trained (on the pretraining corpus only, by :mod:`vadkit.models.zoo`) is small:

* an attention-pooling head over the stage-7 map (as CLIP's ResNet ``attnpool``): ``[N, h*w, 320]`` tokens,
  layer norm, a linear map to ``width``, learned 2-D positional embeddings (bilinearly resized when the map
  size changes, e.g. for agent crops), one learned query plus the mean token attending over the tokens; the
  pooled vector and the mean token go through one linear layer to ``embed_dim``;
* a two-layer MLP from the MiniLM embedding to ``embed_dim``, and the logit scale.

Deviation from LiT, stated: the text tower is locked too (LiT tunes it); on 2 CPU cores a 22M-parameter text
tower step per batch costs more than the whole head, and the corpus' captions are few and templated.

Why a head over the *map* rather than the tower's own global average: on SynthVAD an anomalous agent covers
~1 % of the frame; the tower's pooled ImageNet feature dilutes it (a linear probe on it reached frame AUC
0.54-0.57 on the 1.2 smoke split, the stage-7 map max-pooled at 360 x 480 px 0.62).

Frames are resized whole (``squash``) to ``image_size = (192, 256)`` (height, width; SynthVAD's 4:3 frames keep
their shape, a person is ~29 px tall), scaled to ``[-1, 1]`` (mean = std = 0.5, the weights' preprocessing).
The interface is :class:`vadkit.models.clip.ClipModel`'s where the feature stores and the probe use it
(``preprocess``, ``encode_pixels`` with stage taps, ``encode_images``, ``encode_texts``, ``describe``).

Saved directory: ``lit_config.json`` (the head's config) and ``lit_head.safetensors`` (trained parameters only:
the towers are read from their packages, so the directory is ~2 MB).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vadkit.errors import ModelNotFoundError

CONFIG_FILE = "lit_config.json"
WEIGHTS_FILE = "lit_head.safetensors"
STAGE_CHANNELS = (16, 24, 40, 80, 112, 192, 320)  # tf_efficientnet_lite0 blocks[0..6]


def is_lit_dir(path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


class AttnPoolHead(nn.Module):
    """``[N, h, w, C]`` map -> ``[N, D]``: attention pooling with one learned query (plus the mean token)."""

    def __init__(self, c_in: int, grid: tuple[int, int], width: int, embed_dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(c_in)
        self.inp = nn.Linear(c_in, width)
        self.pos = nn.Parameter(torch.randn(1, width, *grid) * 0.02)
        self.query = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.out = nn.Linear(2 * width, embed_dim)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        n, h, w, _ = fmap.shape
        pos = self.pos if self.pos.shape[-2:] == (h, w) else F.interpolate(
            self.pos, size=(h, w), mode="bilinear", align_corners=False)
        x = self.inp(self.norm(fmap)).flatten(1, 2) + pos.flatten(2).transpose(1, 2)  # [N, h*w, width]
        mean = x.mean(1, keepdim=True)
        pooled, _ = self.attn(self.query.expand(n, -1, -1) + mean, x, x, need_weights=False)
        return self.out(torch.cat([pooled[:, 0], mean[:, 0]], -1))


class LitHeads(nn.Module):
    """The trained part: image head, text MLP, logit scale."""

    def __init__(self, cfg: dict):
        super().__init__()
        grid = (cfg["image_size"][0] // 32, cfg["image_size"][1] // 32)
        self.image = AttnPoolHead(STAGE_CHANNELS[-1], grid, cfg["width"], cfg["embed_dim"], cfg["heads"])
        self.text = nn.Sequential(nn.Linear(cfg["text_dim"], cfg["width"]), nn.GELU(),
                                  nn.Linear(cfg["width"], cfg["embed_dim"]))
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))


DEFAULT_HEAD = {"image_size": [192, 256], "width": 192, "embed_dim": 128, "heads": 4, "text_dim": 384}


class LitModel:
    """Frozen EfficientNet-Lite0 + frozen MiniLM + trained :class:`LitHeads` (see the module docstring).

    Attributes as :class:`~vadkit.models.clip.ClipModel` where shared: ``embed_dim`` ``D``, ``image_size``
    (the height; ``input_size`` is ``(H, W)``), ``width`` (320, the tapped stage-7 channels), ``name``,
    ``device``, ``precision``.
    """

    def __init__(self, trunk: nn.Module, embedder, heads: LitHeads, cfg: dict, *, name: str, device=None,
                 trained: bool = True):
        self.device = torch.device(device or "cpu")
        self.trunk = trunk.eval().to(self.device)
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        self.embedder = embedder
        self.heads = heads.to(self.device)
        # ``model``: every parameter, as ClipModel.model (freezing loops); not an open_clip CLIP, so prompt learners
        # that need a CLIP text transformer cannot run on it
        self.model = nn.ModuleDict({"trunk": self.trunk, "heads": self.heads})
        self.cfg = dict(cfg)
        self.name = name
        self.precision = "fp32"
        self.input_size = tuple(int(v) for v in cfg["image_size"])
        self.image_size = self.input_size[0]
        self.embed_dim = int(cfg["embed_dim"])
        self.width = STAGE_CHANNELS[-1]
        self.trained = trained
        # digest of the saved heads (set by load_lit): feature stores and call caches key the model by it, so a
        # retrained tiny-lit never reads the features of the one it replaced
        self.weights: str | None = None
        self._text_cache: dict[str, np.ndarray] = {}

    # -- identity -------------------------------------------------------------------------------
    def describe(self) -> dict:
        return {"model": "lit(tf_efficientnet_lite0 imagenet-1k, frozen; all-MiniLM-L6-v2, frozen)",
                "pretrained": "heads trained on the pretraining corpus" if self.trained else "untrained heads",
                "name": self.name, "image_size": list(self.input_size), "mean": [0.5] * 3, "std": [0.5] * 3,
                "resize": "whole frame to H x W (squash), bicubic antialias", "embed_dim": self.embed_dim,
                "head": {k: self.cfg[k] for k in ("width", "embed_dim", "heads")}, "weights": self.weights}

    # -- images ---------------------------------------------------------------------------------
    def preprocess(self, frames, crop: str = "center", size: tuple[int, int] | None = None) -> torch.Tensor:
        """uint8 ``[N, H, W, 3]`` -> ``[N, 3, h, w]`` in ``[-1, 1]`` (``size`` default :attr:`input_size`)."""
        from vadkit.models.clip import _as_uint8_batch

        if crop != "center":
            raise ValueError(f"{self.name}: only crop='center' (the whole frame) is supported, got {crop!r}")
        x = _as_uint8_batch(frames).to(self.device).float().div_(255.0)
        x = F.interpolate(x, size=tuple(size or self.input_size), mode="bicubic", antialias=True,
                          align_corners=False).clamp_(0, 1)
        return (x - 0.5) / 0.5

    def stage_maps(self, pixels: torch.Tensor, layers: Sequence[int] = ()) -> tuple[torch.Tensor, dict]:
        """Frozen trunk: ``[N, 3, h, w]`` -> (stage-7 map ``[N, h/32, w/32, 320]``, ``{stage: [N, P, C]}``)."""
        t = self.trunk
        taps = {}
        wanted = {int(k) % len(t.blocks): int(k) for k in layers}
        with torch.no_grad():
            x = t.bn1(t.conv_stem(pixels.to(self.device)))
            for i, block in enumerate(t.blocks):
                x = block(x)
                if i in wanted:
                    taps[wanted[i]] = x.flatten(2).transpose(1, 2).float().cpu()
        return x.permute(0, 2, 3, 1), taps

    def embed_maps(self, fmap: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        e = self.heads.image(fmap)
        return F.normalize(e, dim=-1) if normalize else e

    def encode_pixels(self, pixels: torch.Tensor, layers: Sequence[int] = (), normalize: bool = True):
        """Preprocessed ``[N, 3, h, w]`` -> (``[N, D]`` float32 CPU, ``{stage: [N, P, C]}``); ``stage`` indexes
        the trunk's 7 blocks (negative from the end), ``P = (h / s) * (w / s)`` for that block's stride ``s``."""
        for layer in layers:
            if not -7 <= layer < 7:
                raise ValueError(f"{self.name}: layer {layer} out of range (the trunk has 7 stages)")
        fmap, taps = self.stage_maps(pixels, layers)
        with torch.no_grad():
            emb = self.embed_maps(fmap, normalize)
        return emb.float().cpu(), taps

    @torch.no_grad()
    def encode_images(self, frames, *, normalize: bool = True, crop: str = "center",
                      batch_size: int = 64) -> torch.Tensor:
        """``uint8 [N, H, W, 3]`` -> ``[N, D]``."""
        from vadkit.models.clip import _as_uint8_batch, forward_batch

        x = _as_uint8_batch(frames).permute(0, 2, 3, 1)
        batch_size = forward_batch(batch_size, self.device)
        outs = [self.encode_pixels(self.preprocess(x[i:i + batch_size], crop), normalize=normalize)[0]
                for i in range(0, len(x), batch_size)]
        return torch.cat(outs) if outs else torch.zeros((0, self.embed_dim))

    def patch_tokens(self, frames, layers: Sequence[int] = (-1,)) -> dict[int, torch.Tensor]:
        if not layers:
            raise ValueError("patch_tokens needs at least one layer")
        return self.encode_pixels(self.preprocess(frames), layers=layers)[1]

    # -- text -----------------------------------------------------------------------------------
    def sentence_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """Frozen MiniLM ``[N, 384]`` (cached per string: the corpus repeats its captions)."""
        todo = sorted({t for t in texts if t not in self._text_cache})
        if todo:
            for t, e in zip(todo, self.embedder.encode(todo)):
                self._text_cache[t] = e
        return torch.from_numpy(np.stack([self._text_cache[t] for t in texts])).to(self.device)

    def embed_sentences(self, sent: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        e = self.heads.text(sent)
        return F.normalize(e, dim=-1) if normalize else e

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str], *, normalize: bool = True, batch_size: int = 256) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return torch.zeros((0, self.embed_dim))
        return self.embed_sentences(self.sentence_embeddings(texts), normalize).float().cpu()

    # -- persistence ----------------------------------------------------------------------------
    def save_pretrained(self, directory) -> Path:
        from safetensors.torch import save

        from vadkit.io_utils import atomic_write, atomic_write_json

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_json(d / CONFIG_FILE, {"kind": "lit", "head": self.cfg,
                                            "image_tower": "efficientnet-lite0", "text_tower": "minilm"})
        state = {k: v.detach().cpu().contiguous() for k, v in self.heads.state_dict().items()}
        with atomic_write(d / WEIGHTS_FILE) as fh:
            fh.write(save(state))
        return d


def new_lit(cfg: dict | None = None, *, name: str = "zoo:tiny-lit", device=None, pretrained_trunk: bool = True,
            seed: int = 0) -> LitModel:
    """A LiT model with freshly initialised heads. ``pretrained_trunk=False``: the same EfficientNet-Lite0 with
    random weights (the probe's "untrained tower" control)."""
    from vadkit.models.efficientnet import ARCH, load_efficientnet_lite0
    from vadkit.models.text import load_sentence_embedder

    cfg = {**DEFAULT_HEAD, **(cfg or {})}
    if pretrained_trunk:
        trunk = load_efficientnet_lite0()
    else:
        import timm

        torch.manual_seed(seed + 1)
        trunk = timm.create_model(ARCH, pretrained=False, num_classes=1000)
    torch.manual_seed(seed)
    return LitModel(trunk, load_sentence_embedder("minilm"), LitHeads(cfg), cfg, name=name, device=device,
                    trained=False)


def load_lit(directory, *, name: str | None = None, device=None) -> LitModel:
    """Read a :meth:`LitModel.save_pretrained` directory (the towers come from their packages, digest-checked)."""
    from safetensors.torch import load_file

    from vadkit.models.weights import check_weights, weights_errors

    d = Path(directory)
    if not is_lit_dir(d):
        raise ModelNotFoundError(f"{d}: not a LiT model directory (no {CONFIG_FILE})")
    try:
        cfg = json.loads((d / CONFIG_FILE).read_text())["head"]
    except (ValueError, KeyError) as err:
        raise ModelNotFoundError(f"{d / CONFIG_FILE}: unreadable LiT config ({err})") from err
    check_weights(d)
    model = new_lit(cfg, name=name or str(d), device=device)
    with weights_errors(str(d), "LiT head"):
        model.heads.load_state_dict(load_file(str(d / WEIGHTS_FILE)), strict=True)
    model.heads.eval()
    model.trained = True
    from vadkit.identity import weights_digest

    model.weights = weights_digest(d)
    return model
