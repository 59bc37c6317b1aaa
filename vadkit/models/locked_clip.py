"""The tiny CLIP's image tower: the packaged ImageNet EfficientNet-Lite0, frozen, under a trained attention pool.

An open_clip ``CLIP`` whose ``visual`` is :class:`LockedTrunkVisual` (LiT's "locked image" recipe, Zhai et al.,
CVPR 2022, with CLIP's own text transformer trained from scratch): the chapters that learn prompts through a CLIP
text tower (VadCLIP, Ex-VAD, AnomalyCLIP, ...) keep that tower, and their frame features come from a real
pretrained image network instead of a from-scratch 96-px ResNet.

The visual mimics open_clip's ``ModifiedResNet`` where vadkit reads it, so :class:`~vadkit.models.clip.ClipModel`
treats it as a ResNet tower (stage taps, ``attnpool``, dense tokens):

* ``stem`` (``conv_stem`` + ``bn1``) and four stages cut from timm ``tf_efficientnet_lite0``'s seven blocks,
  frozen and always in eval mode (its BatchNorm statistics are ImageNet's):

  ======== ============ ======== ========== ============================
  stage    blocks       channels stride     map at 224 x 224
  ======== ============ ======== ========== ============================
  layer1   0, 1         24       4          56 x 56
  layer2   2            40       8          28 x 28
  layer3   3, 4         112      16         14 x 14
  layer4   5, 6         320      32         7 x 7
  ======== ============ ======== ========== ============================

* ``attnpool``: open_clip's ``AttentionPool2d`` (CLIP's RN50 pool: the mean token plus learned positional
  embeddings, multi-head attention, output projection to ``embed_dim``), trained; its positional grid is resized
  bilinearly for other map sizes (agent crops are encoded smaller than frames).

Frames are resized whole to ``S x S`` (``squash``: SynthVAD's agents walk in and out at the edges, a centre crop
would cut them) and scaled to ``[-1, 1]`` (mean = std = 0.5, the weights' preprocessing). ``S = 224``, the
weights' own resolution: a 160 x 120 SynthVAD frame is upsampled 1.4 x 1.9, a person is ~34 px tall.

Saved: open_clip's hub layout (``open_clip_config.json`` + ``open_clip_model.safetensors``) with
``vision_cfg.locked`` naming the trunk; the trunk's tensors are left out of the file (they are read, digest-checked,
from their package), so a reload is the packaged trunk plus the saved pool and text tower.

The untrained twin (``pretrained_trunk=False``) draws the trunk at random as well: "untrained" means no
pretraining anywhere, which is what chapter 02's untrained-tower control of the linear probe needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

TRUNK = "tf_efficientnet_lite0"
STAGES = ((0, 2), (2, 3), (3, 5), (5, 7))     # block ranges of layer1..layer4
STAGE_CHANNELS = (24, 40, 112, 320)
MEAN = STD = (0.5, 0.5, 0.5)
FROZEN_PREFIXES = ("stem.", "layer1.", "layer2.", "layer3.", "layer4.")


def _attention_pool_cls():
    from open_clip.modified_resnet import AttentionPool2d

    class ResizingAttentionPool2d(AttentionPool2d):
        """open_clip's ``AttentionPool2d`` whose positional grid is resized (bilinear) to the input map."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n, c, h, w = x.shape
            pos = self.positional_embedding
            side = int(round((pos.shape[0] - 1) ** 0.5))
            if (h, w) != (side, side):
                grid = pos[1:].T.reshape(1, c, side, side)
                grid = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False)
                pos = torch.cat([pos[:1], grid.reshape(c, h * w).T], 0)
            x = x.reshape(n, c, h * w).permute(2, 0, 1)                     # NCHW -> (HW)NC
            x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0) + pos[:, None, :].to(x.dtype)
            out, _ = F.multi_head_attention_forward(
                query=x[:1], key=x, value=x, embed_dim_to_check=c, num_heads=self.num_heads,
                q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight,
                v_proj_weight=self.v_proj.weight, in_proj_weight=None,
                in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
                bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
                out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias,
                use_separate_proj_weight=True, training=self.training, need_weights=False)
            return out[0]

    return ResizingAttentionPool2d


