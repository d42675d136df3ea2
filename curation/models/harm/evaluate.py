"""Score the hand-written contextual harm eval set (`curation/data/eval/harm_contextual_{dev,test}.jsonl`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

EVAL_DIR = Path(__file__).resolve().parents[2] / "data" / "eval"
TEST_SHA256 = "65e2a4e3b64c5a9f4f586887979268a12e038ca96839070819c8877934922a52"


def load_eval(split: str) -> list[dict[str, Any]]:
    """Rows of the dev or frozen test split."""
    path = EVAL_DIR / f"harm_contextual_{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _auroc(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    if not len(pos) or not len(neg):
        return None
    return float(roc_auc_score([1] * len(pos) + [0] * len(neg), list(pos) + list(neg)))


def metrics(rows: Sequence[dict[str, Any]], scores: Sequence[float], p_refuse: Sequence[float],
            lang: str | None = None) -> dict[str, Any]:
    """AUROC unsafe vs scary_safe, AUROC scary_safe vs plain, scary_safe false-positive rate at p >= 0.5,
    unsafe recall at p >= 0.5, per category share flagged."""
    idx = [i for i, r in enumerate(rows) if lang is None or r["lang"] == lang]

    def pick(kind: str, arr: Sequence[float]) -> list[float]:
        return [float(arr[i]) for i in idx if rows[i]["kind"] == kind]

    unsafe, scary, plain = pick("unsafe", scores), pick("scary_safe", scores), pick("plain", scores)
    p_scary, p_unsafe = np.array(pick("scary_safe", p_refuse)), np.array(pick("unsafe", p_refuse))
    cats: dict[str, list[float]] = {}
    for i in idx:
        cats.setdefault(f"{rows[i]['category']}/{rows[i]['label']}", []).append(float(p_refuse[i] >= 0.5))
    return {
        "n": len(idx),
        "auroc_unsafe_vs_scary": _auroc(unsafe, scary),
        "auroc_scary_vs_plain": _auroc(scary, plain),
        "scary_fpr_at_0.5": float((p_scary >= 0.5).mean()) if len(p_scary) else None,
        "unsafe_recall_at_0.5": float((p_unsafe >= 0.5).mean()) if len(p_unsafe) else None,
        "flagged_by_category": {k: round(float(np.mean(v)), 2) for k, v in sorted(cats.items())},
    }


def metrics_line(m: dict[str, Any]) -> str:
    """The four headline figures of `metrics` on one line (the benchmarks print one per scorer and language)."""
    return (f"unsafe-vs-scary {m['auroc_unsafe_vs_scary']:.3f} scary-vs-plain {m['auroc_scary_vs_plain']:.3f} "
            f"scary-FPR@0.5 {m['scary_fpr_at_0.5']:.3f} unsafe-recall@0.5 {m['unsafe_recall_at_0.5']:.3f}")


def evaluate_scorer(score: Callable[[list[str]], tuple[np.ndarray, np.ndarray]], split: str,
                    langs: Sequence[str | None] = (None, "en", "fr")) -> dict[str, Any]:
    """`score(texts) -> (raw scores, p_refuse)` on one split, overall and per language."""
    rows = load_eval(split)
    raw, p = score([r["text"] for r in rows])
    return {lang or "all": metrics(rows, raw, p, lang) for lang in langs}
