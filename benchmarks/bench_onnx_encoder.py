"""The `onnx-int8:` encoder backend vs bare `SentenceTransformer.encode` of the same prompts, in the same run.

Reports throughput (ratio = sentence-transformers seconds / ours; > 1 means ours is faster), the cosine of each
int8 vector to the float one, and how much an int8 vector moves when the same text is batched differently (dynamic
quantization scales activations per batch). Export time is not counted (it happens once per machine).

Run: .venv/bin/python benchmarks/bench_onnx_encoder.py [--n 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # factories.py: the synthetic corpus generator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal-direction"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    from factories import seed_prompts, synthesize
    from sentence_transformers import SentenceTransformer

    from curation.models.embeddings import get_encoder, resolve_model_path

    prompts = [r["prompt"] for r in synthesize(args.n, seed_prompts(SHARED if SHARED.exists() else None))]
    raw = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
    ours = get_encoder("onnx-int8:all-MiniLM-L6-v2")  # exports on first use (not timed below)
    raw.encode(prompts[:64])
    ours.encode(prompts[:64])

    start = time.perf_counter()
    base = raw.encode(prompts, batch_size=args.batch_size, normalize_embeddings=True)
    raw_s = time.perf_counter() - start
    start = time.perf_counter()
    fast = ours.encode(prompts, batch_size=args.batch_size)
    ours_s = time.perf_counter() - start

    cosine = (fast * base).sum(1)
    rebatched = ours.encode(prompts[:1000], batch_size=7)
    drift = (rebatched * fast[:1000]).sum(1)
    print(f"{args.n} prompts, batch {args.batch_size}, {os.cpu_count()} cores")
    print(f"  sentence-transformers  {raw_s:7.1f} s  {args.n / raw_s:6.0f} prompts/s")
    print(f"  onnx-int8              {ours_s:7.1f} s  {args.n / ours_s:6.0f} prompts/s   ratio {raw_s / ours_s:.2f}")
    print(f"  cosine to the float vectors: mean {cosine.mean():.4f}, min {cosine.min():.4f}")
    print(f"  same text, batch 7 vs {args.batch_size}: cosine mean {drift.mean():.5f}, min {drift.min():.4f}")


if __name__ == "__main__":
    main()
