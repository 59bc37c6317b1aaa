"""Strict parsing of LLM/VLM output: scores, yes/no, intervals, phrase lists.

Every parser either returns a well-formed value or raises :class:`vadkit.errors.ParseError` naming the
text and what was expected. None of them falls back to a default or guesses: a silent ``0.5`` (or a "No")
for an unparsable answer biases AUC in a way nobody can see afterwards (LAVAD/T-VAD/VERA-style pipelines are
very sensitive to this). Ambiguous output is a parse failure; callers count failures (:class:`ParseTally`)
and report the parse rate beside the metric.

:func:`parse_yes_no` lives in :mod:`vadkit.metrics.answers` (re-exported here), because the Yes/No accuracy
of :mod:`vadkit.metrics.text` reads answers with the same grammar and metrics sit below models.

Common to all parsers: matching is case-insensitive; a leading role or answer label is dropped
(``### Assistant:``, ``Assistant:``, ``Answer:``, ``A:``, ``Response:``, markdown ``**`` and quotes), so
VAD-LLaMA's ``"### Assistant: Yes, there are anomalies from 1.5s to 2s."`` reads as its answer. Each parser's
grammar is in its docstring; ``NUM`` is a decimal (``0.7``, ``.5``, ``1.``); a ``-`` between two numbers is a
range, never a sign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vadkit.errors import ParseError
from vadkit.metrics.answers import _HEDGE_RE, _clean, parse_yes_no  # noqa: F401 - the one yes/no grammar

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"
# a number not glued to a word; a "-" is its sign only when no digit precedes it (else it is a range dash)
_SNUM = rf"(?<![\w.])-?{_NUM}"
# ------------------------------------------------------------------------------------------------- scores
_SCORE_LABEL = r"(?:anomaly|abnormality|abnormal|anomalous|final)?\s*(?:score|rating|level)"
_CONF_WORDS = r"(?:confidence|confident|certainty|certain|sure)"
_LINK = r"\s*(?:(?:is|of|was|would be|=|:|-|~|≈)\s*)?(?:about|around|approximately|roughly|~)?\s*"
_VALUE = rf"(\[\s*{_NUM}\s*\]|{_NUM}\s*%?)"
_CONF_RE = re.compile(rf"\b{_CONF_WORDS}\b(?:\s*(?:score|level))?{_LINK}{_VALUE}", re.IGNORECASE)
_LABELLED_RE = re.compile(rf"\b{_SCORE_LABEL}\b{_LINK}{_VALUE}", re.IGNORECASE)
_SCALE_RE = re.compile(rf"(?:on\s+)?(?:a\s+)?(?:scale|range)\s+(?:of|from|between)?\s*{_NUM}\s*(?:-|–|to|and)\s*{_NUM}"
                       rf"|\(\s*{_NUM}\s*(?:-|–|to)\s*{_NUM}\s*\)|\[\s*0\s*,\s*1(?:\.0)?\s*\]|\bout of\s+{_NUM}"
                       r"|/\s*1(?:\.0+)?(?![\d.])",
                       re.IGNORECASE)
_UNIT_RE = re.compile(rf"{_NUM}\s*(?:s|sec|secs|seconds?|ms|min|mins|minutes?|fps|frames?|px|pixels?)\b"
                      rf"|\b(?:frame|frames|second|seconds|t\s*=)\s*{_NUM}|\d{{1,2}}:\d{{2}}(?:\.\d+)?", re.IGNORECASE)
_VALUE_RE = re.compile(rf"\[\s*({_SNUM})\s*\]|({_SNUM})\s*(%)?")


def _value(token: str) -> float:
    token = token.strip()
    if token.startswith("["):
        return float(token.strip("[] "))
    if token.endswith("%"):
        return float(token[:-1].strip()) / 100.0
    return float(token)


def parse_score(text: str, *, source: str | None = None) -> float:
    """One anomaly score in ``[0, 1]`` from model output; raise :class:`ParseError` otherwise.

    Grammar (after the common clean-up)::

        answer      := prose* (labelled | value) prose*
        labelled    := ["anomaly" | "abnormality" | "final"] ("score" | "rating" | "level") [link] value
        value       := NUM | NUM "%" | "[" NUM "]"            # LAVAD answers "[0.7]"; "80%" is 0.8
        link        := "is" | "of" | "=" | ":" | "-" | "about" | "around" | "approximately" ...

    Resolution, in order:

    1. numbers that are not a score are set aside: a confidence (``"confidence 90%"``, ``"I am 80% sure"``),
       a scale (``"on a scale from 0 to 1"``, ``"(0-1)"``, ``"[0, 1]"``, ``"out of 10"``), a time or frame
       (``"1.5s"``, ``"frame 120"``, ``"00:12"``);
    2. if one value is labelled as the score (``"anomaly score 0.2"``, ``"Score: [0.7]"``), it is the answer,
       unless another unlabelled value in ``[0, 1]`` competes with it (``"score 0.3 (was 0.5)"`` is ambiguous);
       several different labelled values are ambiguous;
    3. otherwise exactly one distinct value must remain.

    The value must lie in ``[0, 1]`` (no clipping: ``"1.5"`` and ``"-0.2"`` are errors). So
    ``"Confidence 90%, anomaly score 0.2"`` is 0.2, ``"between 0.2 and 0.4"`` and ``"N/A"`` are parse failures.
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError(str(text), "a score in [0, 1]", source)
    t = _clean(text)
    for rx in (_CONF_RE, _SCALE_RE):                       # 1. set aside what is not a score
        t = rx.sub(" ", t)
    t = re.sub(rf"\b\d{{1,3}}\s*%\s*{_CONF_WORDS}\b", " ", t, flags=re.IGNORECASE)   # "80% sure"
    t = _UNIT_RE.sub(" ", t)
    labelled = {_value(m.group(1)) for m in _LABELLED_RE.finditer(t)}
    rest = _LABELLED_RE.sub(" ", t)
    others = set()
    for m in _VALUE_RE.finditer(rest):
        others.add(_value(m.group(1)) if m.group(1) else _value(m.group(2) + (m.group(3) or "")))
    if len(labelled) > 1:
        raise ParseError(text, f"one score (found {len(labelled)} different labelled scores)", source)
    if labelled:
        competing = {v for v in others if 0.0 <= v <= 1.0} - labelled
        if competing:
            raise ParseError(text, "one score (a labelled score and another value in [0, 1])", source)
        values = labelled
    else:
        values = others
    if len(values) != 1:
        what = "no number" if not values else f"{len(values)} different numbers"
        raise ParseError(text, f"exactly one score in [0, 1] (found {what})", source)
    value = values.pop()
    if not 0.0 <= value <= 1.0:
        raise ParseError(text, f"a score in [0, 1] (got {value})", source)
    return value


