"""One cache for every model call: LLM generations, VLM chats with images, captions of frames.

Each call is one JSON entry ``<root>/<kind>/<key[:2]>/<key>.json`` written atomically with a content digest
(:func:`vadkit.identity.write_json_entry`). The key is :func:`vadkit.identity.cache_key` of

* the producer version (``model-calls``) and the call ``kind`` (``generate`` / ``chat`` / ``caption``),
* the model's identity (:func:`vadkit.models.model_identity`: weights digest for local and zoo models),
* the prompt or messages, the decoding settings (:class:`~vadkit.models.base.GenerationConfig`),
* the content hash of the inputs (:func:`array_digest` of the frames),

so a retrained model, another prompt, other decoding settings or other pixels never reuse an entry, and a moved
cache still hits. A damaged entry is treated as missing and recomputed. :data:`STATS` counts calls made and served
from the cache per kind (chapters print it as the cost of a run; tests assert that a rerun makes no new calls).

Default root: ``vadkit.paths.cache_dir()/model_calls``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from vadkit.identity import cache_key, producer, read_json_entry, write_json_entry

#: ``STATS["generate/made"]``, ``STATS["generate/cached"]``, ... since the process started (or :func:`reset_stats`).
STATS: Counter = Counter()


def reset_stats() -> None:
    STATS.clear()


def stats(kind: str | None = None) -> dict[str, int]:
    """``{"made": n, "cached": n}`` for one kind, or every counter."""
    if kind is None:
        return dict(STATS)
    return {"made": STATS[f"{kind}/made"], "cached": STATS[f"{kind}/cached"]}


def array_digest(frames: Any) -> str:
    """sha256 of frames (``[N, H, W, 3]`` uint8 array or a list of ``[H, W, 3]``): shape, dtype and bytes."""
    h = hashlib.sha256()
    items = frames if isinstance(frames, (list, tuple)) else [frames]
    for f in items:
        a = np.ascontiguousarray(np.asarray(f))
        h.update(str((a.shape, str(a.dtype))).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def _identity_of(model: Any) -> str:
    from vadkit.models import model_identity

    ident = getattr(model, "identity", None)
    if ident:
        return str(ident)
    name = getattr(model, "name", None)
    if not name:
        raise ValueError(f"{type(model).__name__} has no name: cannot key its outputs")
    return model_identity(name)


class ModelCallCache:
    """Per-call cache of model outputs (see the module docstring). ``root=None``: the default location."""

    def __init__(self, root: str | Path | None = None):
        from vadkit import paths

        self.root = Path(root) if root is not None else paths.cache_dir() / "model_calls"

    def key(self, kind: str, model_id: str, request: Any, settings: Any = None, inputs: str | None = None) -> str:
        return cache_key(producer("model-calls"), kind=kind, model=model_id, request=request, settings=settings,
                         inputs=inputs, length=32)

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str) -> Any | None:
        rec = read_json_entry(self.path(kind, key))
        return None if rec is None else rec.get("output")

    def put(self, kind: str, key: str, output: Any, meta: Mapping[str, Any]) -> None:
        write_json_entry(self.path(kind, key), {**meta, "kind": kind, "output": output})

    def run(self, kind: str, model: Any, requests: Mapping[Any, tuple[Any, str | None]], settings: Any,
            compute: Callable[[list], list], batch_size: int = 1, progress: bool = True,
            desc: str | None = None) -> dict:
        """Serve ``requests = {item_key: (request, inputs_digest)}`` from the cache; compute the rest in batches.

        ``compute([item_key, ...]) -> [output, ...]`` is called only for missing entries.
        """
        from tqdm.auto import tqdm

        model_id = _identity_of(model)
        out: dict = {}
        todo: list = []
        keys: dict = {}
        for k, (req, inp) in requests.items():
            keys[k] = self.key(kind, model_id, req, settings, inp)
            hit = self.get(kind, keys[k])
            if hit is not None:
                out[k] = hit
                STATS[f"{kind}/cached"] += 1
            else:
                todo.append(k)
        name = getattr(model, "name", model_id)
        bar = tqdm(total=len(todo), desc=desc or f"{kind} ({name})", disable=not progress or not todo, leave=False)
        bs = max(1, int(batch_size))
        for i in range(0, len(todo), bs):
            part = todo[i:i + bs]
            results = compute(part)
            if len(results) != len(part):
                raise RuntimeError(f"{name}: {kind} returned {len(results)} outputs for {len(part)} requests")
            for k, r in zip(part, results):
                self.put(kind, keys[k], r, {"model": model_id, "name": name, "request": requests[k][0],
                                            "settings": settings, "inputs": requests[k][1]})
                out[k] = r
                STATS[f"{kind}/made"] += 1
            bar.update(len(part))
        bar.close()
        return {k: out[k] for k in requests}


def _settings(config) -> dict:
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})


def cached_generate(llm, prompts: Mapping[Any, str], cache: ModelCallCache | str | Path | None = None,
                    config=None, *, progress: bool = True) -> dict:
    """LLM completions ``{key: text}`` for ``prompts = {key: prompt}``, one cached entry per prompt."""
    from vadkit.models.base import GenerationConfig

    config = config or GenerationConfig()
    cache = cache if isinstance(cache, ModelCallCache) else ModelCallCache(cache)
    settings = _settings(config)
    return cache.run("generate", llm, {k: (p, None) for k, p in prompts.items()}, settings,
                     lambda keys: llm.generate([prompts[k] for k in keys], config),
                     batch_size=config.batch_size, progress=progress, desc=f"generate ({llm.name})")


def cached_chat(vlm, requests: Mapping[Any, tuple[Any, list[dict]]], cache: ModelCallCache | str | Path | None = None,
                config=None, *, progress: bool = True) -> dict:
    """VLM answers ``{key: text}`` for ``requests = {key: (frames, messages)}`` (frames ``[N, H, W, 3]`` uint8)."""
    from vadkit.models.base import GenerationConfig

    config = config or GenerationConfig()
    cache = cache if isinstance(cache, ModelCallCache) else ModelCallCache(cache)
    reqs = {k: (msgs, array_digest(fr)) for k, (fr, msgs) in requests.items()}
    return cache.run("chat", vlm, reqs, _settings(config),
                     lambda keys: [vlm.chat(requests[k][0], requests[k][1], config) for k in keys],
                     progress=progress, desc=f"chat ({vlm.name})")


def cached_captions(captioner, frames: Mapping[Any, np.ndarray], prompt: str | None = None,
                    cache: ModelCallCache | str | Path | None = None, config=None, *,
                    progress: bool = True, batch_size: int = 16) -> dict:
    """One caption per frame: ``{key: text}`` for ``frames = {key: [H, W, 3] uint8}``."""
    cache = cache if isinstance(cache, ModelCallCache) else ModelCallCache(cache)
    settings = {"prompt": prompt, **(_settings(config) if config is not None else {})}
    reqs = {k: (prompt, array_digest(f)) for k, f in frames.items()}

    def compute(keys: Sequence) -> list[str]:
        batch = np.stack([np.asarray(frames[k]) for k in keys])
        kw = {} if config is None else {"config": config}
        return [str(c).strip() for c in captioner.caption(batch, prompt=prompt, **kw)]

    return cache.run("caption", captioner, reqs, settings, compute, batch_size=batch_size, progress=progress,
                     desc=f"captions ({captioner.name})")


def cached_candidate_logprobs(llm, prompts: Mapping[Any, str], candidates: Sequence[str],
                              cache: ModelCallCache | str | Path | None = None, *, batch_size: int = 4,
                              progress: bool = True) -> dict:
    """``{key: [log p(candidate | prompt) per candidate]}`` (:func:`vadkit.models.llm.candidate_logprobs`), one cached
    entry per prompt, keyed by the model's identity, the prompt and the candidate list (kind ``candidates``)."""
    from vadkit.models.llm import candidate_logprobs

    cache = cache if isinstance(cache, ModelCallCache) else ModelCallCache(cache)
    cands = [str(c) for c in candidates]
    return cache.run("candidates", llm, {k: ({"prompt": p, "candidates": cands}, None) for k, p in prompts.items()},
                     {"scoring": "teacher-forced sum of log-probs"},
                     lambda keys: candidate_logprobs(llm, [prompts[k] for k in keys], cands, batch_size=batch_size),
                     batch_size=batch_size, progress=progress, desc=f"score tokens ({llm.name})")