class LockedTrunkVisual(nn.Module):
    """Frozen EfficientNet-Lite0 stages + trained attention pool: ``[N, 3, S, S] -> [N, embed_dim]``.

    ``stage_maps(x)`` gives the frozen layer4 map ``[N, 320, S/32, S/32]`` (no gradient); ``attnpool`` pools any
    such map (training runs it on maps computed once).
    """

    def __init__(self, image_size: int, embed_dim: int, heads: int, *, pretrained_trunk: bool = True):
        super().__init__()
        if pretrained_trunk:
            from vadkit.models.efficientnet import load_efficientnet_lite0

            trunk = load_efficientnet_lite0()
        else:
            import timm

            trunk = timm.create_model(TRUNK, pretrained=False, num_classes=1000)
        self.stem = nn.Sequential(trunk.conv_stem, trunk.bn1)
        for i, (a, b) in enumerate(STAGES, 1):
            setattr(self, f"layer{i}", nn.Sequential(*trunk.blocks[a:b]))
        for p in self.frozen_parameters():
            p.requires_grad_(False)
        self.attnpool = _attention_pool_cls()(image_size // 32, STAGE_CHANNELS[-1], heads, embed_dim)
        self.image_size = int(image_size)
        self.output_dim = int(embed_dim)
        self.image_mean, self.image_std = MEAN, STD
        self.preprocess_cfg = {"size": int(image_size), "mode": "RGB", "mean": MEAN, "std": STD,
                               "interpolation": "bicubic", "resize_mode": "squash"}
        self.pretrained_trunk = pretrained_trunk
        super().train(False)

    def frozen_parameters(self):
        for name in ("stem", "layer1", "layer2", "layer3", "layer4"):
            yield from getattr(self, name).parameters()

    def train(self, mode: bool = True):
        """Only the pool trains: the trunk stays in eval mode (ImageNet BatchNorm statistics)."""
        super().train(mode)
        for name in ("stem", "layer1", "layer2", "layer3", "layer4"):
            getattr(self, name).eval()
        return self

    def stage_maps(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            x = self.stem(x)
            for i in range(1, 5):
                x = getattr(self, f"layer{i}")(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attnpool(self.stage_maps(x))


def locked_vision_cfg(image_size: int, heads: int, crop_size: int) -> dict:
    """The ``vision_cfg`` of a locked tower in ``open_clip_config.json`` (what :func:`build_locked_clip` reads)."""
    return {"locked": TRUNK, "image_size": int(image_size), "heads": int(heads), "crop_size": int(crop_size)}


def is_locked_cfg(model_cfg: dict | None) -> bool:
    return bool(model_cfg and isinstance(model_cfg.get("vision_cfg"), dict) and model_cfg["vision_cfg"].get("locked"))


def build_locked_clip(model_cfg: dict, *, pretrained_trunk: bool = True):
    """open_clip ``CLIP`` (text transformer of ``model_cfg["text_cfg"]``) with a :class:`LockedTrunkVisual`."""
    import open_clip

    v = model_cfg["vision_cfg"]
    if v.get("locked") != TRUNK:
        from vadkit.errors import ConfigError

        raise ConfigError(f"locked image tower {v.get('locked')!r}: only {TRUNK!r} is packaged")
    # a throwaway 32-px ResNet fills open_clip's constructor; the visual is replaced at once
    stub = {"image_size": 32, "layers": [1, 1, 1, 1], "width": 8, "head_width": 8}
    model = open_clip.model.CLIP(embed_dim=model_cfg["embed_dim"], vision_cfg=stub, text_cfg=model_cfg["text_cfg"])
    model.visual = LockedTrunkVisual(v["image_size"], model_cfg["embed_dim"], v["heads"],
                                     pretrained_trunk=pretrained_trunk)
    return model


def trained_state(model: nn.Module) -> dict:
    """``model.state_dict()`` without the frozen trunk's tensors (they live in their package)."""
    skip = tuple(f"visual.{p}" for p in FROZEN_PREFIXES)
    return {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}


def load_trained_state(model: nn.Module, state: dict, where) -> None:
    """Load a :func:`trained_state` into a freshly built locked CLIP; any other mismatch is an error naming
    ``where``."""
    from vadkit.models.weights import CorruptWeightsError

    missing, unexpected = model.load_state_dict(state, strict=False)
    skip = tuple(f"visual.{p}" for p in FROZEN_PREFIXES)
    missing = [k for k in missing if not k.startswith(skip)]
    if missing or unexpected:
        raise CorruptWeightsError(f"{where}: tensors do not match the locked tiny CLIP (missing {missing[:3]}, "
                                  f"unexpected {list(unexpected)[:3]})")
