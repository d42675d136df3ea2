"""Answers to de-harmed rewrites: generated with a finish reason, kept only when complete (`stop`), judged
compliance by the refusal judge, not harmful by the harm model, and not a copy of the rewrite."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from curation.deharm.filters import word_overlap

STOP, LENGTH = "stop", "length"


@dataclass
class Answer:
    """One generated answer and why it ended: `stop` (end of sequence) or `length` (hit max_new_tokens)."""

    text: str
    finish_reason: str
    new_tokens: int


SHORT_ANSWER = ("You are a helpful assistant. Answer the user's request directly and completely in at most 120 words: "
                "a few sentences or a short list, then stop.")


def generate_answers(model: str, prompts: Sequence[str], max_new_tokens: int = 512, batch_size: int = 8,
                     device: str = "cpu", system: str | None = SHORT_ANSWER) -> list[Answer]:
    """Greedy chat answers with their finish reason (`lm.generate_detailed`, as `curate generate` records it);
    `system` asks for a short answer so most end (`stop`) within the budget; prompts run longest first so similar
    lengths share a batch."""
    from curation.models.lm import generate_detailed, load_lm

    if not prompts:
        return []
    lm = load_lm(model, device)
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    made = generate_detailed(lm, [prompts[i] for i in order], max_new_tokens, batch_size, system=system)
    out: list[Answer | None] = [None] * len(prompts)
    for i, g in zip(order, made, strict=True):
        out[i] = Answer(g.text, STOP if g.finish_reason == "stop" else LENGTH, g.completion_tokens)
    return [a for a in out if a is not None]


def is_copy(answer: str, rewrite: str, max_overlap: float = 0.8) -> bool:
    """The answer repeats the rewrite (same words, or the rewrite followed by little else)."""
    a, r = answer.strip().casefold(), rewrite.strip().casefold()
    return not a or a == r or word_overlap(a, r) >= max_overlap or (a.startswith(r) and len(a) < 2 * len(r))


def check_answers(rewrites: Sequence[str], answers: Sequence[Answer], p_harmful: Sequence[float | None],
                  max_p_harmful: float, judge: str = "string_match") -> list[str | None]:
    """Why each answer is dropped (`empty`, `truncated`, `copy`, `not_compliance`, `harmful`) or None to keep."""
    from curation.judge.stage import judge_responses

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
