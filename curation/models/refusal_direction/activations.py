"""Residual-stream activations at the post-instruction token positions, batched, with a content-hash disk cache.

Layer `L` means the residual stream entering decoder layer `L` (HF `hidden_states[L]`), so `0 <= L < n_layers`.
Collecting one layer stops the forward pass there (a pre-hook raises), which skips the layers above it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curation.core.errors import InputError, ModelError
from curation.core.hashing import sha
from curation.models.embeddings import EmbeddingCache
from curation.models.lm import PLAIN_TEMPLATE, LoadedLM, format_prompts

SENTINEL = "\u2063BOUNDARY_SENTINEL\u2063"
POSITION_MODES = ("mean", "last")


class _StopForward(Exception):
    """Raised by the capture hook to stop the forward pass at the requested layer."""


def decoder_layers(model: Any) -> Any:
    """The model's list of decoder blocks (Llama/Mistral/Qwen `model.layers`, GPT-2 `transformer.h`, ...)."""
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers", "transformer.layers"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    import torch

    n = int(getattr(model.config, "num_hidden_layers", -1))
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            return module
    raise ModelError(f"cannot find the decoder layers of {type(model).__name__}",
                     "use a Llama/Mistral/Qwen/GPT-2/GPT-NeoX style causal LM")


def check_layer(lm: LoadedLM, layer: int) -> int:
    """Validate a layer index against the model (negative indexes count from the end)."""
    n = lm.num_layers
    if not -n <= layer < n:
        raise InputError(f"layer index {layer} is out of range for '{lm.model_id}' ({n} layers)",
                         f"pass a layer between 0 and {n - 1}")
    return layer % n


def instruction_suffix(lm: LoadedLM) -> str:
    """The text after the user message up to where the model starts answering (the generation prompt)."""
    if not lm.has_chat_template:
        return PLAIN_TEMPLATE.split("{prompt}")[1]
    text = lm.tokenizer.apply_chat_template([{"role": "user", "content": SENTINEL}], tokenize=False,
                                            add_generation_prompt=True)
    return text[text.rindex(SENTINEL) + len(SENTINEL):]


def suffix_token_count(lm: LoadedLM) -> int:
    """How many tokens the post-instruction positions span (computed once per model)."""
    cached = getattr(lm, "_suffix_tokens", None)
    if cached is None:
        ids = lm.tokenizer(instruction_suffix(lm), add_special_tokens=False)["input_ids"]
        cached = max(1, len(ids))
        lm._suffix_tokens = cached  # type: ignore[attr-defined]
    return cached


