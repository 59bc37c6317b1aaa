"""``vadkit zoo ...``: train (or load) the tiny models on SynthVAD and show their held-out figures."""

from __future__ import annotations


def _known_entries(args) -> str | None:
    """Unknown entry names fail before any training starts (exit 2)."""
    if not args.entries:
        return None
    from vadkit.models.zoo import ALIASES, DEFAULT_CONFIGS

    bad = [e for e in args.entries if ALIASES.get(e, e) not in DEFAULT_CONFIGS]
    if bad:
        return f"argument entries: unknown zoo entr{'y' if len(bad) == 1 else 'ies'} {', '.join(map(repr, bad))}; " \
               f"known: {', '.join(DEFAULT_CONFIGS)}"
    return None


def register(subparsers) -> None:
    from vadkit.argtypes import add_check

    p = subparsers.add_parser("zoo", help="the tiny model zoo trained on SynthVAD (smoke profile)")
    sub = p.add_subparsers(dest="zoo_command", metavar="ACTION")
    t = sub.add_parser("train", help="train or load zoo entries (default: all)")
    from vadkit.models.zoo import ENTRIES

    t.add_argument("entries", nargs="*", help=f"{', '.join(ENTRIES)} (default: all)")
    t.add_argument("--force", action="store_true", help="retrain even if cached (one entry after another)")
    t.add_argument("--workers", type=int, default=None,
                   help="entries trained side by side, one process and one torch thread each (default: 2 on "
                        "2+ cores; 1 = in this process)")
    t.set_defaults(func=_train)
    add_check(t, _known_entries)
    s = sub.add_parser("show", help="held-out figures of trained entries")
    s.add_argument("entries", nargs="*")
    s.set_defaults(func=_show)
    add_check(s, _known_entries)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _names(entries):
    from vadkit.models.zoo import DEFAULT_CONFIGS

    return entries or list(DEFAULT_CONFIGS)


def _train(args) -> int:
    from vadkit.models import zoo

    if args.force:  # retraining on request stays sequential, with progress bars
        for e in _names(args.entries):
            print(f"{e}: {zoo.train_or_load(e, force=True)}")
    else:
        for e, d in zoo.train_all(_names(args.entries), workers=args.workers).items():
            print(f"{e}: {d}")
    return _show(args)


def _show(args) -> int:
    from vadkit.errors import ModelNotFoundError
    from vadkit.models import zoo

    rc = 0
    for e in _names(args.entries):
        try:
            meta = zoo.metadata(e)
        except ModelNotFoundError as err:
            print(err)
            rc = 1
            continue
        print(f"{e} (trained in {meta['train_seconds']} s)")
        for k, v in meta["metrics"].items():
            print(f"  {k:40s} {v:.4f}" if isinstance(v, float) else f"  {k:40s} {v}")
    return rc
