"""The one grammar for yes/no answers of models: :func:`parse_yes_no` (and the answer clean-up all parsers share).

It lives in the metrics layer because both the Yes/No accuracy (:func:`vadkit.metrics.text.normalize_yes_no`)
and the model-output parsers (:mod:`vadkit.models.parsing`, which re-exports it) read answers with it, and
metrics sit below models. See :mod:`vadkit.models.parsing` for the conventions every parser follows: no
fallback, no guess; ambiguous output raises :class:`~vadkit.errors.ParseError` and is counted.
"""

from __future__ import annotations

import re

from vadkit.errors import ParseError

_LEAD_RE = re.compile(r"^\s*(?:[#>*`\"'\s]*(?:assistant|answer|response|output|final answer|a)\s*[:\-]\s*)+",
                      re.IGNORECASE)


def _clean(text: str) -> str:
    """The answer without a leading role/answer label, markdown emphasis and surrounding quotes."""
    t = _LEAD_RE.sub("", text.strip())
    t = t.replace("**", "").replace("__", "")
    return t.strip().strip("\"'`").strip()


# ------------------------------------------------------------------------------------------------- yes / no
_YES_WORDS = {"yes", "yeah", "yep", "yup", "true", "correct", "affirmative"}
_NO_WORDS = {"no", "nope", "false", "incorrect", "negative"}
_HEDGE_RE = re.compile(
    r"\bn/?a\b|\bnot\s+(?:sure|certain|clear|possible\s+to\s+(?:tell|say|determine))|\bunsure\b|\buncertain\b"
    r"|\bunclear\b|\bmaybe\b|\bperhaps\b|\bpossibly\b|\bprobably\b|\bmight\b|\bunknown\b|\bno\s+idea\b"
    r"|\b(?:i\s+)?(?:do\s+not|don'?t|cannot|can'?t|can\s+not)\s+(?:know|tell|say|determine|be\s+sure|answer)"
    r"|\bhard\s+to\s+(?:say|tell)\b|\b(?:cannot|can'?t)\s+be\s+determined\b|\binsufficient\b"
    r"|\bnot\s+enough\s+(?:information|evidence)|\bimpossible\s+to\s+(?:tell|say|determine)",
    re.IGNORECASE)
_LEADIN_RE = re.compile(r"^(?:i\s+think|i\s+believe|i\s+would\s+say|i'?d\s+say|my\s+answer\s+is|the\s+answer\s+is"
                        r"|answer\s+is|so\s+the\s+answer\s+is)[\s:,]*", re.IGNORECASE)
_EXPLICIT_RE = re.compile(r"\b(?:the\s+)?answer(?:\s+is|\s*:)\s*[\"'*]*\s*(yes|no)\b", re.IGNORECASE)
_NEG_LEAD_RE = re.compile(r"^(?:not\s+(?:at\s+all|really)|(?:absolutely|definitely|certainly|of\s+course)\s+not)\b",
                          re.IGNORECASE)
_POS_LEAD_RE = re.compile(r"^(?:absolutely|definitely|certainly|indeed|of\s+course)\b(?!\s+not)", re.IGNORECASE)
# statements that answer "is there an anomaly?" without a yes/no word (VQA answers of MLLM-EVAD / T-VAD style)
_ANOMALY_NO_RE = re.compile(
    r"^(?:there\s+(?:is|are|was|were)\s+no|no)\s+(?:anomal|abnormal|unusual|suspicious)"
    r"|^nothing\s+(?:anomalous|abnormal|unusual|suspicious|strange)"
    r"|\b(?:is|looks|seems|appears)\s+(?:normal|not\s+(?:anomalous|abnormal|unusual))\b", re.IGNORECASE)
_ANOMALY_YES_RE = re.compile(
    r"^there\s+(?:is|are|was|were)\s+(?:an?|some|one|two|several)\s+(?:anomal|abnormal)"
    r"|\b(?:is|looks|seems|appears)\s+(?:anomalous|abnormal)\b", re.IGNORECASE)