# ------------------------------------------------------------------------------------------------- intervals
_T = rf"((?<![\w.:]){_NUM}(?::\d{{1,2}}(?:\.\d+)?)?)\s*(s|sec|secs|seconds?)?(?![\w:])"
_SEP = r"\s*(?:-|–|—|~|to|until|till|and)\s*"
_NEG_T = rf"((?<![\w.])-\s*{_NUM})"
_INTERVAL_RES = [
    re.compile(rf"[\[(]\s*{_T}\s*(?:,|-|–|to)\s*{_T}\s*[\])]", re.IGNORECASE),
    re.compile(rf"\b(?:from|between)\s+{_T}{_SEP}{_T}", re.IGNORECASE),
    re.compile(rf"{_T}\s*(?:-|–|—|~|to|until|till)\s*{_T}", re.IGNORECASE),
]
_NONE_RE = re.compile(r"^(?:none|nothing|no\s+intervals?|no\s+(?:abnormal|anomalous)\s+(?:events?|segments?|intervals?)"
                      r"|(?:there\s+(?:are|is)\s+)?no\s+anomal(?:y|ies)(?:\s+(?:in|found|detected)\b.*)?|\[\s*\])$",
                      re.IGNORECASE)
_NONE_START_RE = re.compile(r"^(?:none|nothing|no\s+(?:intervals?|anomal|abnormal))", re.IGNORECASE)
_COUNT_RE = re.compile(r"(?<![\w.])(\d+)\s+(?:anomal(?:y|ies)|(?:abnormal|anomalous)\s+events?|events?|segments?|"
                       r"intervals?)\b", re.IGNORECASE)


def _seconds(num: str) -> float:
    if ":" in num:
        minutes, sec = num.split(":", 1)
        return 60.0 * float(minutes) + float(sec)
    return float(num)


