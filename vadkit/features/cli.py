"""``vadkit features ...``: extract snippet features with provenance; compare with released ones."""

from __future__ import annotations

from pathlib import Path


EXTRACT_EPILOG = """\
examples:
  vadkit features extract                                    # smoke: SynthVAD, zoo:tiny-clip
  vadkit features extract --dataset ucf_crime --root /data/UCF-Crime --clip ViT-B-16:openai --precision bf16
  vadkit features extract ... --shard 3/8                     # one of 8 jobs of a scheduler's job array
  torchrun --nproc_per_node 4 -m vadkit.cli features extract ...   # 4 GPUs of one machine, one shard each

The store is keyed by the dataset's identity (not its path or split), the model, the settings and the precision;
a rerun resumes (finished, undamaged videos are skipped; damaged ones are recomputed). Shards of one dataset
write disjoint videos of the same store.

exit codes: 0 every video of this shard has features; 1 some videos failed (listed on stderr; the others
finished and a rerun retries only the failed ones); 2 bad arguments; 130 interrupted (finished videos are kept).
"""


def register(subparsers) -> None:
    import argparse

    from vadkit.argtypes import add_check, int_list, nonnegative_int, positive_int, shard

    p = subparsers.add_parser("features", help="extract CLIP snippet features (cached, with provenance); compare")
    sub = p.add_subparsers(dest="features_command", metavar="ACTION")

    e = sub.add_parser("extract", help="extract features of a dataset split (resumes; --shard i/n)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXTRACT_EPILOG,
                       description="Extract CLIP snippet features of a dataset (or one split) into a cached, "
                                   "content-addressed feature store, with a progress bar.")
    e.add_argument("--dataset", default="synthvad", help="dataset name (vadkit data list) [synthvad]")
    e.add_argument("--root", default=None, help="dataset root (default: the cached SynthVAD smoke split)")
    e.add_argument("--split", default=None, help="split name (default: all)")
    e.add_argument("--clip", default="zoo:tiny-clip", help="CLIP name: 'ViT-B-16:openai', 'zoo:tiny-clip' or a dir")
    e.add_argument("--crop", default="center", choices=("center", "ten_crop"))
    e.add_argument("--snippet-len", type=positive_int, default=16, help="frames per snippet (>= 1) [16]")
    e.add_argument("--frames-per-snippet", type=positive_int, default=1,
                   help="frames encoded per snippet, 1 .. snippet-len [1]")
    e.add_argument("--layers", type=int_list, default=(),
                   help="comma-separated block indices whose patch tokens to keep")
    e.add_argument("--cache-root", default=None, help="parent of the feature store (default: $VADKIT_CACHE/features)")
    e.add_argument("--shard", type=shard, default=None,
                   help="i/n: this process takes every n-th video from i (0 <= i < n); under torchrun the "
                        "shard comes from RANK/WORLD_SIZE")
    e.add_argument("--batch-size", type=positive_int, default=64, help="frames per encoder batch (>= 1) [64]")
    e.add_argument("--prefetch", type=nonnegative_int, default=2, help="videos decoded ahead (>= 0) [2]")
    e.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    e.add_argument("--no-progress", action="store_true", help="no progress bar")
    e.set_defaults(func=_extract)
    add_check(e, lambda a: None if a.frames_per_snippet <= a.snippet_len else
              f"argument --frames-per-snippet: must be <= --snippet-len ({a.snippet_len}), got {a.frames_per_snippet}")

    c = sub.add_parser("compare", help="cosine statistics of self-extracted vs released features")
    c.add_argument("store", help="a feature store directory (from `vadkit features extract`)")
    c.add_argument("released", help="released feature file or directory")
    c.add_argument("--format", default="vadclip", choices=("vadclip", "rtfm"))
    c.add_argument("--crop", type=nonnegative_int, default=0, help="crop index of the released features [0]")
    c.set_defaults(func=_compare)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _extract(args) -> int:
    import sys

    from vadkit.data.datasets import load_dataset
    from vadkit.features import extract_dataset
    from vadkit.features.extract import launcher_shard

    root = args.root
    if root is None:
        if args.dataset != "synthvad":
            from vadkit.errors import ConfigError

            raise ConfigError(f"dataset {args.dataset!r} needs --root")
        from vadkit.data.synth import smoke_dataset

        root = smoke_dataset()
    ds = load_dataset(args.dataset, Path(root), split=args.split)
    shard = args.shard or launcher_shard()
    store = extract_dataset(ds, args.clip, snippet_len=args.snippet_len, frames_per_snippet=args.frames_per_snippet,
                            crop=args.crop, layers=args.layers, cache_root=args.cache_root, shard=shard,
                            batch_size=args.batch_size, precision=args.precision, prefetch=args.prefetch,
                            progress=not args.no_progress)
    failed = store.failed()
    n = len(store.requested or ())
    where = f" (shard {shard[0]}/{shard[1]})" if shard else ""
    print(f"{store.root}: {n - len(failed)} of {n} videos{where} have features, {len(failed)} failed; "
          f"the store holds {len(store)} videos")
    for vid, err in failed.items():
        print(f"  failed {vid}: {err}", file=sys.stderr)
    total_failed = _all_shards_finished(len(failed), store)
    return 1 if failed or total_failed else 0


def _all_shards_finished(n_failed: int, store) -> int:
    """Under torchrun (``MASTER_ADDR`` set, ``WORLD_SIZE > 1``): wait for every rank over a gloo process group,
    then rank 0 prints the whole store. Returns the failures summed over ranks (``n_failed`` otherwise).

    Ranks share nothing but the store directory while they work; the group is joined only at the end, so a
    slow rank never stalls the others' extraction, and a scheduler's job array (no torchrun) needs none of it.
    """
    import datetime
    import os

    if not os.environ.get("MASTER_ADDR") or int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return n_failed
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        return n_failed
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group("gloo", timeout=datetime.timedelta(hours=2))
    try:
        t = torch.tensor([n_failed], dtype=torch.int64)
        dist.all_reduce(t)
        if dist.get_rank() == 0:
            print(f"all {dist.get_world_size()} ranks finished: {len(store)} videos in {store.root}, "
                  f"{int(t.item())} failed")
        return int(t.item())
    finally:
        if owned:
            dist.destroy_process_group()


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
