"""Time the packaged real-weight models: digest checks, Gemma-3-270m load and generation speed. Prints only.

Usage: HF_HUB_OFFLINE=1 python benchmarks/packaged_models.py [--threads 1] [--tokens 24] [--gguf]

``--gguf`` also times a load straight from the GGUF file (what the first use pays once, ~100 s on one thread).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--gguf", action="store_true", help="also time loading the GGUF directly (slow)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    from vadkit.models import GenerationConfig, load_llm, packaged

    for name, m in packaged.registry().items():
        try:
            paths, first = _timed(lambda: packaged.verified_files(name))
        except packaged.PackageMissingError as err:
            print(f"digest {name:20s} skipped: {err}")
            continue
        _, again = _timed(lambda: packaged.verified_files(name))
        mb = sum(p.stat().st_size for p in paths) / 2**20
        print(f"digest {name:20s} {len(paths):2d} files {mb:7.1f} MB  first {first:6.2f} s "
              f"({mb / max(first, 1e-9):6.0f} MB/s)  memoised {again * 1e3:6.2f} ms")

    _, t_join = _timed(packaged.gguf_path)
    print(f"gemma  joined GGUF ready in {t_join:.2f} s ({packaged.gguf_path()})")
    llm, t_load = _timed(lambda: load_llm("pkg:gemma3-270m"))
    print(f"gemma  load_llm('pkg:gemma3-270m') {t_load:.1f} s (converted dir {packaged.converted_dir()})")
    _, t_again = _timed(lambda: load_llm("pkg:gemma3-270m"))
    print(f"gemma  second load_llm in the process {t_again * 1e3:.2f} ms (cached instance)")
    if args.gguf:
        _, t_gguf = _timed(lambda: packaged._load_gguf(packaged.gguf_path()))
        print(f"gemma  load straight from the GGUF (transformers gguf_file=) {t_gguf:.1f} s")

    cfg = GenerationConfig(max_new_tokens=args.tokens, extra={"min_new_tokens": args.tokens})
    prompts = ["The capital of France is", "A man walks along the road and suddenly"]
    llm.generate(prompts[:1], GenerationConfig(max_new_tokens=2))   # warm-up
    for batch in (1, 2):
        out, t = _timed(lambda: llm.generate(prompts[:batch], dataclasses.replace(cfg, batch_size=batch)))
        n = batch * args.tokens
        print(f"gemma  generate batch {batch}: {n} tokens in {t:.2f} s = {n / t:.1f} tokens/s  -> {out[0]!r}")


if __name__ == "__main__":
    main()
