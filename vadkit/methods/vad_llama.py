"""VAD-LLaMA (Lv & Sun, 2024): the Video Anomaly Detector (VADor) with Long-Term Context, and the adaptor that
turns its features into a soft prompt of a frozen causal LM.

Notation: ``B`` videos, ``m`` clips per video (one feature per clip, in time order), ``D`` feature width, ``K`` list
length, ``E`` the LM's embedding width.

**Anomaly predictor g** (Sec. 3.1, 4.2): two fully connected layers, ``D -> hidden -> 2``, with a ReLU and dropout
between them; the two logits are (normal, abnormal), "following [13] (UMIL) that directly predicts binary logits",
and the anomaly score is ``p_i = softmax(g(x_i))[abnormal]``.

**Eq. 1, MIL BCE.** ``y' = max_i p_i`` over a video's clips, ``BCE(y', y)`` with the video label ``y``. The paper
adds "we implemented the max value scores and max margin scores in Eq 1 as [13, 14]" without the equations; we use

* max value (UMIL [13], and Eq. 1 as printed): ``y'_v = max_i p_i``;
* max margin (WSAL [14], Lv et al., TIP 2021, whose MIL term asks the gap between a video's most and least
  anomalous clip to be large in abnormal videos and small in normal ones): ``y'_m = max_i p_i - min_i p_i``;

and ``L = BCE(y'_v, y) + BCE(y'_m, y)`` (``mil_scores="value+margin"``; ``"value"`` keeps Eq. 1 alone).

**LTC** (Sec. 3.2). For clip ``i`` the lists hold features of *earlier* clips only (online, causal): the normal list
``N`` the ``K`` earlier clips with the lowest preliminary scores, the abnormal list ``A`` the ``K`` with the highest,
and (LSTC) the history list ``H`` the ``K`` most recent. The first clip sees empty lists; a list shorter than ``K``
(early clips) uses what it has. Eq. 2, ``(x_i X^T) X`` for ``X in {N, A, H}``: the paper writes no softmax, so the
default ``attention="dot"`` is exactly that (the weights are raw dot products of the features); ``"softmax"`` is the
scaled dot-product alternative. Eq. 3, ``x~_i = x_i + w_n n_i + w_a a_i (+ w_h h_i)``: the paper says the soft
weights come from "two fc layers, each corresponding to a feature list" and gives no shapes; we read ``w_X X_i`` as
a learned ``D x D`` linear map of the retrieved feature without bias (``weights="linear"``), so an empty list adds
exactly nothing; ``weights="scalar"`` is one learned scalar per list.

Preliminary scores (which clips enter ``N`` and ``A``): the paper says they come from "the preliminary anomaly
scores predicted from the VADor baseline" and that VADor and LTC are co-trained, but not whether the scores are
frozen; ``score_source="phase1"`` uses the frozen phase-1 predictor on the raw features, ``"cotrained"`` the
co-trained predictor on the raw features (detached). Either way no gradient passes through the top-K selection:
the indices come from detached scores and the listed features are frozen VE features.

**Phase 3** (Sec. 3.2): the anomaly prompt ``x^_i = [x_i, x~_i]`` (``[m, 2D]``) goes through the adaptor ``f`` (one
linear layer) to ``[m, E]`` soft tokens that replace ``[Video Tokens]`` in the question; only ``f`` trains, with the
cross-entropy of Eq. 4 on the answer tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LISTS = ("normal", "abnormal", "history")


# ---------------------------------------------------------------- the anomaly predictor and Eq. 1 ------------

class AnomalyPredictor(nn.Module):
    """g: ``[..., D] -> [..., 2]`` logits (normal, abnormal); two fc layers."""

    def __init__(self, dim: int, hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, 2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(F.relu(self.fc1(x))))


def abnormal_prob(logits: torch.Tensor) -> torch.Tensor:
    """``[..., 2] -> [...]``: the softmax probability of the abnormal logit."""
    return logits.softmax(-1)[..., 1]


def mil_bce(p: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, scores: str = "value+margin") -> torch.Tensor:
    """Eq. 1 on clip probabilities ``p [B, m]`` (``mask [B, m]`` marks real clips, ``labels [B]`` in {0, 1}).

    ``scores``: ``"value"`` (``y' = max_i p_i``) or ``"value+margin"`` (plus ``BCE(max_i p_i - min_i p_i, y)``).
    """
    if scores not in ("value", "value+margin"):
        raise ValueError(f"mil_scores must be 'value' or 'value+margin', got {scores!r}")
    eps = 1e-6
    top = p.masked_fill(~mask, -1.0).amax(1).clamp(eps, 1 - eps)
    loss = F.binary_cross_entropy(top, labels.float())
    if scores == "value+margin":
        low = p.masked_fill(~mask, 2.0).amin(1)
        margin = (top - low).clamp(eps, 1 - eps)
        loss = loss + F.binary_cross_entropy(margin, labels.float())
    return loss


# ---------------------------------------------------------------- LTC ------------------------------------------

def context_lists(scores: torch.Tensor, mask: torch.Tensor, k: int, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``[B, m, K]`` of the clips in list ``kind`` at every clip, and their validity ``[B, m, K]``.

    Causal: the list at clip ``i`` is drawn from real clips ``j < i`` only. ``normal``: the ``K`` lowest
    ``scores``; ``abnormal``: the ``K`` highest; ``history``: the ``K`` most recent. Ties go to the earlier clip.
    """
    b, m = scores.shape
    if k <= 0:
        z = torch.zeros(b, m, 0, dtype=torch.long, device=scores.device)
        return z, z.bool()
    j = torch.arange(m, device=scores.device)
    allowed = (j[None, :] < j[:, None])[None] & mask[:, None, :]          # [B, m(i), m(j)]
    if kind == "normal":
        key = -scores.detach().float()
    elif kind == "abnormal":
        key = scores.detach().float()
    elif kind == "history":
        key = j.float().expand(b, m)
    else:
        raise ValueError(f"unknown list {kind!r}; choose from {LISTS}")
    key = key - 1e-6 * j.float()                        # ties: earlier clip first
    key = key[:, None, :].expand(b, m, m).masked_fill(~allowed, float("-inf"))
    kk = min(k, m)
    top, idx = key.topk(kk, dim=-1)
    valid = torch.isfinite(top)
    if kk < k:                                          # fewer clips than K: pad with invalid slots
        pad = k - kk
        idx = torch.cat([idx, idx.new_zeros(b, m, pad)], -1)
        valid = torch.cat([valid, valid.new_zeros(b, m, pad)], -1)
    return idx, valid


def retrieve(x: torch.Tensor, idx: torch.Tensor, valid: torch.Tensor, attention: str = "dot") -> torch.Tensor:
    """Eq. 2: ``(x_i X^T) X`` over the listed features ``X = x[idx]``; ``[B, m, D]``, zero where a list is empty."""
    b, m, d = x.shape
    if idx.shape[-1] == 0:
        return torch.zeros_like(x)
    feats = torch.gather(x[:, None].expand(b, m, m, d), 2, idx[..., None].expand(*idx.shape, d))  # [B, m, K, D]
    w = torch.einsum("bmd,bmkd->bmk", x, feats)
    if attention == "dot":
        w = w * valid
    elif attention == "softmax":
        w = (w / d ** 0.5).masked_fill(~valid, float("-inf")).softmax(-1)
        w = torch.nan_to_num(w, nan=0.0) * valid
    else:
        raise ValueError(f"attention must be 'dot' or 'softmax', got {attention!r}")
    return torch.einsum("bmk,bmkd->bmd", w, feats)


class LTC(nn.Module):
    """Long-Term Context (``lists`` = normal, abnormal) or LSTC (plus history): Eqs. 2-3.

    ``forward(x [B, m, D], scores [B, m], mask [B, m]) -> x~ [B, m, D]``.
    """

    def __init__(self, dim: int, k: int = 4, lists: Sequence[str] = ("normal", "abnormal"), attention: str = "dot",
                 weights: str = "linear"):
        super().__init__()
        bad = [name for name in lists if name not in LISTS]
        if bad:
            raise ValueError(f"unknown LTC lists {bad}; choose from {LISTS}")
        if weights not in ("linear", "scalar"):
            raise ValueError(f"weights must be 'linear' or 'scalar', got {weights!r}")
        self.k, self.lists, self.attention, self.weights = int(k), tuple(lists), attention, weights
        if weights == "linear":
            self.w = nn.ModuleDict({name: nn.Linear(dim, dim, bias=False) for name in self.lists})
        else:
            self.w = nn.ParameterDict({name: nn.Parameter(torch.zeros(())) for name in self.lists})

    def context(self, x: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """The retrieved feature of every list, ``{name: [B, m, D]}``."""
        out = {}
        for name in self.lists:
            idx, valid = context_lists(scores, mask, self.k, name)
            out[name] = retrieve(x, idx, valid, self.attention)
        return out

    def forward(self, x: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = x
        for name, c in self.context(x, scores, mask).items():
            out = out + (self.w[name](c) if self.weights == "linear" else self.w[name] * c)
        return out


class VADor(nn.Module):
    """The Video Anomaly Detector: ``g`` on the VE features (phase 1) or on LTC-enhanced features (phase 2).

    ``forward(x [B, m, D], mask [B, m]) -> {"logits": [B, m, 2], "p": [B, m], "x_tilde": [B, m, D]}``.
    ``g0`` (``score_source="phase1"``) is a frozen copy of the phase-1 predictor that gives the preliminary scores.
    """

    def __init__(self, dim: int, hidden: int = 128, dropout: float = 0.1, ltc: LTC | None = None,
                 score_source: str = "cotrained"):
        super().__init__()
        if score_source not in ("cotrained", "phase1"):
            raise ValueError(f"score_source must be 'cotrained' or 'phase1', got {score_source!r}")
        self.g = AnomalyPredictor(dim, hidden, dropout)
        self.ltc = ltc
        self.score_source = score_source
        self.g0: AnomalyPredictor | None = None
        if ltc is not None and score_source == "phase1":
            self.g0 = AnomalyPredictor(dim, hidden, dropout)
            self.g0.requires_grad_(False)

    def init_from_phase1(self, phase1: "VADor") -> None:
        """Phase 2 starts from the phase-1 predictor (and freezes a copy of it when ``score_source="phase1"``)."""
        self.g.load_state_dict(phase1.g.state_dict())
        if self.g0 is not None:
            self.g0.load_state_dict(phase1.g.state_dict())

    def preliminary(self, x: torch.Tensor) -> torch.Tensor:
        g = self.g0 if self.g0 is not None else self.g
        with torch.no_grad():
            was = g.training
            g.eval()
            p = abnormal_prob(g(x))
            g.train(was)
        return p

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        xt = self.ltc(x, self.preliminary(x), mask) if self.ltc is not None else x
        logits = self.g(xt)
        return {"logits": logits, "p": abnormal_prob(logits), "x_tilde": xt}


CLIP_FEATURES = ("frame", "frame+diff")


def clip_features(x: np.ndarray, mode: str = "frame") -> np.ndarray:
    """The clip feature VADor reads, from per-clip frame features ``[T, D]``.

    ``"frame"``: the frame feature itself (``[T, D]``). ``"frame+diff"``: ``[x_t, x_t - x_{t-1}]`` (``[T, 2D]``, the
    first clip's difference is 0): Video-LLaMA's video Q-Former aggregates a clip's frames in order, so its feature
    carries motion, which one frame's CLIP embedding does not; the difference to the previous clip is the cheapest
    stand-in for that motion cue (a deviation, named in the chapter)."""
    x = np.asarray(x, dtype=np.float32)
    if mode == "frame":
        return x
    if mode != "frame+diff":
        raise ValueError(f"clip_feature must be one of {CLIP_FEATURES}, got {mode!r}")
    d = np.zeros_like(x)
    d[1:] = x[1:] - x[:-1]
    return np.concatenate([x, d], axis=-1)


def segment_sample(x: np.ndarray, m: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``[T, D] -> [min(T, m), D]``: ``m`` equal segments in time, one clip from each (random with ``rng``, the
    paper's training sampling; the segment's centre without). A video with ``T <= m`` keeps every clip."""
    t = len(x)
    if t <= m:
        return np.asarray(x, dtype=np.float32)
    edges = np.linspace(0, t, m + 1)
    lo, hi = np.floor(edges[:-1]).astype(int), np.maximum(np.floor(edges[1:]).astype(int), np.floor(edges[:-1]).astype(int) + 1)
    if rng is None:
        idx = (lo + hi - 1) // 2
    else:
        idx = np.array([rng.integers(a, b) for a, b in zip(lo, hi)])
    return np.asarray(x[idx], dtype=np.float32)


def segment_index(t: int, m: int) -> np.ndarray:
    """Which clip of ``segment_sample(x, m)`` (no ``rng``) covers each of the ``T`` clips: ``[T]`` ints."""
    if t <= m:
        return np.arange(t)
    edges = np.floor(np.linspace(0, t, m + 1)).astype(int)
    return np.clip(np.searchsorted(edges, np.arange(t), side="right") - 1, 0, m - 1)


# ---------------------------------------------------------------- Sultani et al. (the classical baseline) -------

class SultaniMLP(nn.Module):
    """Sultani et al. (CVPR 2018): ``D -> 512 -> 32 -> 1`` with ReLU, dropout 0.6 and a sigmoid; ``[B, m, D] ->
    [B, m]`` scores in (0, 1)."""

    def __init__(self, dim: int, dropout: float = 0.6):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, 512), nn.ReLU(), nn.Dropout(dropout), nn.Linear(512, 32),
                                 nn.Dropout(dropout), nn.Linear(32, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x)).squeeze(-1)


def sultani_loss(s_abn: torch.Tensor, s_nor: torch.Tensor, lam_smooth: float = 8e-5,
                 lam_sparse: float = 8e-5) -> torch.Tensor:
    """Sultani's MIL ranking loss on paired bags ``[P, m]`` (abnormal, normal videos, 32 segments each):
    ``max(0, 1 - max_i s_a,i + max_i s_n,i) + lam_smooth sum_i (s_a,i - s_a,i+1)^2 + lam_sparse sum_i s_a,i``,
    averaged over the pairs (their Eq. 7, lambda_1 = lambda_2 = 8e-5)."""
    hinge = F.relu(1.0 - s_abn.amax(1) + s_nor.amax(1))
    smooth = (s_abn[:, 1:] - s_abn[:, :-1]).pow(2).sum(1)
    sparse = s_abn.sum(1)
    return (hinge + lam_smooth * smooth + lam_sparse * sparse).mean()


# ---------------------------------------------------------------- phase 3: pseudo-instructions ------------------

QUESTION = "Is there any anomaly in the video?"
DESCRIBE = "Describe what happens in the video."


def video_description(duration_s: float, n_tokens: int, fps: float) -> str:
    """[Video Description]: "simple video clip details, e.g. video length and frame sample rate"."""
    return (f"The video lasts {duration_s:.1f} seconds at {fps:g} frames per second; "
            f"{n_tokens} clips were sampled, one every {duration_s / max(n_tokens, 1):.1f} seconds.")


def question_text(description: str, question: str = QUESTION) -> tuple[str, str]:
    """The text before and after the video tokens: ``### Human: <Video>`` | tokens | ``</Video> desc question
    ### Assistant:``."""
    return "### Human: <Video>", f"</Video> {description} {question} ### Assistant:"


def _sec(v: float) -> str:
    return f"{round(v, 1):g}s"


def answer_text(intervals: Sequence[tuple[float, float]]) -> str:
    """The paper's answer ("Yes, there are anomalies from 1.5s to 2s."); the paper prints no "No" template, ours is
    "No, there is no anomaly in the video."; several intervals are joined with "and"."""
    if not intervals:
        return "No, there is no anomaly in the video."
    parts = " and ".join(f"from {_sec(s)} to {_sec(e)}" for s, e in intervals)
    return f"Yes, there are anomalies {parts}."


def intervals_from_scores(scores: np.ndarray, threshold: float, seconds_per_step: float,
                          min_steps: int = 1) -> list[tuple[float, float]]:
    """Runs of ``scores > threshold`` as ``[(start_s, end_s)]`` (end exclusive), runs shorter than ``min_steps``
    dropped: the pseudo-instruction of a VADor score curve ("0.9" -> "from 1.5s to 2s")."""
    above = np.asarray(scores) > threshold
    out, i, n = [], 0, len(above)
    while i < n:
        if above[i]:
            j = i
            while j < n and above[j]:
                j += 1
            if j - i >= min_steps:
                out.append((i * seconds_per_step, j * seconds_per_step))
            i = j
        else:
            i += 1
    return out


def interval_iou(pred: Sequence[tuple[float, float]], truth: Sequence[tuple[float, float]], duration: float,
                 step: float = 0.1) -> float:
    """IoU of the union of ``pred`` and the union of ``truth`` on a ``step``-second grid over ``[0, duration)``;
    1 when both are empty (a normal video answered "no"), 0 when only one is."""
    n = max(1, int(np.ceil(duration / step)))
    t = (np.arange(n) + 0.5) * step

    def cover(ivs):
        c = np.zeros(n, dtype=bool)
        for s, e in ivs:
            c |= (t >= s) & (t < e)
        return c

    a, b = cover(pred), cover(truth)
    union = (a | b).sum()
    if union == 0:
        return 1.0
    return float((a & b).sum() / union)


# ---------------------------------------------------------------- phase 3: the adaptor and the soft prompt -----

class Adaptor(nn.Module):
    """f: one linear layer ``[m, 2D] -> [m, E]`` (the anomaly prompt ``[x_i, x~_i]`` to LM input embeddings)."""

    def __init__(self, in_dim: int, lm_dim: int):
        super().__init__()
        self.proj = nn.Linear(in_dim, lm_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@dataclass
class Turn:
    """One turn of a dialogue: the text before and after the video tokens (only the first turn shows the video)
    and the answer (the target in training; empty for the turn to be generated)."""

    before: str
    after: str
    answer: str = ""


def first_turn(description: str, question: str = QUESTION, answer: str = "") -> Turn:
    before, after = question_text(description, question)
    return Turn(before, after, answer)


def next_turn(question: str, answer: str = "") -> Turn:
    return Turn(f" ### Human: {question} ### Assistant:", "", answer)


class SoftPromptLM:
    """A causal LM (Hugging Face ``*ForCausalLM``) read through :class:`Adaptor` soft tokens; frozen as in the paper
    (``train_lm=False``), or with its weights trained beside the adaptor (``train_lm=True``, a deviation for LMs that
    were never instruction-tuned; see the chapter).

    ``loss(adaptor, video [B, m, 2D], vmask [B, m], dialogues)`` is Eq. 4: the cross-entropy of every answer token
    (nothing else is a target); ``generate(adaptor, video [m, 2D], turns)`` decodes the last turn's answer greedily
    from ``inputs_embeds``. The video's soft tokens sit between ``<Video>`` and ``</Video>`` of the first turn.
    """

    def __init__(self, model, tokenizer, max_new_tokens: int = 32, train_lm: bool = False):
        self.model, self.tok = model.eval(), tokenizer
        self.train_lm = bool(train_lm)
        self.model.requires_grad_(self.train_lm)
        self.max_new_tokens = max_new_tokens
        self.embed = model.get_input_embeddings()
        self.eos = tokenizer.eos_token_id
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos
        self._tokens: dict[str, list[int]] = {}

    @property
    def dim(self) -> int:
        return int(self.embed.weight.shape[1])

    def _ids(self, text: str) -> torch.Tensor:
        if text not in self._tokens:          # the template's pieces repeat in every example: tokenise each once
            self._tokens[text] = self.tok(text, add_special_tokens=False)["input_ids"] if text else []
        return torch.tensor(self._tokens[text], dtype=torch.long)

    def _sequence(self, soft: torch.Tensor, turns: Sequence[Turn], generate: bool):
        """Embeddings ``[L, E]`` and labels ``[L]`` of a dialogue (the last answer left open when ``generate``)."""
        bos = torch.tensor([self.tok.bos_token_id] if self.tok.bos_token_id is not None else [], dtype=torch.long)
        embs, labels = [self.embed(bos)], [torch.full((len(bos),), -100)]
        for t, turn in enumerate(turns):
            pre, post = self._ids(turn.before), self._ids(turn.after)
            video = soft if t == 0 else soft[:0]
            embs += [self.embed(pre), video, self.embed(post)]
            labels.append(torch.full((len(pre) + len(video) + len(post),), -100))
            if generate and t == len(turns) - 1:
                break
            ans = torch.cat([self._ids(" " + turn.answer), torch.tensor([self.eos])])
            embs.append(self.embed(ans))
            labels.append(ans)
        return torch.cat(embs, 0), torch.cat(labels, 0)

    def loss(self, adaptor: "Adaptor", video: torch.Tensor, vmask: torch.Tensor,
             dialogues: Sequence[Sequence[Turn]]) -> torch.Tensor:
        soft = adaptor(video)
        seqs = [self._sequence(soft[b][vmask[b]], dialogues[b], False) for b in range(len(dialogues))]
        n = max(len(s[0]) for s in seqs)
        emb = torch.zeros(len(seqs), n, self.dim)
        labels = torch.full((len(seqs), n), -100, dtype=torch.long)
        att = torch.zeros(len(seqs), n, dtype=torch.long)
        for b, (e, lab) in enumerate(seqs):                 # right padding: the loss positions are unaffected
            emb[b, :len(e)], labels[b, :len(e)], att[b, :len(e)] = e, lab, 1
        self.model.train(self.train_lm)
        return self.model(inputs_embeds=emb, attention_mask=att, labels=labels).loss

    @torch.no_grad()
    def generate(self, adaptor: "Adaptor", video: torch.Tensor, turns: Sequence[Turn]) -> str:
        """The answer to the last of ``turns`` (earlier turns carry their answers); ``video [m, 2D]``."""
        self.model.eval()
        emb, _ = self._sequence(adaptor(video), turns, True)
        emb = emb[None]
        out = self.model.generate(inputs_embeds=emb, attention_mask=torch.ones(emb.shape[:2], dtype=torch.long),
                                  max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1,
                                  eos_token_id=self.eos, pad_token_id=self.pad)
        return self.tok.decode(out[0], skip_special_tokens=True).strip()
