"""argparse types and checks shared by every ``vadkit`` sub-command: bad values fail up front, with exit 2.

A type raises :class:`argparse.ArgumentTypeError`, which argparse prints as
``vadkit features extract: error: argument --batch-size: must be an integer >= 1, got '0'`` and exits with 2,
before any work starts (no traceback, no per-video failure). Checks that involve several options (for example
``--frames-per-snippet <= --snippet-len``) are registered with :func:`add_check` and run by
:func:`vadkit.cli.main` right after parsing, with the same message format and exit code.

Exit codes of every sub-command: 0 success, 1 the work ran and something failed (named in the output),
2 bad arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
from typing import Callable

EXIT_CODES = "exit codes: 0 success, 1 the work ran and something failed (named above), 2 bad arguments, " \
             "130 interrupted"


def int_at_least(lo: int, what: str = "an integer") -> Callable[[str], int]:
    """Type: an integer ``>= lo``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {what} >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be {what} >= {lo}, got {text!r}")
        return value

    parse.__name__ = f"integer>={lo}"
    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """Type: an integer in ``[lo, hi]``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be an integer in [{lo}, {hi}], got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer in [{lo}, {hi}], got {text!r}")
        return value

    parse.__name__ = f"integer in [{lo}, {hi}]"
    return parse


def shard(text: str) -> tuple[int, int]:
    """Type: ``i/n`` with ``0 <= i < n`` (the first of ``n`` shards is ``0/n``)."""
    import re

    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"must look like i/n (e.g. 0/4), got {text!r}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"must be i/n with 0 <= i < n (shards of n are 0/n .. {max(n, 1) - 1}/n), "
                                         f"got {text!r}")
    return i, n


def int_list(text: str) -> tuple[int, ...]:
    """Type: comma-separated integers (``"0,5,11"``; empty: none)."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers (e.g. 5,11), got {text!r}") from None


def add_check(parser: argparse.ArgumentParser, check: Callable[[argparse.Namespace], str | None]) -> None:
    """Register ``check(args) -> problem or None`` on ``parser``; :func:`run_checks` runs them after parsing."""
    checks = list(parser.get_default("_checks") or [])
    checks.append(check)
    parser.set_defaults(_checks=checks, _parser=parser)


def run_checks(args: argparse.Namespace) -> None:
    """Run the checks of the chosen sub-command; the first problem exits 2 with the sub-command's usage."""
    for check in getattr(args, "_checks", None) or ():
        problem = check(args)
        if problem:
            args._parser.error(problem)
