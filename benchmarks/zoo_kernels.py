"""Time the image-tower kernels the zoo's budget rests on, as ratios on this machine. Prints only.

Usage: python benchmarks/zoo_kernels.py [--threads 1] [--repeats 4]

* EfficientNet-Lite0 frozen forward (the tiny LiT's corpus pass, 192 x 256 px): NCHW vs NHWC (channels_last, what
  :func:`vadkit.models.efficientnet.load_efficientnet_lite0` returns), and batches of 64 vs 16
  (:data:`vadkit.models.clip.CPU_BATCH`);
* the tiny CLIP's ResNet tower, forward + backward of one 16-image chunk (``ClipTrainConfig.micro_batch``) at
  96 px: NCHW vs NHWC, and one 64-image pass vs four chunks of 16.

Per-image milliseconds and the ratio; the outputs' largest absolute difference between layouts is printed too
(float rounding only). One torch thread by default: each zoo worker runs with one.
"""

from __future__ import annotations

import argparse
import time


def _ms_per_image(fn, n_images: int, repeats: int) -> float:
    fn()  # warm-up (allocations, oneDNN primitive caches)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return 1000.0 * (time.perf_counter() - t0) / (repeats * n_images)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=4)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from vadkit.models import zoo
    from vadkit.models.efficientnet import load_efficientnet_lite0

    r = args.repeats
    print(f"{'kernel':58s} {'ms/img':>8s} {'ratio':>7s}")
    net = load_efficientnet_lite0()
    x = torch.randn(64, 3, 192, 256)
    with torch.inference_mode():
        nhwc16 = _ms_per_image(lambda: net.forward_features(x[:16]), 16, r)
        nhwc64 = _ms_per_image(lambda: net.forward_features(x), 64, max(1, r // 2))
        y_nhwc = net.forward_features(x[:16])
        net = net.to(memory_format=torch.contiguous_format)
        nchw16 = _ms_per_image(lambda: net.forward_features(x[:16]), 16, r)
        y_nchw = net.forward_features(x[:16])
    diff = float((y_nhwc - y_nchw).abs().max())
    print(f"{'EfficientNet-Lite0 frozen, batch 16, NCHW':58s} {nchw16:8.1f} {1.0:7.2f}")
    print(f"{'EfficientNet-Lite0 frozen, batch 16, NHWC (default)':58s} {nhwc16:8.1f} {nchw16 / nhwc16:7.2f}x")
    print(f"{'EfficientNet-Lite0 frozen, batch 64, NHWC':58s} {nhwc64:8.1f} {nchw16 / nhwc64:7.2f}x")
    print(f"  max |NHWC - NCHW| on the stage-7 map: {diff:.1e}")

    clip = zoo._new_clip(zoo.ClipTrainConfig(tower="resnet", image_size=96))   # NHWC by default (ResNet)
    model = clip.model.train()
    px = torch.randn(64, 3, clip.image_size, clip.image_size)

    def step(chunk: int):
        for i in range(0, 64, chunk):
            model.encode_image(px[i:i + chunk]).sum().backward()

    nhwc = _ms_per_image(lambda: step(16), 64, r)
    whole = _ms_per_image(lambda: step(64), 64, r)
    model.visual.to(memory_format=torch.contiguous_format)
    nchw = _ms_per_image(lambda: step(16), 64, r)
    print(f"{'tiny CLIP ResNet fwd+bwd, chunks of 16, NCHW':58s} {nchw:8.1f} {1.0:7.2f}")
    print(f"{'tiny CLIP ResNet fwd+bwd, chunks of 16, NHWC (default)':58s} {nhwc:8.1f} {nchw / nhwc:7.2f}x")
    print(f"{'tiny CLIP ResNet fwd+bwd, one batch of 64, NHWC':58s} {whole:8.1f} {nchw / whole:7.2f}x")


if __name__ == "__main__":
    main()
