"""Benchmark: `curate qa` label agreement on a pulled-format snapshot vs the raw libraries on ready arrays.

Ours parses the snapshot (JSON responses), then computes Cohen's kappa per pair, Fleiss' kappa, Krippendorff's
alpha, per-annotator agreement and the confusion matrix. The baseline calls scikit-learn, statsmodels and
krippendorff directly on pre-built integer arrays (no parsing). Throughput ratio = ours / raw (records/s).
Run: .venv/bin/python benchmarks/bench_curation_qa.py
"""

from __future__ import annotations

import json
import random
import time
from itertools import combinations

import numpy as np
from datasets import Dataset

N_RECORDS = 5000
USERS = ("alice", "bob", "carol")
LABELS = ("harmful", "benign", "ambiguous")


def snapshot(n: int) -> tuple[Dataset, np.ndarray]:
    rng = random.Random(0)
    codes = np.zeros((len(USERS), n), dtype=int)
    responses = []
    for j in range(n):
        truth = rng.randrange(3)
        row = []
        for i, user in enumerate(USERS):
            label = truth if rng.random() < 0.8 else rng.randrange(3)
            codes[i, j] = label
            row.append({"user": user, "user_id": user, "status": "submitted", "inserted_at": "t", "updated_at": "t",
                        "values": json.dumps({"harmfulness": LABELS[label]})})
        responses.append(row)
    ds = Dataset.from_dict({"id": [f"r{j}" for j in range(n)], "prompt": [f"p{j}" for j in range(n)],
                            "suggestions": ["{}"] * n, "responses": responses})
    return ds, codes


def raw(codes: np.ndarray) -> None:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score, confusion_matrix
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    for a, b in combinations(range(len(codes)), 2):
        cohen_kappa_score(codes[a], codes[b])
        confusion_matrix(codes[a], codes[b])
    fleiss_kappa(aggregate_raters(codes.T, n_cat=3)[0])
    krippendorff.alpha(reliability_data=codes.astype(float), level_of_measurement="nominal")


def main() -> None:
    from curation.qa import stage as qa

    ds, codes = snapshot(N_RECORDS)
    qa.run(ds.select(range(50)))  # warm imports
    raw(codes[:, :50])
    timings = {}
    for name, fn in (("curation.qa.run", lambda: qa.run(ds)), ("raw libraries", lambda: raw(codes))):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        timings[name] = best
    ours, base = timings["curation.qa.run"], timings["raw libraries"]
    print(f"records: {N_RECORDS}, annotators: {len(USERS)}")
    print(f"curation.qa.run : {ours:.3f} s  ({N_RECORDS / ours:,.0f} records/s, parses the pulled snapshot)")
    print(f"raw libraries   : {base:.3f} s  ({N_RECORDS / base:,.0f} records/s, on ready integer arrays)")
    print(f"throughput ratio ours/raw: {base / ours:.3f}")


if __name__ == "__main__":
    main()
