"""Feature-extraction throughput: vadkit's pipeline vs a naive per-frame decode-and-encode loop.

Prints frames/s of both on the same video and their ratio. With a GPU, also the frames/s of ViT-B/16
(bf16) against the device's measured bf16 matrix-multiply ceiling (frames/s the GEMM FLOPs would allow).

    python benchmarks/features/throughput.py                  # tiny zoo CLIP (or --clip NAME), CPU
    python benchmarks/features/throughput.py --clip ViT-B-16:openai --device cuda --precision bf16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _video(n_frames: int, path: Path) -> Path:
    from vadkit.data.video import write_video

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    frames = np.stack([np.roll(base, i, axis=1) for i in range(n_frames)])
    return write_video(path, frames, 15)


def matmul_ceiling(device: str, dtype=torch.bfloat16, n: int = 8192, reps: int = 20) -> float:
    """Measured dense GEMM throughput in FLOP/s."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def vit_flops_per_image(clip) -> float:
    """Approximate forward FLOPs of the vision tower (2 x MACs of the linear layers + attention)."""
    v = clip.model.visual
    W = clip.width
    P = (clip.image_size // v.patch_size[0]) ** 2 + 1 if isinstance(v.patch_size, tuple) else \
        (clip.image_size // v.patch_size) ** 2 + 1
    L = len(v.transformer.resblocks)
    mlp = v.transformer.resblocks[0].mlp.c_fc.out_features
    per_layer = P * (4 * W * W + 2 * W * mlp) + 2 * P * P * W
    patch = P * 3 * (clip.image_size ** 2 // (P - 1)) * W
    return 2.0 * (L * per_layer + patch)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", default="zoo:tiny-clip")
    ap.add_argument("--frames", type=int, default=1600)
    ap.add_argument("--device", default=None)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()

    from vadkit.features import extract_dataset, naive_extract, snippet_frame_indices
    from vadkit.models import load_clip

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    clip = load_clip(args.clip, device=device, precision=args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        vids = {f"v{i}": _video(args.frames // 4, tmp / f"v{i}.mp4") for i in range(4)}
        n_enc = sum(len(snippet_frame_indices(args.frames // 4)) for _ in vids)
        t = time.perf_counter()
        for p in vids.values():
            naive_extract(p, clip)
        naive = n_enc / (time.perf_counter() - t)
        t = time.perf_counter()
        extract_dataset(vids, args.clip, clip=clip, cache_root=tmp / "cache", batch_size=args.batch_size,
                        progress=False, precision=args.precision)
        fast = n_enc / (time.perf_counter() - t)
    print(f"clip={args.clip} device={device} precision={args.precision} encoded frames={n_enc}")
    print(f"naive per-frame loop : {naive:9.1f} frames/s")
    print(f"vadkit pipeline      : {fast:9.1f} frames/s")
    print(f"speed-up             : {fast / naive:9.2f}x")
    if device.startswith("cuda"):
        ceiling = matmul_ceiling(device)
        fl = vit_flops_per_image(clip)
        x = torch.zeros((args.batch_size, 3, clip.image_size, clip.image_size), device=device)
        for _ in range(3):
            clip.encode_pixels(x)
        torch.cuda.synchronize()
        t = time.perf_counter()
        reps = 10
        for _ in range(reps):
            clip.encode_pixels(x)
        torch.cuda.synchronize()
        model_fps = reps * args.batch_size / (time.perf_counter() - t)
        print(f"GEMM ceiling (bf16)  : {ceiling / 1e12:9.1f} TFLOP/s -> {ceiling / fl:9.0f} frames/s at "
              f"{fl / 1e9:.1f} GFLOP/frame")
        print(f"model alone          : {model_fps:9.0f} frames/s = {model_fps * fl / ceiling:6.1%} of the ceiling")
        print(f"full pipeline        : {fast / (ceiling / fl):6.1%} of the ceiling")


if __name__ == "__main__":
    main()