_CLAUSE_VERDICT_RE = re.compile(r"(?:^|[,.;:!?…\-–]|\b(?:and|or|but|actually|wait))\s*(yes|no)\b", re.IGNORECASE)


def _first_sentence(t: str) -> str:
    """Up to the first sentence end (an ellipsis "..." does not end a sentence: "No... actually yes")."""
    m = re.search(r"(?<!\.)[.!?](?!\.)(?=\s|$)|\n|…(?=\s*[A-Z])", t)
    return t[: m.start()] if m else t


def parse_yes_no(text: str, *, source: str | None = None) -> bool:
    """``True`` for yes, ``False`` for no; missing, hedged or contradictory answers raise :class:`ParseError`.

    Grammar (after the common clean-up; the *first sentence* ends at the first ``.``, ``!``, ``?`` or newline)::

        answer   := [lead-in] verdict [rest]
        verdict  := YES | NO      YES = yes | yeah | yep | yup | true | correct | affirmative
                                  NO  = no | nope | false | incorrect | negative
        lead-in  := "I think" | "I believe" | "I would say" | "I'd say" | "my answer is" | "the answer is"
        explicit := ... "answer is" | "answer:" (yes | no) ...     # anywhere in the text, exactly one
        adverb   := "Not at all" | "Not really" | "Absolutely/Definitely/Certainly/Of course not"  -> no
                  | "Absolutely" | "Definitely" | "Certainly" | "Indeed" | "Of course"             -> yes
        anomaly  := "There is no anomaly ..." | "No abnormal ..." | "Nothing unusual ..." | "... is normal"
                                                                                              -> no
                  | "There is an anomaly ..." | "The video is abnormal" | "... looks anomalous" -> yes

    The single letters ``y`` / ``n`` count only as the whole answer. The answer is a parse failure when
    its first sentence hedges or refuses (``N/A``, ``not sure``, ``maybe``, ``possibly``, ``probably``,
    ``unclear``, ``I cannot tell``, ...), when it holds both verdicts at clause starts (``"Yes and no"``,
    ``"No... actually yes"``), or when no verdict leads the answer: a ``no`` inside a sentence (``"There is
    no car"``, ``"There is no doubt he runs"``) is a determiner, not an answer. VERA's and the zoo VLM's
    answers (``"Yes."``, ``"No, nobody falls."``, ``"yes, a person is running"``) parse.
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError(str(text), "yes or no", source)
    t = _clean(text)
    bare = t.strip(" .!?").lower()
    if bare in ("y", "n"):
        return bare == "y"
    first = _first_sentence(t)
    if _HEDGE_RE.search(first):
        raise ParseError(text, "yes or no (the answer hedges or refuses)", source)
    head = _LEADIN_RE.sub("", first.strip())
    words = re.findall(r"[a-z]+", head.lower())
    verdict = None
    if _NEG_LEAD_RE.match(head) or _POS_LEAD_RE.match(head):
        verdict = bool(_POS_LEAD_RE.match(head))
    elif words and words[0] in _YES_WORDS | _NO_WORDS:
        verdict = words[0] in _YES_WORDS
    elif bool(_ANOMALY_NO_RE.search(head)) != bool(_ANOMALY_YES_RE.search(head)):
        verdict = bool(_ANOMALY_YES_RE.search(head))
    else:
        explicit = {m.group(1).lower() for m in _EXPLICIT_RE.finditer(t)}
        if len(explicit) == 1:
            verdict = explicit.pop() == "yes"
    if verdict is None:
        raise ParseError(text, "yes or no (no verdict leads the answer)", source)
    at_clauses = {m.group(1).lower() for m in _CLAUSE_VERDICT_RE.finditer(head)}
    if len(at_clauses) > 1:
        raise ParseError(text, "yes or no (the answer says both)", source)
    return verdict
