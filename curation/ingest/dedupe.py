"""Exact and near-duplicate detection; every dropped row points at the kept row it duplicates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from curation.core.hashing import normalize_text


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


def near_duplicates(vectors: np.ndarray, threshold: float = 0.95, k: int = 16,
                    compatible: Callable[[int, int], bool] | None = None,
                    contrasts: list[Duplicate] | None = None) -> list[Duplicate]:
    """Rows with cosine >= threshold to an earlier kept row, via a usearch HNSW index (O(n log n), O(n) memory).

    `vectors` must be L2-normalized. Neighbour lists are symmetrized (a pair found from either end counts), which
    lifts the recall of the approximate search. Greedy in row order, so the earliest row of a cluster is kept.
    A pair that `compatible(later, earlier)` rejects (e.g. different labels: a minimal contrast pair) is never
    merged; it is appended to `contrasts` (kind "contrast") instead, once per later row.
    """
    n = len(vectors)
    if n < 2:
        return []
    from usearch.index import Index

    # int8 graph: 2.7x faster to build and search than float32 at the same neighbour recall (measured on 200k
    # clustered MiniLM vectors); the threshold is applied to exact float cosines of the candidate pairs.
    index = Index(ndim=vectors.shape[1], metric="cos", dtype="i8", connectivity=16, expansion_add=64,
                  expansion_search=max(64, 2 * k))
    index.add(np.arange(n, dtype=np.uint64), vectors, threads=0)
    matches = index.search(vectors, min(k, n), threads=0)
    neighbours = np.asarray(matches.keys).reshape(n, -1).astype(np.int64)
    approx = 1.0 - np.asarray(matches.distances, dtype=np.float64).reshape(n, -1)
    rows = np.repeat(np.arange(n), neighbours.shape[1]).reshape(n, -1)
    valid = (neighbours != rows) & (neighbours >= 0) & (neighbours < n) & (approx >= threshold - 0.05)
    src, dst = rows[valid], neighbours[valid]
    exact = np.concatenate([np.einsum("ij,ij->i", vectors[src[i : i + 65536]], vectors[dst[i : i + 65536]])
                            for i in range(0, len(src), 65536)] or [np.zeros(0)]).astype(np.float64)  # bounded memory
    keep = exact >= threshold
    later, earlier, sims = np.maximum(src, dst)[keep], np.minimum(src, dst)[keep], exact[keep]
    order = np.lexsort((earlier, later))  # by later row, then earliest candidate first
    dropped: dict[int, Duplicate] = {}
    linked: set[int] = set()
    for a, b, sim in zip(later[order].tolist(), earlier[order].tolist(), sims[order].tolist(), strict=True):
        if a in dropped or b in dropped:
            continue
        if compatible is not None and not compatible(a, b):
            if contrasts is not None and a not in linked:
                linked.add(a)
                contrasts.append(Duplicate(a, b, "contrast", float(sim)))
            continue
        dropped[a] = Duplicate(a, b, "near", float(sim))
    if contrasts is not None:  # a row merged later into another keeps no contrast link of its own
        contrasts[:] = [c for c in contrasts if c.index not in dropped]
    return sorted(dropped.values(), key=lambda d: d.index)
