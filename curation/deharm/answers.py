"""Answers to de-harmed rewrites: generated with a finish reason, kept only when complete (`stop`), judged
compliance by the refusal judge, not harmful by the harm model, and not a copy of the rewrite."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .filters import word_overlap

STOP, LENGTH = "stop", "length"


@dataclass
class Answer:
    """One generated answer and why it ended: `stop` (end of sequence) or `length` (hit max_new_tokens)."""

    text: str
    finish_reason: str
    new_tokens: int


def _eos_ids(lm: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(lm.model, "generation_config", None), lm.model.config):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        ids |= set(value) if isinstance(value, list | tuple) else ({value} if value is not None else set())
    if lm.tokenizer.eos_token_id is not None:
        ids.add(int(lm.tokenizer.eos_token_id))
    return ids


def generate_answers(model: str, prompts: Sequence[str], max_new_tokens: int = 256, batch_size: int = 8,
                     device: str = "cpu") -> list[Answer]:
    """Greedy chat answers with their finish reason (an end-of-sequence token among the new tokens -> `stop`).

    Minimal local version of the `finish_reason` that `curate generate` records (issue #16)."""
    import torch

    from ..lm import format_prompts, load_lm, tokenize_batch

    if not prompts:
        return []
    lm = load_lm(model, device)
    eos = _eos_ids(lm)
    texts = format_prompts(lm, list(prompts))
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths share a batch
    out: list[Answer | None] = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        enc = tokenize_batch(lm, [texts[i] for i in rows])
        with torch.no_grad():
            gen = lm.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, temperature=None,
                                    top_p=None, top_k=None, pad_token_id=lm.tokenizer.pad_token_id)
        new = gen[:, enc["input_ids"].shape[1]:]
        for i, tokens in zip(rows, new.tolist(), strict=True):
            end = next((n for n, t in enumerate(tokens) if t in eos), None)
            kept = tokens if end is None else tokens[:end]
            text = lm.tokenizer.decode(kept, skip_special_tokens=True).strip()
            out[i] = Answer(text, STOP if end is not None else LENGTH, len(kept))
    return [a for a in out if a is not None]


def is_copy(answer: str, rewrite: str, max_overlap: float = 0.8) -> bool:
    """The answer repeats the rewrite (same words, or the rewrite followed by little else)."""
    a, r = answer.strip().casefold(), rewrite.strip().casefold()
    return not a or a == r or word_overlap(a, r) >= max_overlap or (a.startswith(r) and len(a) < 2 * len(r))


def check_answers(rewrites: Sequence[str], answers: Sequence[Answer], p_harmful: Sequence[float | None],
                  max_p_harmful: float, judge: str = "string_match") -> list[str | None]:
    """Why each answer is dropped (`empty`, `truncated`, `copy`, `not_compliance`, `harmful`) or None to keep."""
    from ..judge import judge_responses

    verdicts = judge_responses([a.text for a in answers], judge) if answers else []
    reasons: list[str | None] = []
    for rewrite, answer, verdict, p in zip(rewrites, answers, verdicts, p_harmful, strict=True):
        if not answer.text.strip():
            reasons.append("empty")
        elif answer.finish_reason != STOP:
            reasons.append("truncated")
        elif is_copy(answer.text, rewrite):
            reasons.append("copy")
        elif verdict["label"] != "full_compliance":
            reasons.append("not_compliance")
        elif p is not None and p >= max_p_harmful:
            reasons.append("harmful")
        else:
            reasons.append(None)
    return reasons
