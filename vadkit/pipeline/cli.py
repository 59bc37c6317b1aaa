"""``vadkit run``, ``vadkit book`` and ``vadkit results``."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def _parse_value(text: str):
    """``-p key value``: Python literals (numbers, lists, None, True) or plain strings, like papermill."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _params(pairs) -> dict:
    return {k: _parse_value(v) for k, v in (pairs or [])}


def cmd_run(args) -> int:
    from vadkit.pipeline.notebooks import resolve, run_notebook

    nb = resolve(args.notebook)
    out = Path(args.output) if args.output else Path("runs") / f"{nb.stem}-{args.profile}.ipynb"
    res = run_notebook(nb, out, profile=args.profile, parameters=_params(args.parameter),
                       timeout=args.timeout, log_output=args.log_output)
    print(f"{'ok' if res.ok else 'FAILED'}: {nb.stem} ({args.profile}) in {res.wall_time_s:.1f} s -> {res.output}")
    if res.error:
        print(res.error)
    return 0 if res.ok else 1


def cmd_book(args) -> int:
    from vadkit.pipeline.book import build_book

    report = build_book(args.profile, args.only or None, execute=not args.no_execute,
                        parameters=_params(args.parameter), timeout=args.timeout)
    print(report.format())
    return 0 if report.ok else 1


def cmd_results(args) -> int:
    from vadkit import registry
    from vadkit.pipeline.book import results_markdown

    if args.chapter:
        rec = registry.load(args.chapter, args.profile)
        if rec is None:
            print(f"no results for {args.chapter} ({args.profile}) in {registry.paths.results_dir()}")
            return 1
    print(results_markdown(args.profile, [args.chapter] if args.chapter else None))
    return 0


def _check_run(args) -> str | None:
    """The chapter exists and takes every ``-p`` key (checked before a kernel starts; exit 2)."""
    from vadkit.errors import ConfigError
    from vadkit.pipeline.notebooks import parameter_names, resolve

    try:
        nb = resolve(args.notebook)
        unknown = sorted({k for k, _ in args.parameter or ()} - set(parameter_names(nb)))
    except ConfigError as err:
        return f"argument notebook: {err}"
    if unknown:
        return f"argument -p: {nb.stem} has no parameter(s) {unknown}; it takes {parameter_names(nb)}"
    return None


def _check_book(args) -> str | None:
    from vadkit.errors import ConfigError
    from vadkit.pipeline.notebooks import resolve

    for name in args.only or ():
        try:
            resolve(name)
        except ConfigError as err:
            return f"argument --only: {err}"
    return None


def register(sub: argparse._SubParsersAction) -> None:
    from vadkit.argtypes import add_check, positive_int

    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("run", help="execute one chapter notebook with papermill", formatter_class=fmt,
                       description="Execute a chapter notebook headlessly (papermill).",
                       epilog="examples:\n  vadkit run 00_quickstart\n"
                              "  vadkit run notebooks/11_vadclip.ipynb --profile full -p data_root /data/UCF-Crime\n"
                              "  vadkit run 12 -p seeds '[0, 1, 2, 3, 4]'")
    p.add_argument("notebook", help="path, file name, stem (11_vadclip) or unique prefix (11)")
    p.add_argument("--profile", default="smoke", choices=("smoke", "full"))
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                   help="override a parameter of the chapter's parameters cell (repeatable)")
    p.add_argument("-o", "--output", help="executed notebook path (default runs/<chapter>-<profile>.ipynb)")
    p.add_argument("--timeout", type=positive_int, default=None, help="per-cell timeout in seconds (>= 1)")
    p.add_argument("--log-output", action="store_true", help="stream the notebook's output to the terminal")
    p.set_defaults(func=cmd_run)
    add_check(p, _check_run)

    b = sub.add_parser("book", help="execute all chapters and build the HTML book", formatter_class=fmt,
                       description="Execute every chapter once (papermill) and build the Jupyter Book (HTML, offline). "
                                   "A failing chapter is reported and the others still build.",
                       epilog="examples:\n  vadkit book                       # smoke profile, all chapters\n"
                              "  vadkit book --only 00 11          # some chapters\n"
                              "  vadkit book --profile full -p data_root /data")
    b.add_argument("--profile", default="smoke", choices=("smoke", "full"))
    b.add_argument("--only", nargs="+", metavar="CHAPTER", help="chapters to execute (stem or prefix)")
    b.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                   help="parameter passed to every chapter that declares it")
    b.add_argument("--no-execute", action="store_true", help="render the already executed notebooks only")
    b.add_argument("--timeout", type=positive_int, default=None, help="per-cell timeout in seconds (>= 1)")
    b.set_defaults(func=cmd_book)
    add_check(b, _check_book)

    r = sub.add_parser("results", help="print the results registry as Markdown tables")
    r.add_argument("chapter", nargs="?", help="one chapter (default: all)")
    r.add_argument("--profile", default="smoke", choices=("smoke", "full"))
    r.set_defaults(func=cmd_results)
