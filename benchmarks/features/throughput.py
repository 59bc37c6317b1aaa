"""Feature-extraction throughput: vadkit's pipeline vs a naive per-frame loop and vs decoding alone.

Prints frames/s on the same files of (1) the naive per-frame decode-and-encode loop, (2) decoding only (the
frames the pipeline samples, with the pipeline's ``prefetch`` decoder threads: the ceiling a pipeline whose
encoder were free would reach), (3) the pipeline, and the pipeline's share of the decode ceiling. With a GPU,
also the frames/s of the model alone against the device's measured bf16 matrix-multiply ceiling.

    python benchmarks/features/throughput.py --clip random:tiny    # untrained tiny ViT: no zoo training
    python benchmarks/features/throughput.py --clip random:ViT-B-16 --device cuda --precision bf16  # no weights
    python benchmarks/features/throughput.py                       # tiny zoo CLIP (or --clip NAME), CPU
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


def decode_only(paths, prefetch: int, snippet_len: int = 16, frames_per_snippet: int = 1) -> int:
    """Decode exactly the frames the pipeline samples, with its thread pool; returns the frame count."""
    from concurrent.futures import ThreadPoolExecutor

    from vadkit.data.video import VideoReader
    from vadkit.features import snippet_frame_indices

    def one(path) -> int:
        reader = VideoReader(path)
        idx = snippet_frame_indices(len(reader), snippet_len, frames_per_snippet)
        uniq, inv = np.unique(idx.reshape(-1), return_inverse=True)
        return len(reader.get_frames(uniq)[inv])

    with ThreadPoolExecutor(max_workers=max(1, prefetch)) as pool:
        return sum(pool.map(one, paths))


def _load(name: str, device: str, precision: str):
    """A CLIP by name; ``random:tiny`` (the zoo's tiny ViT, untrained) or ``random:<open_clip arch>`` (e.g.
    ``random:ViT-B-16``, randomly initialised) measure throughput without training or downloading weights."""
    if name.startswith("random:"):
        arch = name.split(":", 1)[1]
        if arch == "tiny":
            from vadkit.models.zoo import ClipTrainConfig, _new_clip

            clip = _new_clip(ClipTrainConfig(tower="vit", image_size=64, vision_width=128, vision_layers=2,
                                             text_layers=1))
            model, tokenizer, cfg = clip.model, clip.tokenizer, clip.model_cfg
        else:
            import open_clip

            model = open_clip.create_model(arch, pretrained=None)
            tokenizer, cfg = open_clip.get_tokenizer(arch), open_clip.get_model_config(arch)
        from vadkit.models.clip import ClipModel

        return ClipModel(model, tokenizer, name=name, arch=arch, pretrained=None, model_cfg=cfg, device=device,
                         precision=precision)
    from vadkit.models import load_clip

    return load_clip(name, device=device, precision=precision)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", default="zoo:tiny-clip",
                    help="CLIP name, or random:tiny / random:<open_clip arch> "
                         "(random weights: no training, no download)")
    ap.add_argument("--frames", type=int, default=1600)
    ap.add_argument("--device", default=None)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--prefetch", type=int, default=2, help="decoder threads (the pipeline's default: 2)")
    args = ap.parse_args()

    from vadkit.features import extract_dataset, naive_extract, snippet_frame_indices

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    clip = _load(args.clip, device, args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        vids = {f"v{i}": _video(args.frames // 4, tmp / f"v{i}.mp4") for i in range(4)}
        n_enc = sum(len(snippet_frame_indices(args.frames // 4)) for _ in vids)
        t = time.perf_counter()
        for p in vids.values():
            naive_extract(p, clip)
        naive = n_enc / (time.perf_counter() - t)
        t = time.perf_counter()
        n_dec = decode_only(list(vids.values()), args.prefetch)
        decode = n_dec / (time.perf_counter() - t)
        t = time.perf_counter()
        extract_dataset(vids, args.clip, clip=clip, cache_root=tmp / "cache", batch_size=args.batch_size,
                        progress=False, precision=args.precision, prefetch=args.prefetch)
        fast = n_enc / (time.perf_counter() - t)
    assert n_dec == n_enc
    print(f"clip={args.clip} device={device} precision={args.precision} encoded frames={n_enc} "
          f"(one per 16-frame snippet of {len(vids)} videos x {args.frames // 4} frames), prefetch={args.prefetch}")
    print(f"naive per-frame loop : {naive:9.1f} frames/s")
    print(f"decode only (ceiling): {decode:9.1f} frames/s  (the same sampled frames, {max(1, args.prefetch)} threads)")
    print(f"vadkit pipeline      : {fast:9.1f} frames/s  = {fast / decode:6.1%} of the decode ceiling")
    print(f"speed-up over naive  : {fast / naive:9.2f}x")
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
