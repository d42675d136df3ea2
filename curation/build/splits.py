"""Deterministic, stratified splits that never put near-duplicates (MiniLM cosine >= threshold) in two splits."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from curation.core.hashing import normalize_text, sha


def near_duplicate_groups(vectors: np.ndarray, threshold: float, texts: Sequence[str] | None = None,
                          block: int = 2048) -> list[int]:
    """Group id (smallest member index) per row: connected components of cosine >= threshold (exact, blockwise),
    plus identical normalized texts."""
    n = len(vectors)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    for start in range(0, n, block):
        sims = vectors[start : start + block] @ vectors.T
        rows, cols = np.nonzero(sims >= threshold)
        for i, j in zip((rows + start).tolist(), cols.tolist(), strict=True):
            if i != j:
                union(i, j)
    if texts is not None:
        first: dict[str, int] = {}
        for i, text in enumerate(texts):
            union(i, first.setdefault(normalize_text(text), i))
    return [find(i) for i in range(n)]


def assign_splits(keys: Sequence[str], strata: Sequence[str], groups: Sequence[int], ratios: dict[str, float],
                  seed: int) -> list[str]:
    """Split name per row. Whole near-duplicate groups go to one split; within each stratum (the stratum of the
    group's first row) groups are shuffled by a seeded order of their content keys and dealt to the split
    furthest below its target share, so the result depends on the data and the seed, not the row order."""
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    by_stratum: dict[str, list[int]] = {}
    for g, rows in members.items():
        by_stratum.setdefault(strata[min(rows)], []).append(g)
    names = list(ratios)
    out = [""] * len(keys)
    for stratum in sorted(by_stratum):
        stratum_groups = sorted(by_stratum[stratum], key=lambda g: min(keys[i] for i in members[g]))
        random.Random(f"{seed}:{sha(stratum)}").shuffle(stratum_groups)
        total = sum(len(members[g]) for g in stratum_groups)
        filled = dict.fromkeys(names, 0)
        for g in stratum_groups:
            size = len(members[g])
            # the split whose share would stay furthest below its target after taking this group
            best = max(names, key=lambda s: (ratios[s] * total - filled[s] - size / 2, ratios[s], -names.index(s)))
            filled[best] += size
            for i in members[g]:
                out[i] = best
    return out


def link_groups(groups: Sequence[int], ids: Sequence[str], links: Sequence[tuple[str, str]]) -> list[int]:
    """`groups` with the groups of linked ids (e.g. contrast pairs) merged, so each pair lands in one split."""
    index = {rid: i for i, rid in enumerate(ids)}
    parent = {g: g for g in groups}

    def find(g: int) -> int:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    for a, b in links:
        if a in index and b in index:
            ga, gb = find(groups[index[a]]), find(groups[index[b]])
            if ga != gb:
                parent[max(ga, gb)] = min(ga, gb)
    return [find(g) for g in groups]
