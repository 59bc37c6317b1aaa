"""Causal language models (Hugging Face ``AutoModelForCausalLM``) behind the :class:`~vadkit.models.base.LLM` role.

Full profile: an instruct/chat model id (Llama-3.x-Instruct, Qwen2.5-Instruct, ...). Smoke profile: the
tiny zoo's Llama (``"zoo:tiny-llm"``), saved with ``save_pretrained`` and loaded by the same
:func:`load_hf_llm`. Prompts go through the tokenizer's chat template when it has one; generation
settings are an explicit :class:`~vadkit.models.base.GenerationConfig` (greedy by default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from vadkit.errors import ModelNotFoundError
from vadkit.models.base import GenerationConfig


def hf_load_error(name: str, err: Exception) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"model {name!r} could not be loaded ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
        f"It is not a tiny-zoo entry ('zoo:...'), not a local directory, and not a hub id available offline "
        f"(HF_HUB_OFFLINE=1 needs a warm Hugging Face cache)")


def _gen_kwargs(config: GenerationConfig, tokenizer) -> dict:
    kw = dict(max_new_tokens=config.max_new_tokens, do_sample=config.do_sample, num_beams=config.num_beams,
              repetition_penalty=config.repetition_penalty, pad_token_id=tokenizer.pad_token_id,
              eos_token_id=tokenizer.eos_token_id)
    if config.do_sample:
        kw.update(temperature=config.temperature, top_p=config.top_p)
    kw.update(config.extra)
    return kw


class HFLLM:
    """A causal LM with its tokenizer. ``generate`` is batched (left padding), deterministic when greedy."""

    def __init__(self, model, tokenizer, name: str, device=None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.device = torch.device(device or "cpu")
        self.model.to(self.device)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"

    def format_prompt(self, prompt: str, chat: bool = True) -> str:
        if chat and getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                      add_generation_prompt=True)
        return prompt

    @torch.no_grad()
    def _generate_texts(self, texts: list[str], config: GenerationConfig) -> list[str]:
        torch.manual_seed(config.seed)
        out: list[str] = []
        for i in range(0, len(texts), max(1, config.batch_size)):
            chunk = texts[i:i + config.batch_size]
            enc = self.tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            gen = self.model.generate(**enc, **_gen_kwargs(config, self.tokenizer))
            out.extend(t.strip() for t in self.tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:],
                                                                       skip_special_tokens=True))
        return out

    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None, *, chat: bool = True) -> list[str]:
        """``N`` prompts -> ``N`` completions (chat-templated user turns when ``chat``)."""
        config = config or GenerationConfig()
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        return self._generate_texts([self.format_prompt(p, chat) for p in prompts], config)

    def chat(self, messages: list[dict[str, str]], config: GenerationConfig | None = None) -> str:
        """Multi-turn: ``[{"role": "user"|"assistant"|"system", "content": str}, ...]`` -> next reply."""
        config = config or GenerationConfig()
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self._generate_texts([text], config)[0]

    def describe(self) -> dict:
        return {"name": self.name, "class": type(self.model).__name__,
                "parameters": int(sum(p.numel() for p in self.model.parameters()))}


def load_hf_llm(name_or_path: str | Path, device=None, *, dtype=None, lora: str | Path | None = None) -> HFLLM:
    """Hub id or local ``save_pretrained`` directory -> :class:`HFLLM` (one code path for both).

    ``lora`` names a peft adapter directory applied on top (``PeftModel.from_pretrained``).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from vadkit.models.weights import check_weights, weights_errors

    name = str(name_or_path)
    check_weights(name)
    try:
        with weights_errors(name, "LLM"):
            tokenizer = AutoTokenizer.from_pretrained(name)
            model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype or torch.float32)
    except (OSError, ValueError) as err:
        raise hf_load_error(name, err) from err
    if lora is not None:
        from peft import PeftModel

        check_weights(lora)
        with weights_errors(lora, "LoRA adapter"):
            model = PeftModel.from_pretrained(model, str(lora))
    return HFLLM(model, tokenizer, name, device)


@torch.no_grad()
def candidate_logprobs(llm, prompts: Sequence[str], candidates: Sequence[str], *, chat: bool = True,
                       batch_size: int = 4) -> list[list[float]]:
    """``log p(candidate | prompt)`` of every candidate continuation, ``[P][C]`` (teacher forcing, no sampling).

    The prompt is formatted as :meth:`HFLLM.generate` formats it (chat template, or BOS for a base model) and
    tokenised without special tokens; each candidate is tokenised on its own and appended, so the sum runs over
    exactly the tokens the model would have to generate. Candidates that share all but their last token share one
    sequence (``"0.0"`` ... ``"0.9"`` are one forward pass when digits are single tokens): a forward pass per
    ``batch_size`` prompts x distinct prefixes (right padding; causal attention keeps the pads out of every scored
    position).
    """
    tok, model = llm.tokenizer, llm.model
    device = next(model.parameters()).device
    cand_ids = [tok(c, add_special_tokens=False)["input_ids"] for c in candidates]
    if any(not ids for ids in cand_ids):
        raise ValueError(f"a candidate tokenises to nothing: {list(candidates)}")
    prefixes = list(dict.fromkeys(tuple(c[:-1]) for c in cand_ids))      # one sequence per distinct prefix
    where = [prefixes.index(tuple(c[:-1])) for c in cand_ids]
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    out: list[list[float]] = []
    prompts = list(prompts)
    for i in range(0, len(prompts), max(1, batch_size)):
        chunk = prompts[i:i + batch_size]
        seqs, starts = [], []
        for p in chunk:
            pid = tok(llm.format_prompt(p, chat), add_special_tokens=False)["input_ids"]
            for pre in prefixes:
                seqs.append(pid + list(pre))
            starts.append(len(pid))
        L = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), L), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), L), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = torch.tensor(s)
            mask[r, :len(s)] = 1
        logp = torch.log_softmax(model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float(), -1)
        for j, start in enumerate(starts):
            row = []
            for cid, w in zip(cand_ids, where):
                r = j * len(prefixes) + w
                row.append(float(sum(logp[r, start - 1 + k, t] for k, t in enumerate(cid))))
            out.append(row)
    return out
