"""SynthVAD's disk use and generation time: the smoke set, the tiny zoo's pretraining corpus, the benchmark.

Prints, for each root, its size per ground-truth level (videos, masks, instance maps, activity text, ...),
bytes per video and per frame, and the wall time its manifest recorded for generation. Nothing is
asserted; the target (a new user's first ``make book`` needs at most 1 GB of SynthVAD) is printed beside
the total.

    python benchmarks/synth_disk.py              # the cached roots (generates them if missing)
    python benchmarks/synth_disk.py --no-generate
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

TARGET_BYTES = 1 << 30  # 1 GiB for everything a first `make book` generates


def usage(root: Path) -> dict[str, int]:
    """Bytes per top-level entry of a root (folders summed)."""
    out: dict[str, int] = defaultdict(int)
    for p in root.rglob("*"):
        if p.is_file():
            out[p.relative_to(root).parts[0]] += p.stat().st_size
    return dict(out)


def report(name: str, root: Path) -> int:
    meta = json.loads((root / "synthvad.json").read_text())
    sizes = usage(root)
    total = sum(sizes.values())
    n = len(meta["videos"])
    frames = sum(v["num_frames"] for v in meta["videos"].values())
    print(f"\n{name}: {root}\n  generator {meta['generator_version']}, {n} videos, {frames} frames, "
          f"generated in {meta.get('generation_seconds', float('nan')):.0f} s wall")
    print(f"  {'entry':<34}{'MB':>9}{'share':>8}")
    for k, b in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<34}{b / 1e6:>9.1f}{b / total:>8.1%}")
    print(f"  {'total':<34}{total / 1e6:>9.1f}   ({total / n / 1e3:.0f} kB/video, {total / frames / 1e3:.2f} kB/frame)")
    return total


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-generate", action="store_true", help="only report roots that already exist")
    args = ap.parse_args(argv)
    from vadkit.data.synth.builder import benchmark_dataset, cached_root, pretrain_dataset, smoke_dataset

    roots = {"smoke set": ("smoke", smoke_dataset), "pretraining corpus": ("pretrain", pretrain_dataset),
             "benchmark (generated when a chapter asks for it)": ("bench", benchmark_dataset)}
    total = 0
    for name, (kind, make) in roots.items():
        root = cached_root(kind)
        if not (root / "synthvad.json").is_file():
            if args.no_generate:
                print(f"\n{name}: not generated ({root})")
                continue
            root = make()
        total += report(name, Path(root))
    print(f"\nSynthVAD total {total / 1e6:.0f} MB (target <= {TARGET_BYTES / 1e6:.0f} MB): "
          f"{total / TARGET_BYTES:.2f} of the budget")


if __name__ == "__main__":
    main()
