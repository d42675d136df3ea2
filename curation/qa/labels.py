"""Agreement on label questions: Cohen's kappa per pair (scikit-learn), Fleiss' kappa (statsmodels),
Krippendorff's alpha (`krippendorff`), per-annotator agreement with the others, and a pooled confusion matrix."""

from __future__ import annotations

import math
import warnings
from collections import Counter
from itertools import combinations
from typing import Any

import numpy as np

from curation.annotate.responses import RecordAnswers


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def rating_table(records: list[RecordAnswers], question: str) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """(annotators, labels, one {user: label} dict per record with at least one answer)."""
    items = []
    for record in records:
        answers = {a.user: str(a.value) for a in record.answers.get(question, [])}
        if answers:
            items.append(answers)
    users = sorted({u for item in items for u in item})
    labels = sorted({v for item in items for v in item.values()})
    return users, labels, items


def cohen_pairs(users: list[str], items: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Cohen's kappa and raw agreement for every annotator pair, on the records both answered."""
    from sklearn.metrics import cohen_kappa_score

    out = {}
    for a, b in combinations(users, 2):
        both = [(item[a], item[b]) for item in items if a in item and b in item]
        if not both:
            continue
        ya, yb = zip(*both, strict=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kappa = cohen_kappa_score(ya, yb) if len(set(ya) | set(yb)) > 1 else float("nan")
        if not math.isfinite(kappa) and ya == yb:
            kappa = 1.0  # one shared label on every item: perfect agreement, kappa undefined
        out[f"{a}|{b}"] = {"a": a, "b": b, "n": len(both), "kappa": _finite(kappa),
                           "agreement": sum(x == y for x, y in both) / len(both)}
    return out


def fleiss(labels: list[str], items: list[dict[str, str]]) -> tuple[float | None, int]:
    """Fleiss' kappa over the records that have the most common number (>= 2) of raters."""
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    counts = Counter(len(item) for item in items if len(item) >= 2)
    if not counts:
        return None, 0
    raters = max(counts, key=lambda k: (counts[k], k))
    code = {label: i for i, label in enumerate(labels)}
    rows = [[code[v] for v in item.values()] for item in items if len(item) == raters]
    table, _ = aggregate_raters(np.asarray(rows), n_cat=len(labels))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = fleiss_kappa(table, method="fleiss")
    return _finite(value), len(rows)


def krippendorff_alpha(users: list[str], labels: list[str], items: list[dict[str, str]]) -> float | None:
    """Nominal Krippendorff's alpha; missing answers are NaN, so every record with two answers counts."""
    import krippendorff

    if len(labels) < 2:
        return 1.0 if any(len(item) >= 2 for item in items) else None
    code = {label: float(i) for i, label in enumerate(labels)}
    data = np.full((len(users), len(items)), np.nan)
    for j, item in enumerate(items):
        for i, user in enumerate(users):
            if user in item:
                data[i, j] = code[item[user]]
    if not np.any(np.sum(~np.isnan(data), axis=0) >= 2):
        return None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _finite(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def per_annotator(users: list[str], items: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Answers per annotator and how often each agrees with the majority of the other annotators."""
    out = {}
    for user in users:
        answered = [item for item in items if user in item]
        hits = total = 0
        for item in answered:
            others = Counter(v for u, v in item.items() if u != user).most_common()
            if not others or (len(others) > 1 and others[0][1] == others[1][1]):
                continue
            total += 1
            hits += item[user] == others[0][0]
        out[user] = {"answered": len(answered), "compared": total,
                     "agrees_with_others": hits / total if total else None}
    return out


def pooled_confusion(labels: list[str], items: list[dict[str, str]]) -> list[list[int]]:
    """Symmetric label-by-label counts over every annotator pair of every record."""
    from sklearn.metrics import confusion_matrix

    ya, yb = [], []
    for item in items:
        for a, b in combinations(sorted(item), 2):
            ya += [item[a], item[b]]
            yb += [item[b], item[a]]
    if not ya:
        return [[0] * len(labels) for _ in labels]
    return confusion_matrix(ya, yb, labels=labels).tolist()


def label_agreement(records: list[RecordAnswers], question: str) -> dict[str, Any]:
    """All label-agreement figures of one question."""
    users, labels, items = rating_table(records, question)
    pairs = cohen_pairs(users, items)
    kappas = [p["kappa"] for p in pairs.values() if p["kappa"] is not None]
    fleiss_value, fleiss_n = fleiss(labels, items)
    return {
        "records": len(items),
        "multi_annotated": sum(len(item) >= 2 for item in items),
        "annotators": users,
        "labels": labels,
        "cohen_kappa": pairs,
        "mean_cohen_kappa": float(np.mean(kappas)) if kappas else None,
        "fleiss_kappa": fleiss_value,
        "fleiss_records": fleiss_n,
        "krippendorff_alpha": krippendorff_alpha(users, labels, items),
        "per_annotator": per_annotator(users, items),
        "confusion": pooled_confusion(labels, items),
    }
