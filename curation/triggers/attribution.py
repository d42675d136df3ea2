"""Occlusion attribution, generic over any `score_fn(texts) -> scores` (the probe margin, a refusal direction's
projection): mask each candidate span and measure how much the prompt's score drops."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

ScoreFn = Callable[[list[str]], np.ndarray]
_SPACES = re.compile(r"[ \t]{2,}")


def occlude(text: str, start: int, end: int) -> str:
    """The text with [start, end) removed and the whitespace around the hole collapsed."""
    return _SPACES.sub(" ", text[:start] + text[end:]).strip()


def occlusion_variants(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> list[str]:
    """Every occluded variant of a batch, prompt by prompt, in span order."""
    return [occlude(text, a, b) for text, row in zip(texts, spans, strict=True) for a, b in row]


def occlusion_drops(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], score_fn: ScoreFn
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
    """(score of each full prompt, per prompt the score drop for each masked span), from ONE `score_fn` call over
    the prompts and all their occluded variants."""
    texts = list(texts)
    variants = occlusion_variants(texts, spans)
    scores = np.asarray(score_fn(texts + variants), dtype=np.float64).reshape(-1)
    if scores.shape[0] != len(texts) + len(variants):
        raise ValueError(f"score_fn returned {scores.shape[0]} scores for {len(texts) + len(variants)} texts")
    full = scores[: len(texts)]
    drops, offset = [], len(texts)
    for i, row in enumerate(spans):
        drops.append(full[i] - scores[offset : offset + len(row)])
        offset += len(row)
    return full, drops


def probe_score_fn(probe, encoder, cache=None, batch_size: int = 64) -> ScoreFn:
    """The probe's signed margin of each text (embeddings read from / written to the content-hash cache)."""
    from curation.models.embeddings import embed

    probe.check_encoder(encoder)

    def score(texts: list[str]) -> np.ndarray:
        return probe.decision(embed(texts, encoder, cache, batch_size=batch_size))

    return score
