"""Prompt templates shared by the tiny zoo (training text) and the method chapters (inference).

One definition on both sides: the tiny LLM is trained on exactly these strings, so the smoke profile
exercises the prompts the method chapters send to Llama/Qwen in the full profile.

* :data:`AEGM_EXPLANATION_PROMPT`: Ex-VAD's Anomaly Explanation Generation Module (Sec. 3.2) gives the
  LLM the captions of a video and asks for an explanation of the anomaly. Fill ``{captions}``.
* :data:`LAAM_PHRASES_PROMPT`: Ex-VAD's Label Augmentation and Alignment Module (Sec. 3.3) asks the LLM
  for ``m`` descriptive phrases per category label. Fill ``{label}`` and ``{m}``; parse with
  :func:`vadkit.models.parsing.parse_phrases`.
* :data:`CAPTION_PROMPT`: the instruction a VLM gets when used as a captioner.
* :data:`ACTIVITY_PROMPTS`: MLLM-EVAD's question to a VLM shown two crops of one object (``"single"``) or of
  an interacting pair (``"pair"``) at ``t`` and ``t + delta``: what each does and what they do to each other.
"""

AEGM_EXPLANATION_PROMPT = (
    "Here are captions of frames from a surveillance video, in temporal order:\n{captions}\n"
    "Is anything anomalous happening? Explain what is anomalous, who is involved, where and when. "
    "If nothing is anomalous, say that the scene is normal."
)

LAAM_PHRASES_PROMPT = (
    "Give {m} short phrases that describe what a surveillance camera shows for the event category "
    "'{label}'. One phrase per line."
)

CAPTION_PROMPT = "Describe this frame in one sentence."

ACTIVITY_PROMPTS = {
    "single": ("The two images are crops of the same place in a surveillance video, {delta:g} s apart. "
               "In one short sentence, what does the object in the middle do and where?"),
    "pair": ("The two images are crops of the same place in a surveillance video, {delta:g} s apart, showing "
             "two objects. In one sentence each, say what the left one does, what the right one does, and "
             "what they do to each other; separate the three parts with semicolons."),
}

VQA_SYSTEM_PROMPT = "You are a surveillance video analyst. Answer briefly and truthfully."


def format_captions(captions) -> str:
    """Captions ``[str]`` or ``{frame: str}`` -> the numbered list used inside the AEGM prompt."""
    if isinstance(captions, dict):
        items = [captions[k] for k in sorted(captions)]
    else:
        items = list(captions)
    return "\n".join(f"{i + 1}. {c}" for i, c in enumerate(items))
