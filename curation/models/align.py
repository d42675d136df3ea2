"""Word alignment between a text and its translation (SimAlign-style argmax / itermax over word vectors), and the
projection of character spans from the source text onto the translation. Pure functions over numpy arrays."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from curation.core.errors import InputError

Span = tuple[int, int]
Alignment = set[tuple[int, int]]
# A function giving one L2-normalized vector per word of `text`, the words given by their character spans.
WordVectors = Callable[[str, Sequence[Span]], np.ndarray]

_WORD = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]", re.UNICODE)
_PUNCT = re.compile(r"^[^\w]+$", re.UNICODE)


def word_spans(text: str) -> list[Span]:
    """Character spans of the words (and single punctuation marks) of `text`, in order."""
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def similarity_matrix(src_vectors: np.ndarray, tgt_vectors: np.ndarray) -> np.ndarray:
    """Cosine similarities (rows: source words, columns: target words) of L2-normalized vectors."""
    if src_vectors.size == 0 or tgt_vectors.size == 0:
        return np.zeros((len(src_vectors), len(tgt_vectors)), dtype=np.float32)
    return np.asarray(src_vectors, dtype=np.float32) @ np.asarray(tgt_vectors, dtype=np.float32).T


def boost_identical(sim: np.ndarray, src_words: Sequence[str], tgt_words: Sequence[str]) -> np.ndarray:
    """Raise to 1.0 the similarity of identical words (names, numbers, code) that every language keeps."""
    out = sim.copy()
    tgt_index: dict[str, list[int]] = {}
    for j, word in enumerate(tgt_words):
        tgt_index.setdefault(word.casefold(), []).append(j)
    for i, word in enumerate(src_words):
        for j in tgt_index.get(word.casefold(), []):
            out[i, j] = 1.0
    return out


def argmax_alignment(sim: np.ndarray) -> Alignment:
    """Links (i, j) where target j is source i's best match and source i is target j's best match (similarity > 0)."""
    if sim.size == 0:
        return set()
    forward = np.zeros_like(sim, dtype=bool)
    forward[np.arange(sim.shape[0]), sim.argmax(axis=1)] = True
    backward = np.zeros_like(sim, dtype=bool)
    backward[sim.argmax(axis=0), np.arange(sim.shape[1])] = True
    mutual = forward & backward & (sim > 0)  # a tie of zeros (or worse) is no evidence of a link
    return {(int(i), int(j)) for i, j in zip(*np.nonzero(mutual), strict=True)}


def itermax_alignment(sim: np.ndarray, max_iter: int = 2, alpha: float = 0.9) -> Alignment:
    """SimAlign's itermax: repeat mutual argmax over words still unaligned on one side, so a word may get a second
    link (compounds, multi-word expressions); links touching two already-aligned words are discounted by `alpha`."""
    if sim.size == 0:
        return set()
    links = np.zeros_like(sim, dtype=bool)
    for _ in range(max_iter):
        src_done = links.any(axis=1)
        tgt_done = links.any(axis=0)
        if src_done.all() and tgt_done.all():
            break
        both = np.outer(src_done, tgt_done)
        either = np.add.outer(src_done.astype(int), tgt_done.astype(int)) == 1
        weights = np.where(both, 0.0, np.where(either, alpha, 1.0))
        masked = np.where(links, -np.inf, sim * weights)
        found = argmax_alignment(masked)
        new = [(i, j) for i, j in found if weights[i, j] > 0]
        if not new:
            break
        for i, j in new:
            links[i, j] = True
    return {(int(i), int(j)) for i, j in zip(*np.nonzero(links), strict=True)}


ALIGNERS: dict[str, Callable[[np.ndarray], Alignment]] = {"argmax": argmax_alignment, "itermax": itermax_alignment}


def align(src_text: str, tgt_text: str, vectors: WordVectors, method: str = "itermax") -> tuple[list[Span],
                                                                                               list[Span], Alignment]:
    """Word spans of both texts and their alignment links, from word vectors of a multilingual encoder."""
    if method not in ALIGNERS:
        raise InputError(f"unknown alignment method '{method}'", f"use one of: {', '.join(ALIGNERS)}")
    src_spans, tgt_spans = word_spans(src_text), word_spans(tgt_text)
    if not src_spans or not tgt_spans:
        return src_spans, tgt_spans, set()
    sim = similarity_matrix(vectors(src_text, src_spans), vectors(tgt_text, tgt_spans))
    sim = boost_identical(sim, [src_text[a:b] for a, b in src_spans], [tgt_text[a:b] for a, b in tgt_spans])
    return src_spans, tgt_spans, ALIGNERS[method](sim)


def project_span(
    span: Span,
    src_spans: Sequence[Span],
    tgt_spans: Sequence[Span],
    links: Alignment,
    tgt_text: str = "",
    max_growth: int = 2,
) -> Span | None:
    """The target character span covering the words linked to the source words inside `span`, or None when no
    content word is linked or the links scatter over more than `max_growth` x the span's words (+2)."""
    start, end = span
    src_words = [i for i, (a, b) in enumerate(src_spans) if a < end and b > start]
    targets = sorted({j for i, j in links if i in src_words})
    if tgt_text:  # a span is not carried by punctuation alone
        targets = [j for j in targets if not _PUNCT.match(tgt_text[tgt_spans[j][0] : tgt_spans[j][1]])]
    if not src_words or not targets:
        return None
    if targets[-1] - targets[0] + 1 > max_growth * len(src_words) + 2:
        return None
    return tgt_spans[targets[0]][0], tgt_spans[targets[-1]][1]


def project_spans(
    spans: Sequence[dict[str, Any]],
    src_text: str,
    tgt_text: str,
    vectors: WordVectors,
    method: str = "itermax",
) -> tuple[list[dict[str, Any]], int]:
    """Project span dicts (`start`, `end`, any other keys) onto the translation; returns (projected, dropped).

    Each projected span keeps its other keys, gets offsets valid in `tgt_text`, `text` set to the target words and
    `projected_from` set to the source words."""
    if not spans:
        return [], 0
    src_spans, tgt_spans, links = align(src_text, tgt_text, vectors, method)
    projected, dropped = [], 0
    for span in spans:
        start, end = int(span["start"]), int(span["end"])
        if not 0 <= start < end <= len(src_text):
            dropped += 1
            continue
        target = project_span((start, end), src_spans, tgt_spans, links, tgt_text)
        if target is None:
            dropped += 1
            continue
        projected.append({**span, "start": target[0], "end": target[1], "text": tgt_text[target[0] : target[1]],
                          "projected_from": src_text[start:end]})
    return projected, dropped
