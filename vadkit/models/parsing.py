"""Strict parsing of LLM/VLM output: scores, yes/no, intervals, phrase lists.

Every parser either returns a well-formed value or raises :class:`vadkit.errors.ParseError` naming the
text and what was expected. None of them falls back to a default: a silent ``0.5`` for an unparsable
anomaly score biases AUC in a way nobody can see afterwards (LAVAD/T-VAD style pipelines are very
sensitive to this). Callers that want a fallback must catch the error and record it.

Accepted forms (case-insensitive, surrounding prose allowed only where stated):

* :func:`parse_score`: exactly one number in ``[0, 1]`` (``"0.8"``, ``"Score: 0.8."``), or a
  percentage ``"80%"``; LAVAD's prompt asks for a score in ``[0, 1]``. Several different numbers, or
  a number outside the range, is an error (no clipping).
* :func:`parse_yes_no`: the first word is ``yes``/``no`` (punctuation allowed), or the text contains
  exactly one of the words ``yes``/``no``.
* :func:`parse_intervals`: pairs ``[s, e]``/``(s, e)``/``s-e``/``s to e`` of non-negative numbers with
  ``s <= e``; ``"none"`` (alone) means the empty list.
* :func:`parse_phrases`: exactly ``m`` non-empty phrases, one per line (numbering/bullets stripped) or
  separated by ``;``; duplicates are an error.
"""

from __future__ import annotations

import re

from vadkit.errors import ParseError

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_PCT_RE = re.compile(rf"({_NUM})\s*%")
_NUM_RE = re.compile(_NUM)


def parse_score(text: str, *, source: str | None = None) -> float:
    """Parse one anomaly score in ``[0, 1]`` from model output; raise :class:`ParseError` otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ParseError(str(text), "a score in [0, 1]", source)
    pct = _PCT_RE.findall(text)
    if pct:
        values = {float(p) / 100.0 for p in pct}
    else:
        values = {float(n) for n in _NUM_RE.findall(text)}
    if len(values) != 1:
        what = "no number" if not values else f"{len(values)} different numbers"
        raise ParseError(text, f"exactly one score in [0, 1] (found {what})", source)
    value = values.pop()
    if not 0.0 <= value <= 1.0:
        raise ParseError(text, f"a score in [0, 1] (got {value})", source)
    return value


_YES = {"yes", "y", "true"}
_NO = {"no", "n", "false"}


def parse_yes_no(text: str, *, source: str | None = None) -> bool:
    """``True`` for yes, ``False`` for no; ambiguous or missing answers raise :class:`ParseError`."""
    if not isinstance(text, str):
        raise ParseError(str(text), "yes or no", source)
    words = re.findall(r"[a-zA-Z]+", text.lower())
    if not words:
        raise ParseError(text, "yes or no", source)
    if words[0] in _YES:
        return True
    if words[0] in _NO:
        return False
    has_yes = any(w == "yes" for w in words)
    has_no = any(w == "no" for w in words)
    if has_yes != has_no:
        return has_yes
    raise ParseError(text, "yes or no (answer is missing or ambiguous)", source)


_PAIR_RE = re.compile(rf"[\[(]?\s*({_NUM})\s*(?:,|-|–|to)\s*({_NUM})\s*[\])]?")


def parse_intervals(text: str, *, source: str | None = None) -> list[tuple[float, float]]:
    """Intervals ``[(start, end), ...]`` in the order given; ``"none"`` gives ``[]``.

    Every number must belong to a pair; a lone number, a negative value or ``start > end`` is an error.
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError(str(text), "intervals like [s, e]", source)
    stripped = text.strip().strip(".").strip().lower()
    if stripped in ("none", "no intervals", "[]"):
        return []
    out: list[tuple[float, float]] = []
    consumed = []
    for m in _PAIR_RE.finditer(text):
        s, e = float(m.group(1)), float(m.group(2))
        if s < 0 or e < 0:
            raise ParseError(text, f"non-negative interval bounds (got {s}, {e})", source)
        if s > e:
            raise ParseError(text, f"intervals with start <= end (got {s} > {e})", source)
        out.append((s, e))
        consumed.append(m.span())
    rest = text
    for a, b in reversed(consumed):
        rest = rest[:a] + " " + rest[b:]
    if not out or _NUM_RE.search(rest):
        raise ParseError(text, "intervals like [s, e] (every number in a pair)", source)
    return out


_BULLET_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\(\d+\))\s*")


def parse_phrases(text: str, m: int, *, source: str | None = None) -> list[str]:
    """Exactly ``m`` distinct non-empty phrases (one per line or ``;``-separated)."""
    if m <= 0:
        raise ValueError(f"m must be positive, got {m}")
    if not isinstance(text, str) or not text.strip():
        raise ParseError(str(text), f"{m} phrases", source)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    parts = lines if len(lines) > 1 else text.split(";")
    phrases = [_BULLET_RE.sub("", p).strip().strip(".").strip() for p in parts]
    phrases = [p for p in phrases if p]
    if len(phrases) != m:
        raise ParseError(text, f"exactly {m} phrases (found {len(phrases)})", source)
    if len({p.lower() for p in phrases}) != m:
        raise ParseError(text, f"{m} distinct phrases (found duplicates)", source)
    return phrases
