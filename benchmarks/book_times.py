"""The time ledger of the book and the test suite, against each piece's budget (shown, never asserted).

Reads what the runs recorded:
* each chapter's wall time (the results registry and the book build's record, ``$VADKIT_RESULTS/_book/<profile>.json``);
* each tiny-zoo entry's training time (``zoo.json`` of every trained entry under ``$VADKIT_CACHE/zoo``), the
  two-worker schedule of the latest entries simulated from them, and the last parallel run's measured wall time
  (``_train_all.json``);
* each full-profile rehearsal test's duration (``$VADKIT_RESULTS/_rehearsals.json``, written by the test suite).

Budgets (issue #9, "Must hold"): zoo training at most 12 minutes cold in all; each chapter at most 3 minutes once
the zoo is cached (chapter 02 is charged without the zoo's training); each rehearsal at most 45 seconds; the whole
``.ci/run`` under 60 minutes cold on 2 cores.

Usage: python benchmarks/book_times.py [--profile smoke]
"""

from __future__ import annotations

import argparse
import json

from vadkit import paths, registry

BUDGETS_S = {"zoo": 12 * 60, "chapter": 3 * 60, "rehearsal": 45, "ci": 60 * 60}


def zoo_records() -> list[tuple[str, str, float, float]]:
    """``(directory, entry, mtime, train seconds)`` of every trained entry under ``$VADKIT_CACHE/zoo``, one read."""
    root = paths.cache_dir() / "zoo"
    out = []
    for meta in sorted(root.glob("*/zoo.json")) if root.is_dir() else ():
        try:
            rec = json.loads(meta.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        t = rec.get("train_seconds") or rec.get("train_time_s")
        if t is not None:
            out.append((meta.parent.name, rec.get("entry") or meta.parent.name.rsplit("-", 1)[0],
                        meta.stat().st_mtime, float(t)))
    return out


def zoo_times(records) -> dict[str, float]:
    """``{directory: seconds}``."""
    return {d: t for d, _, _, t in records}


def zoo_schedule(times: dict[str, float], workers: int = 2) -> float:
    """Wall time of training the latest version of every entry (``times``: ``{entry: seconds}``) with ``workers``
    entries side by side, in the order and with the dependencies of :func:`vadkit.models.zoo.train_all` (each
    entry's own time as recorded, so a time measured on a busy machine overstates it)."""
    from vadkit.models.zoo import ENTRIES, REQUIRES

    queue = [e for e in ENTRIES if e in times]
    free = [0.0] * workers  # when each worker is next free
    finish: dict[str, float] = {}
    while queue:
        w = min(range(workers), key=free.__getitem__)
        ready = [e for e in queue if all(r in finish and finish[r] <= free[w] for r in REQUIRES.get(e, ()))]
        if not ready:  # wait for the earliest dependency to finish
            free[w] = min(t for e, t in finish.items() if t > free[w])
            continue
        e = ready[0]
        queue.remove(e)
        finish[e] = free[w] + times[e]
        free[w] = finish[e]
    return max(finish.values(), default=0.0)


def latest_zoo_times(records) -> dict[str, float]:
    """``{entry: seconds}`` of the most recently trained directory of each entry."""
    best: dict[str, tuple[float, float]] = {}
    for _, e, mtime, t in records:
        if e not in best or mtime > best[e][0]:
            best[e] = (mtime, t)
    return {e: t for e, (_, t) in best.items()}


def rehearsal_times() -> dict[str, float]:
    f = paths.results_dir() / "_rehearsals.json"
    if not f.is_file():
        return {}
    try:
        return {k: float(v) for k, v in json.loads(f.read_text()).items()}
    except (OSError, json.JSONDecodeError, ValueError):
        return {}


def _row(name: str, seconds: float | None, budget: float, note: str = "") -> str:
    if seconds is None:
        return f"{name:<44} {'-':>9} {budget:>9.0f}  {note}"
    flag = "" if seconds <= budget else "  OVER BUDGET"
    return f"{name:<44} {seconds:>9.1f} {budget:>9.0f}  {seconds / budget:5.2f}x{flag} {note}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="smoke", choices=("smoke", "full"))
    args = ap.parse_args()

    book = paths.results_dir() / "_book" / f"{args.profile}.json"
    executed = json.loads(book.read_text())["chapters"] if book.exists() else {}
    records = registry.load_all(args.profile)
    zoo_recs = zoo_records()
    zoo = zoo_times(zoo_recs)
    print(f"{'piece':<44} {'time (s)':>9} {'budget':>9}")
    total = 0.0
    for name in sorted(set(records) | set(executed)):
        rec, ex = records.get(name, {}), executed.get(name, {})
        t = ex.get("wall_time_s") or rec.get("wall_time_s")
        total += t or 0.0
        note = rec.get("status", "-") + ("" if ex.get("ok", True) else " (book build: FAILED)")
        if name.startswith("02_") and t is not None and zoo:  # the latest entries: older versions are not retrained
            note += f"; includes zoo training when cold ({sum(latest_zoo_times(zoo_recs).values()):.0f} s recorded)"
        print(_row(f"chapter {name}", t, BUDGETS_S["chapter"], note))
    for entry, t in zoo.items():
        print(_row(f"zoo {entry}", t, BUDGETS_S["zoo"]))
    if zoo:
        latest = latest_zoo_times(zoo_recs)
        print(_row("zoo (latest entries, one after another)", sum(latest.values()), BUDGETS_S["zoo"]))
        print(_row("zoo (latest entries, 2 workers, simulated)", zoo_schedule(latest, 2), BUDGETS_S["zoo"],
                   "+ the SynthVAD generation when cold"))
        rec = paths.cache_dir() / "zoo" / "_train_all.json"
        if rec.is_file():
            run = json.loads(rec.read_text())
            print(_row(f"zoo (last train_all, {run['workers']} workers, measured)", run["wall_seconds"],
                       BUDGETS_S["zoo"], f"{len(run['entries'])} entries trained"))
    for test, t in sorted(rehearsal_times().items()):
        print(_row(f"rehearsal {test.split('::')[-1]}", t, BUDGETS_S["rehearsal"]))
    print(_row("book (all chapters, as recorded)", total, BUDGETS_S["ci"], "of the CI budget"))


if __name__ == "__main__":
    main()