def parse_intervals(text: str, *, source: str | None = None) -> list[tuple[float, float]]:
    """Intervals ``[(start, end), ...]`` in the order given; an answer of "none" gives ``[]``.

    Grammar (after the common clean-up)::

        answer    := [YES | NO ","] body
        body      := none | prose* interval (prose* interval)* prose*
        interval  := "[" t ("," | "-" | "to") t "]"  |  "(" t "," t ")"
                   | ("from" | "between") t ("to" | "and" | "-" | "until") t
                   | t ("-" | "–" | "to" | "~" | "until") t
        t         := NUM [unit] | MM ":" SS[.f] [unit]        unit := s | sec | secs | second(s)
        none      := "none" | "no intervals" | "[]" | "(there are) no anomalies (in the video)" | ...
        count     := N ("anomalies" | "events" | "segments" | "intervals")        # optional, must match

    VAD-LLaMA's answers parse: ``"Yes, there are anomalies from 1.5s to 2s."`` -> ``[(1.5, 2.0)]`` and
    ``"No, there are no anomalies."`` -> ``[]``. Values are returned in the answer's unit (seconds when a
    unit or ``MM:SS`` is given; the caller knows what it asked for). Errors: a number outside every pair (a
    lone ``7``), a negative bound, ``start > end``, a "yes" with no interval, a "no" with intervals, a "none"
    with intervals, a stated count that differs from the intervals found.
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError(str(text), "intervals like [s, e]", source)
    t = _clean(text)
    if _HEDGE_RE.search(t):
        raise ParseError(text, "intervals (the answer hedges or refuses)", source)
    lead = re.match(r"^\s*(yes|no)\b[\s,.:;!-]*", t, re.IGNORECASE)
    verdict = None
    if lead:
        verdict = lead.group(1).lower() == "yes"
        t = t[lead.end():]
    body = t.strip().strip(".").strip()
    if _NONE_RE.match(body) or (not body and verdict is False):
        if verdict:
            raise ParseError(text, "intervals (the answer says yes but lists none)", source)
        return []
    neg = re.search(rf"[\[(,]\s*{_NEG_T}|\bfrom\s+{_NEG_T}", body, re.IGNORECASE)
    if neg:
        raise ParseError(text, f"non-negative interval bounds (got {neg.group(1) or neg.group(2)})", source)
    found: list[tuple[int, tuple[float, float]]] = []
    rest = body
    for rx in _INTERVAL_RES:
        def take(m, found=found):
            s, e = _seconds(m.group(1)), _seconds(m.group(3))
            found.append((m.start(), (s, e)))
            return " " * (m.end() - m.start())   # keep offsets so the order given is kept
        rest = rx.sub(take, rest)
    counts = [int(c) for c in _COUNT_RE.findall(rest)]
    rest = _COUNT_RE.sub(" ", rest)
    if re.search(r"\d", rest):
        raise ParseError(text, "intervals like [s, e] (every number in a pair)", source)
    out = [iv for _, iv in sorted(found)]
    if not out:
        if verdict is False:                     # "No, nothing abnormal happens." with no number in it
            return []
        what = "the answer says yes but lists none" if verdict else "found none"
        raise ParseError(text, f"intervals like [s, e] ({what})", source)
    if verdict is False:
        raise ParseError(text, "intervals (the answer says no but lists intervals)", source)
    if _NONE_START_RE.match(body):
        raise ParseError(text, "intervals (the answer says none but lists intervals)", source)
    for s, e in out:
        if s > e:
            raise ParseError(text, f"intervals with start <= end (got {s} > {e})", source)
    if counts and any(c != len(out) for c in counts):
        raise ParseError(text, f"{counts[0]} intervals as the answer states (found {len(out)})", source)
    return out


# ------------------------------------------------------------------------------------------------- phrases
_BULLET_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\(\d+\))\s*")


def parse_phrases(text: str, m: int, *, source: str | None = None) -> list[str]:
    """Exactly ``m`` distinct non-empty phrases.

    Grammar: one phrase per non-empty line when there are several lines, else ``;``-separated; each phrase
    loses a leading bullet (``-``, ``*``, ``•``, ``1.``, ``1)``, ``(1)``) and trailing full stops. A different
    count, or two phrases equal up to case, is an error.
    """
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


# ------------------------------------------------------------------------------------------------- counting
@dataclass
class ParseTally:
    """Counts parse failures instead of hiding them: ``tally(parse_score, text)`` returns the value or
    ``None`` and records the failure (``failures``: ``[(source, text, expected)]``); report ``rate``."""

    parsed: int = 0
    failures: list[tuple[str | None, str, str]] = field(default_factory=list)

    def __call__(self, parser, text: str, *args, source: str | None = None, **kwargs):
        try:
            value = parser(text, *args, source=source, **kwargs)
        except ParseError as err:
            self.failures.append((source, err.text, err.expected))
            return None
        self.parsed += 1
        return value

    @property
    def total(self) -> int:
        return self.parsed + len(self.failures)

    @property
    def rate(self) -> float:
        """Share of outputs that parsed (NaN before any)."""
        return self.parsed / self.total if self.total else float("nan")
