"""Ingest near-dedupe throughput vs bare `SentenceTransformer.encode` of the same prompts, in the same run.

Run: .venv/bin/python benchmarks/bench_ingest.py [--n 20000]
Prompts: ../shared/data/refusal-direction/harmless_train.json when present (cycled with a numeric suffix up to N),
otherwise synthetic templated prompts. The ingest side is the full near-dedupe stage on a cold cache: embedding
(through the workspace cache), the usearch index and the duplicate bookkeeping.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal-direction" / "harmless_train.json"


def load_prompts(n: int) -> tuple[list[str], str]:
    if DATA.exists():
        base = [row["instruction"] for row in json.loads(DATA.read_text(encoding="utf-8"))]
        origin = f"{DATA.name} ({len(base)} prompts, cycled)"
    else:
        topics = ["a Python process", "a stuck thread", "weeds in the garden", "a chess opening", "bread dough"]
        base = [f"How do I handle {t} number {i}?" for i in range(400) for t in topics]
        origin = "synthetic prompts"
    prompts = [base[i % len(base)] if i < len(base) else f"{base[i % len(base)]} ({i // len(base)})"
               for i in range(n)]
    return prompts, origin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    from curation.ingest.dedupe import near_duplicates
    from curation.models.embeddings import embed, get_encoder, resolve_model_path, workspace_cache

    prompts, origin = load_prompts(args.n)
    print(f"{len(prompts)} prompts from {origin}; torch threads: {__import__('torch').get_num_threads()}")

    model = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
    model.encode(prompts[:64], batch_size=64)  # warm-up, both sides share the same weights on disk
    start = time.perf_counter()
    model.encode(prompts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    bare = time.perf_counter() - start
    del model

    encoder = get_encoder()
    encoder.encode(prompts[:64])
    with tempfile.TemporaryDirectory() as tmp:
        cache = workspace_cache(Path(tmp), encoder.model_id)  # cold cache
        start = time.perf_counter()
        vectors = embed(prompts, encoder, cache, batch_size=64)
        embedded = time.perf_counter() - start
        dups = near_duplicates(vectors, 0.95)
        stage = time.perf_counter() - start
        cache.close()
        cache = workspace_cache(Path(tmp), encoder.model_id)  # warm cache: a re-run
        start = time.perf_counter()
        near_duplicates(embed(prompts, encoder, cache, batch_size=64), 0.95)
        warm = time.perf_counter() - start
        cache.close()

    print(f"bare SentenceTransformer.encode : {bare:8.2f} s  ({len(prompts) / bare:8.0f} prompts/s)")
    print(f"ingest near-dedupe, cold cache  : {stage:8.2f} s  ({len(prompts) / stage:8.0f} prompts/s)"
          f"  [embed {embedded:.2f} s + index/search/bookkeeping {stage - embedded:.2f} s]")
    print(f"ingest near-dedupe, warm cache  : {warm:8.2f} s  ({len(prompts) / warm:8.0f} prompts/s)")
    print(f"throughput ratio (ingest / bare), cold: {bare / stage:.2f}x   warm: {bare / warm:.2f}x")
    print(f"near duplicates found at cosine >= 0.95: {len(dups)}")


if __name__ == "__main__":
    main()
