"""Exact and near-duplicate detection; every dropped row points at the kept row it duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..hashing import normalize_text


@dataclass(frozen=True)
class Duplicate:
    index: int          # row that is dropped
    kept: int           # row it duplicates (earliest kept)
    kind: str           # "exact" | "near"
    similarity: float


def exact_duplicates(prompts: Sequence[str]) -> list[Duplicate]:
    """Rows whose normalized text equals an earlier row's."""
    first: dict[str, int] = {}
    dups = []
    for i, prompt in enumerate(prompts):
        key = normalize_text(prompt)
        if key in first:
            dups.append(Duplicate(i, first[key], "exact", 1.0))
        else:
            first[key] = i
    return dups


def near_duplicates(vectors: np.ndarray, threshold: float = 0.95, k: int = 16) -> list[Duplicate]:
    """Rows with cosine >= threshold to an earlier kept row, via a usearch HNSW index (O(n log n), O(n) memory).

    `vectors` must be L2-normalized. Greedy in row order, so the earliest row of a cluster is kept.
    """
    n = len(vectors)
    if n < 2:
        return []
    from usearch.index import Index

    index = Index(ndim=vectors.shape[1], metric="cos", dtype="f32", connectivity=16, expansion_add=128,
                  expansion_search=max(64, 2 * k))
    keys = np.arange(n, dtype=np.uint64)
    index.add(keys, vectors, threads=0)
    matches = index.search(vectors, min(k, n), threads=0)
    neighbour_keys = np.asarray(matches.keys).reshape(n, -1)
    similarities = 1.0 - np.asarray(matches.distances).reshape(n, -1)
    dropped: dict[int, Duplicate] = {}
    for i in range(n):
        best: tuple[int, float] | None = None
        for j, sim in zip(neighbour_keys[i], similarities[i], strict=True):
            j = int(j)
            if j >= i or sim < threshold or j in dropped:
                continue
            if best is None or j < best[0]:
                best = (j, float(sim))
        if best is not None:
            dropped[i] = Duplicate(i, best[0], "near", best[1])
    return sorted(dropped.values(), key=lambda d: d.index)