def model_fingerprint(lm: LoadedLM) -> str:
    """A cheap content fingerprint of the weights (config + a checksum of a few tensors) for cache keys."""
    cached = getattr(lm, "_fingerprint", None)
    if cached is None:
        import torch

        params = list(lm.model.parameters())
        with torch.no_grad():
            sums = [float(p.detach().float().abs().sum()) for p in (params[0], params[len(params) // 2], params[-1])]
        cached = sha(f"{lm.model_id}\x00{lm.model.config.to_json_string()}\x00{sums}", 24)
        lm._fingerprint = cached  # type: ignore[attr-defined]
    return cached


class ActivationCache:
    """Activation vectors keyed by sha(model fingerprint, position mode, layer, formatted text); counts hits."""

    def __init__(self, path: Path) -> None:
        self.store = EmbeddingCache(Path(path))
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found = self.store.get_many(list(dict.fromkeys(keys)))
        self.hits += sum(k in found for k in keys)
        self.misses += sum(k not in found for k in keys)
        return found

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        self.store.put_many(keys, vectors.reshape(len(keys), -1))

    def close(self) -> None:
        self.store.close()


def workspace_activation_cache(workspace_root: Path | str, lm: LoadedLM) -> ActivationCache:
    """The activation cache of a workspace, one SQLite file per model fingerprint."""
    return ActivationCache(Path(workspace_root) / "cache" / "activations" / f"{model_fingerprint(lm)}.sqlite")


def _tokenize(lm: LoadedLM, texts: Sequence[str], max_length: int) -> dict[str, Any]:
    """Left-padded, left-truncated batch (truncating on the left keeps the post-instruction tokens)."""
    tok = lm.tokenizer
    side = tok.truncation_side
    tok.truncation_side = "left"
    try:
        enc = tok(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=max_length,
                  add_special_tokens=not lm.has_chat_template)
    finally:
        tok.truncation_side = side
    return {k: v.to(lm.device) for k, v in enc.items()}


def _accepts_position_ids(model: Any) -> bool:
    return "position_ids" in inspect.signature(model.forward).parameters


def _pool(hidden: Any, n_suffix: int, position: str) -> Any:
    """Mean (or last) of the last `n_suffix` positions; with left padding they are real tokens of every row."""
    window = hidden[:, -n_suffix:, :] if position == "mean" else hidden[:, -1:, :]
    return window.float().mean(dim=1)


def forward_activations(lm: LoadedLM, formatted: Sequence[str], layer: int | None, position: str = "mean",
                        max_length: int = 1024) -> np.ndarray:
    """One batch: [batch, hidden] at `layer` (forward stopped there), or [batch, n_layers, hidden] when None."""
    import torch

    enc = _tokenize(lm, formatted, max_length)
    if _accepts_position_ids(lm.model):
        mask = enc["attention_mask"]
        enc["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
    n_suffix = min(suffix_token_count(lm), int(enc["attention_mask"].sum(-1).min()))
    with torch.no_grad():
        if layer is None:
            hidden_states = lm.model(**enc, output_hidden_states=True, use_cache=False).hidden_states
            stacked = torch.stack([_pool(h, n_suffix, position) for h in hidden_states[: lm.num_layers]], dim=1)
            return stacked.cpu().numpy()
        captured: dict[str, Any] = {}

        def capture(_module: Any, args: tuple, kwargs: dict) -> None:
            hidden = args[0] if args else kwargs["hidden_states"]
            captured["h"] = _pool(hidden, n_suffix, position)
            raise _StopForward

        handle = decoder_layers(lm.model)[layer].register_forward_pre_hook(capture, with_kwargs=True)
        try:
            lm.model(**enc, use_cache=False)
        except _StopForward:
            pass
        finally:
            handle.remove()
        return captured["h"].cpu().numpy()


def collect_activations(
    lm: LoadedLM,
    prompts: Sequence[str],
    layer: int | None = None,
    position: str = "mean",
    batch_size: int = 16,
    cache: ActivationCache | None = None,
    max_length: int = 1024,
    show_progress: bool = False,
) -> np.ndarray:
    """Activations of each prompt (chat template applied): [n, hidden] at one layer, or [n, n_layers, hidden].

    Unique prompts are run once, longest-first in batches (less padding); cached vectors are reused.
    """
    if position not in POSITION_MODES:
        raise InputError(f"unknown position mode '{position}'", f"use one of: {', '.join(POSITION_MODES)}")
    if layer is not None:
        layer = check_layer(lm, layer)
    hidden = int(lm.model.config.hidden_size)
    width = hidden if layer is not None else lm.num_layers * hidden
    prompts = list(prompts)
    if not prompts:
        return np.zeros((0, hidden) if layer is not None else (0, lm.num_layers, hidden), dtype=np.float32)
    formatted = format_prompts(lm, prompts)  # warns once when the model has no chat template
    tag = f"{model_fingerprint(lm)}\x00{position}\x00{'all' if layer is None else layer}\x00{max_length}"
    keys = [sha(f"{tag}\x00{text}", 32) for text in formatted]
    known = cache.get_many(keys) if cache else {}
    todo = list(dict.fromkeys(k for k in keys if k not in known))
    if todo:
        text_of = dict(zip(keys, formatted, strict=True))
        todo.sort(key=lambda k: -len(text_of[k]))
        batches = range(0, len(todo), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc=f"activations ({lm.model_id})", unit="batch")
        for start in batches:
            chunk = todo[start : start + batch_size]
            vecs = forward_activations(lm, [text_of[k] for k in chunk], layer, position, max_length)
            flat = vecs.reshape(len(chunk), width).astype(np.float32)
            if cache:
                cache.put_many(chunk, flat)
            known.update(zip(chunk, flat, strict=True))
    out = np.stack([known[k] for k in keys]).astype(np.float32, copy=False)
    out = out if layer is not None else out.reshape(len(keys), lm.num_layers, hidden)
    check_finite(out, layer)
    return out


def check_finite(acts: np.ndarray, layer: int | None) -> None:
    """Raise a ModelError naming the first layer whose activations hold NaN or inf."""
    if np.isfinite(acts).all():
        return
    if layer is None:
        bad = int(np.flatnonzero(~np.isfinite(acts).all(axis=(0, 2)))[0])
    else:
        bad = layer
    raise ModelError(f"NaN or inf activations at layer {bad}",
                     "load the model in float32 (or another dtype), check its weights, or pick another layer")
