"""Pick the N prompts nearest the decision boundary that are also diverse (greedy k-center or MMR on embeddings)
and balanced across category x language groups; report coverage against plain top-N by closeness.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.report import StageReport

METHODS = ("k-center", "mmr")


def closeness(p_refuse: Sequence[float]) -> np.ndarray:
    """1 at P(refuse) = 0.5, 0 at 0 or 1."""
    return 1.0 - 2.0 * np.abs(np.asarray(p_refuse, dtype=np.float64) - 0.5)


def balanced_quotas(group_sizes: dict[Any, int], budget: int) -> dict[Any, int]:
    """Split `budget` as evenly as possible across groups, each capped by its size (water-filling)."""
    quotas = {g: 0 for g in group_sizes}
    left = min(budget, sum(group_sizes.values()))
    open_groups = sorted((g for g, n in group_sizes.items() if n > 0), key=str)
    while left > 0 and open_groups:
        share = max(1, left // len(open_groups))
        for g in list(open_groups):
            take = min(share, group_sizes[g] - quotas[g], left)
            quotas[g] += take
            left -= take
            if quotas[g] >= group_sizes[g]:
                open_groups.remove(g)
            if left == 0:
                break
    return quotas


def greedy_select(vectors: np.ndarray, near: np.ndarray, groups: Sequence[Any], quotas: dict[Any, int],
                  method: str = "k-center", mmr_lambda: float = 0.5) -> list[int]:
    """Greedy picks under per-group quotas. k-center: farthest from the picked set (first pick = nearest the
    boundary; distance ties broken by closeness). MMR: lambda * closeness - (1 - lambda) * max similarity."""
    if method not in METHODS:
        raise InputError(f"unknown selection method '{method}'", f"use one of: {', '.join(METHODS)}")
    n = len(vectors)
    remaining = dict(quotas)
    group_arr = np.array([str(g) for g in groups])
    open_mask = np.array([remaining.get(g, 0) > 0 for g in groups], dtype=bool)
    max_sim = np.full(n, -np.inf)
    chosen: list[int] = []
    total = sum(quotas.values())
    while len(chosen) < total and open_mask.any():
        if not chosen:
            gain = near.copy()
        elif method == "k-center":
            gain = (1.0 - max_sim) + 1e-6 * near
        else:
            gain = mmr_lambda * near - (1.0 - mmr_lambda) * max_sim
        gain = np.where(open_mask, gain, -np.inf)
        pick = int(np.argmax(gain))
        chosen.append(pick)
        open_mask[pick] = False
        group = groups[pick]
        remaining[group] -= 1
        if remaining[group] <= 0:
            open_mask &= group_arr != str(group)
        max_sim = np.maximum(max_sim, vectors @ vectors[pick])
    return chosen


def mean_pairwise_distance(vectors: np.ndarray) -> float:
    """Mean cosine distance between distinct pairs of L2-normalized vectors."""
    n = len(vectors)
    if n < 2:
        return 0.0
    sims = vectors @ vectors.T
    return float(1.0 - (sims.sum() - np.trace(sims)) / (n * (n - 1)))


def min_pairwise_distance(vectors: np.ndarray) -> float:
    if len(vectors) < 2:
        return 0.0
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return float(1.0 - sims.max())


@dataclass
class SelectionReport(StageReport):
    budget: int
    selected: int
    pool: int
    method: str
    categories_covered: float
    languages_covered: float
    mean_distance: float
    mean_distance_top_n: float
    min_distance: float
    min_distance_top_n: float
    mean_closeness: float
    mean_closeness_top_n: float
    per_group: dict[str, int] = field(default_factory=dict)


def _group_keys(rows: dict[str, list], n: int) -> list[str]:
    cats = rows.get(C.CATEGORY) or [None] * n
    langs = rows.get(C.LANGUAGE) or [None] * n
    return [f"{c or 'none'}|{lang or 'none'}" for c, lang in zip(cats, langs, strict=True)]


def select_indices(p_refuse: Sequence[float], vectors: np.ndarray, categories: Sequence[str | None] | None,
                   languages: Sequence[str | None] | None, budget: int, method: str = "k-center",
                   pool_factor: float = 4.0, balance: bool = True, mmr_lambda: float = 0.5
                   ) -> tuple[list[int], SelectionReport]:
    """Indices of the selection (in pick order) and its coverage report."""
    n = len(vectors)
    if budget < 1:
        raise InputError(f"budget must be at least 1, got {budget}", "pass --budget N with N >= 1")
    near = closeness(p_refuse)
    if not np.isfinite(near).all():
        raise InputError("p_refuse holds NaN values", "rescore the dataset with `curate boundary score`")
    order = np.argsort(-near, kind="stable")
    pool = order[: max(budget, min(n, int(np.ceil(budget * pool_factor))))]
    rows = {C.CATEGORY: list(categories) if categories is not None else None,
            C.LANGUAGE: list(languages) if languages is not None else None}
    groups_all = _group_keys(rows, n)
    pool_groups = [groups_all[i] for i in pool]
    sizes = Counter(pool_groups)
    quotas = balanced_quotas(dict(sizes), budget) if balance else {"all": min(budget, len(pool))}
    picked_local = greedy_select(vectors[pool], near[pool], pool_groups if balance else ["all"] * len(pool),
                                 quotas, method, mmr_lambda)
    chosen = [int(pool[i]) for i in picked_local]
    top_n = [int(i) for i in order[: len(chosen)]]

    def covered(values: Sequence[str | None] | None, idx: list[int]) -> float:
        if values is None:
            return 1.0
        every = {v for v in values if v}
        return len({values[i] for i in idx if values[i]}) / len(every) if every else 1.0

    report = SelectionReport(
        budget=budget, selected=len(chosen), pool=len(pool), method=method,
        categories_covered=covered(categories, chosen), languages_covered=covered(languages, chosen),
        mean_distance=mean_pairwise_distance(vectors[chosen]), mean_distance_top_n=mean_pairwise_distance(
            vectors[top_n]), min_distance=min_pairwise_distance(vectors[chosen]),
        min_distance_top_n=min_pairwise_distance(vectors[top_n]),
        mean_closeness=float(near[chosen].mean()) if chosen else 0.0,
        mean_closeness_top_n=float(near[top_n].mean()) if top_n else 0.0,
        per_group=dict(Counter(groups_all[i] for i in chosen)))
    return chosen, report
