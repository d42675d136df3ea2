"""How the cross-lingual transfer probe was chosen (issue #24): recipes on USE multilingual v3, trained on English
data only, scored on the parallel set (`tests/data/parallel_requests_{dev,test}.jsonl`, the same requests in
en/fr/de/es/it; English rows scored by the same model). Per recipe: Spearman of each language's scores with the
English originals', AUROC harmful vs benign (English, mean of the others).

The choice is made on dev (printed by default); `--test` adds the frozen test split for the chosen recipe and the
old one only. Training rows within cosine 0.85 of any parallel-set prompt are dropped (the shipped contrast data
shares prompts with the set).

Run: .venv/bin/python benchmarks/eval_multilingual_transfer.py [--test] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_multilingual_boundary import LANGS, TRAIN, load_parallel  # noqa: E402

Scorer = Callable[[np.ndarray], np.ndarray]


def linear(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> Scorer:
    """Class-balanced logistic regression margin (what `fit_probe` fits)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, y)
    return clf.decision_function


def knn(x: np.ndarray, y: np.ndarray, k: int) -> Scorer:
    """Mean cosine to the k nearest harmful minus the k nearest harmless training prompts."""
    pos, neg = x[y == 1], x[y == 0]
    return lambda z: (np.sort(z @ pos.T, 1)[:, -k:].mean(1) - np.sort(z @ neg.T, 1)[:, -k:].mean(1))


def standardised(f: Scorer, ref: np.ndarray) -> Scorer:
    s = f(ref)
    return lambda z: (f(z) - s.mean()) / s.std()


def report(name: str, f: Scorer, par: np.ndarray, y: np.ndarray, splits: dict[str, np.ndarray]) -> dict:
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    scores = np.stack([f(par[:, i]) for i in range(len(LANGS))], 1)
    out = {}
    for split, m in splits.items():
        sp = [float(spearmanr(scores[m, i], scores[m, 0]).statistic) for i in range(1, len(LANGS))]
        au = [float(roc_auc_score(y[m], scores[m, i])) for i in range(len(LANGS))]
        out[split] = {"spearman": dict(zip(LANGS[1:], sp, strict=True)), "auroc": dict(zip(LANGS, au, strict=True))}
        print(f"{name:44s} {split:4s} Spearman {' '.join(f'{v:.3f}' for v in sp)} (min {min(sp):.3f}) | AUROC en "
              f"{au[0]:.3f}, others {np.mean(au[1:]):.3f}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--test", action="store_true", help="Also score the frozen test split (chosen + old recipe).")
    ap.add_argument("--cache", default=None, help="Workspace folder for the embedding cache (reused across runs).")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from curation.models.embeddings import embed, encoder_from_spec, workspace_cache
    from curation.models.probe_routing import shipped_english_rows, transfer_training_set

    rows = load_parallel("all")
    dev_ids = {r["id"] for r in load_parallel("dev")}
    encoder = encoder_from_spec("use-multilingual-v3")
    cache = workspace_cache(Path(args.cache), encoder.model_id) if args.cache else None
    rng = np.random.default_rng(0)
    harmful = [r["instruction"] for r in json.loads((TRAIN / "harmful_train.json").read_text())]
    harmless = [r["instruction"] for r in json.loads((TRAIN / "harmless_train.json").read_text())]
    harmless = [harmless[i] for i in sorted(rng.permutation(len(harmless))[:2000])]  # --max-per-class 2000
    every = [r[lang] for r in rows for lang in LANGS]
    given = transfer_training_set(harmful, harmless, shipped=False, exclude=every, encoder=encoder, cache=cache)
    mixed = transfer_training_set(harmful, harmless, shipped=True, exclude=every, encoder=encoder, cache=cache)
    shipped = [len(part) for part in shipped_english_rows()]
    print("training rows (harmful, harmless): given", given[2]["rows"], "| with shipped English rows",
          mixed[2]["rows"], f"(shipped {shipped}, near-duplicates of the parallel set dropped: "
          f"{mixed[2]['excluded_near_duplicates']})")

    def xy(h: list[str], b: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return embed(h + b, encoder, cache), np.array([1] * len(h) + [0] * len(b))

    xa, ya = xy(given[0], given[1])
    xb, yb = xy(mixed[0], mixed[1])
    par = embed(every, encoder, cache).reshape(len(rows), len(LANGS), -1)
    y = np.array([r["label"] for r in rows])
    dev = np.array([r["id"] in dev_ids for r in rows])
    splits = {"dev": dev}
    recipes: dict[str, Scorer] = {"old: linear, given sets (C=1)": linear(xa, ya)}
    for c in (0.1, 0.3, 3.0):
        recipes[f"linear, given sets, C={c}"] = linear(xa, ya, c)
    recipes["linear + shipped English rows (C=1)"] = linear(xb, yb)
    recipes["linear + shipped English rows (C=0.3)"] = linear(xb, yb, 0.3)
    for k in (10, 20, 40):
        recipes[f"kNN k={k} + shipped English rows"] = knn(xb, yb, k)
    la, ka = standardised(linear(xa, ya), xa), standardised(knn(xa, ya, 10), xa)
    recipes["linear + kNN k=10, given sets"] = lambda z: la(z) + ka(z)
    lb = standardised(linear(xb, yb), xb)
    for k in (10, 20):
        kb = standardised(knn(xb, yb, k), xb)
        recipes[f"linear + kNN k={k} + shipped rows{' (chosen)' if k == 20 else ''}"] = (
            lambda z, kb=kb: lb(z) + kb(z))
    result = {name: report(name, f, par, y, splits) for name, f in recipes.items()}
    if args.test:
        print("\nfrozen test split (chosen recipe and the old one only):")
        for name in ("old: linear, given sets (C=1)", "linear + kNN k=20 + shipped rows (chosen)"):
            result[name].update(report(name, recipes[name], par, y, {"test": ~dev}))
    if cache is not None:
        cache.close()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
