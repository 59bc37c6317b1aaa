"""``vadkit features ...``: extract snippet features with provenance; compare with released ones."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("features", help="extract CLIP snippet features (cached, with provenance); compare")
    sub = p.add_subparsers(dest="features_command", metavar="ACTION")

    e = sub.add_parser("extract", help="extract features of a dataset split (resumes; --shard i/n)")
    e.add_argument("--dataset", default="synthvad", help="dataset name (vadkit data info) [synthvad]")
    e.add_argument("--root", default=None, help="dataset root (default: the cached SynthVAD smoke split)")
    e.add_argument("--split", default=None, help="split name (default: all)")
    e.add_argument("--clip", default="zoo:tiny-clip", help="CLIP name: 'ViT-B-16:openai', 'zoo:tiny-clip' or a dir")
    e.add_argument("--crop", default="center", choices=("center", "ten_crop"))
    e.add_argument("--snippet-len", type=int, default=16)
    e.add_argument("--frames-per-snippet", type=int, default=1)
    e.add_argument("--layers", default="", help="comma-separated block indices whose patch tokens to keep")
    e.add_argument("--cache-root", default=None, help="parent of the feature store (default: $VADKIT_CACHE/features)")
    e.add_argument("--shard", default=None, help="i/n: this process takes every n-th video from i")
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    e.set_defaults(func=_extract)

    c = sub.add_parser("compare", help="cosine statistics of self-extracted vs released features")
    c.add_argument("store", help="a feature store directory (from `vadkit features extract`)")
    c.add_argument("released", help="released feature file or directory")
    c.add_argument("--format", default="vadclip", choices=("vadclip", "rtfm"))
    c.add_argument("--crop", type=int, default=0, help="crop index of the released features [0]")
    c.set_defaults(func=_compare)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _extract(args) -> int:
    from vadkit.data.datasets import load_dataset
    from vadkit.features import extract_dataset

    root = args.root
    if root is None:
        if args.dataset != "synthvad":
            from vadkit.errors import ConfigError

            raise ConfigError(f"dataset {args.dataset!r} needs --root")
        from vadkit.data.synth import smoke_dataset

        root = smoke_dataset()
    ds = load_dataset(args.dataset, Path(root), split=args.split)
    layers = tuple(int(x) for x in args.layers.split(",") if x.strip())
    store = extract_dataset(ds, args.clip, snippet_len=args.snippet_len, frames_per_snippet=args.frames_per_snippet,
                            crop=args.crop, layers=layers, cache_root=args.cache_root, shard=args.shard,
                            batch_size=args.batch_size, precision=args.precision)
    print(f"{store.root}: {len(store)} videos, {len(store.failures)} failures")
    for vid, err in store.failures.items():
        print(f"  failed {vid}: {err}")
    return 0


def _compare(args) -> int:
    from vadkit.features import FeatureStore, compare_stores, read_released

    store = FeatureStore(args.store)
    released = read_released(args.released, args.format, crop=args.crop)
    if not isinstance(released, dict):
        released = {Path(args.released).name.split("__")[0].removesuffix(".npy"): released}
    df = compare_stores(store, released)
    if df.empty:
        print("no videos in common")
        return 1
    print(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"\nmean cosine over {len(df)} videos: {df['cos_mean'].mean():.4f}")
    return 0
