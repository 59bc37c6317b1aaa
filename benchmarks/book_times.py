"""Print each chapter's wall time from the results registry (time is visible, never asserted).

Usage: python benchmarks/book_times.py [--profile smoke]
"""

from __future__ import annotations

import argparse

from vadkit import registry
from vadkit.paths import results_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="smoke", choices=("smoke", "full"))
    ap.add_argument("--budget", type=float, default=20 * 60, help="whole-book budget in seconds (default 1200)")
    args = ap.parse_args()
    import json

    book = results_dir() / "_book" / f"{args.profile}.json"
    executed = json.loads(book.read_text())["chapters"] if book.exists() else {}
    records = registry.load_all(args.profile)
    names = sorted(set(records) | set(executed))
    if not names:
        print(f"no runs recorded under {results_dir()} for profile {args.profile}")
        return
    print(f"{'chapter':<30} {'in-notebook (s)':>16} {'with kernel (s)':>16}  status")
    total = 0.0
    for name in names:
        rec = records.get(name, {})
        ex = executed.get(name, {})
        total += ex.get("wall_time_s") or rec.get("wall_time_s") or 0.0
        print(f"{name:<30} {rec.get('wall_time_s') or float('nan'):>16.1f} {ex.get('wall_time_s') or float('nan'):>16.1f}"
              f"  {rec.get('status', '-')}{'' if ex.get('ok', True) else ' (book build: FAILED)'}")
    print(f"{'total':<30} {'':>16} {total:>16.1f}  = {total / args.budget:.2f} x the {args.budget:.0f} s budget")


if __name__ == "__main__":
    main()
