"""Frame captions cleaned by image-text similarity: one step shared by LAVAD and Ex-VAD.

Both papers caption sampled frames with a BLIP-2 captioner and then *clean* the captions against hallucination
the same way: each frame takes, among all the captions of its video, the caption whose text embedding is most
similar to the frame's image embedding.

* LAVAD (Zanella et al., CVPR 2024, Sec. 3.2 "Image-Text Caption Cleaning"): ImageBind image and text
  embeddings, a per-video index of the captions, nearest caption per frame
  (``src/models/image_text_caption_cleaner.py`` of the official code);
* Ex-VAD (Huang et al., ICML 2025, Eq. 2): ``argmax_j cos(E_I(I_i), E_T(T_j))`` with CLIP.

vadkit uses the run's CLIP (``zoo:tiny-clip`` on smoke, ``ViT-B-16:openai`` on the full profile) for both: the
ImageBind of LAVAD is replaced by CLIP's image and text towers (the same kind of aligned image-text space).

* :func:`clean_captions` - the index arithmetic (``[n, D]`` frames x ``[N, D]`` captions -> ``n`` indices);
* :func:`caption_and_clean` - read frames, caption them (every call through the model-call cache), embed, clean;
  returns the image embeddings too (LAVAD's video-text refinement needs them).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from vadkit.errors import VadkitError


def clean_captions(frame_embeds: torch.Tensor, caption_embeds: torch.Tensor) -> list[int]:
    """For every frame ``i`` the index ``argmax_j cos(E_I(I_i), E_T(T_j))`` (Ex-VAD Eq. 2, LAVAD's cleaning).

    ``frame_embeds [n, D]``, ``caption_embeds [N, D]`` -> ``n`` caption indices (ties: the first caption).
    """
    f = torch.nn.functional.normalize(torch.as_tensor(frame_embeds).float(), dim=-1)
    c = torch.nn.functional.normalize(torch.as_tensor(caption_embeds).float(), dim=-1)
    return (f @ c.T).argmax(-1).tolist()


def caption_and_clean(video_path, frame_indices: Sequence[int], captioner, clip, prompt: str | None = None,
                      cache=None, *, batch_size: int | None = None) -> dict:
    """Caption the frames ``frame_indices`` of a video and clean the captions.

    Captions go through :func:`vadkit.models.calls.cached_captions` (keyed by the captioner's identity, the prompt
    and each frame's pixels). Returns ``{"frames": [idx], "captions": [str], "cleaned": [str],
    "choice": [j], "image_embeds": [n, D] float32 (L2-normalised), "caption_embeds": [n, D]}`` where
    ``cleaned[i] = captions[choice[i]]``.
    """
    from vadkit.data.video import VideoReader
    from vadkit.models.calls import cached_captions

    idx = [int(i) for i in frame_indices]
    if not idx:
        raise VadkitError(f"{video_path}: no frames to caption")
    frames = VideoReader(video_path).get_frames(np.asarray(idx))
    got = cached_captions(captioner, {i: f for i, f in zip(idx, frames)}, prompt, cache,
                          batch_size=batch_size or len(frames), progress=False)
    caps = [got[i] for i in idx]
    with torch.no_grad():
        img = torch.nn.functional.normalize(torch.as_tensor(clip.encode_images(frames)).float(), dim=-1)
        txt = torch.nn.functional.normalize(torch.as_tensor(clip.encode_texts(caps)).float(), dim=-1)
    choice = clean_captions(img, txt)
    return {"frames": idx, "captions": caps, "cleaned": [caps[j] for j in choice], "choice": choice,
            "image_embeds": img.numpy(), "caption_embeds": txt.numpy()}
