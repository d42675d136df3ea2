"""Push throughput: `push_records` vs bare SDK `dataset.records.log` of the same 5k records, same server, same run.

Both sides send identical records (fields, metadata, span + label suggestions, a 384-d vector) to fresh
datasets on a local stack started in a temp workspace. Prints records/s for each and the ratio (ours / SDK).
Usage: .venv/bin/python benchmarks/bench_push.py [--records N]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings

import numpy as np
from datasets import Dataset

from curation.annotate.client import connect
from curation.annotate.push import push_records
from curation.annotate.schemas import load_schema
from curation.hashing import record_id
from curation.server import LocalStack, StackConfig

WORDS = ["kill", "shoot", "attack", "exploit", "bomb", "hack"]


def make_rows(n: int, seed: int = 0) -> Dataset:
    """n pipeline rows with a trigger span, label, boundary scores and a unit 384-d vector."""
    rng = np.random.default_rng(seed)
    prompts, spans = [], []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        prompt = f"Request {i}: how do I {word} the background job number {i} safely?"
        at = prompt.index(word)
        prompts.append(prompt)
        spans.append([{"start": at, "end": at + len(word), "text": word, "label": "benign_homonym",
                       "score": 0.7, "agents": ["lexicon.v1", "syntactic.v1"]}])
    vectors = rng.normal(size=(n, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Dataset.from_dict({
        "id": [record_id(p) for p in prompts], "prompt": prompts, "source": ["bench"] * n, "language": ["en"] * n,
        "category": [WORDS[i % len(WORDS)] for i in range(n)], "label": ["benign"] * n,
        "trigger_spans": spans, "boundary_score": rng.random(n).tolist(), "p_refuse": rng.random(n).tolist(),
        "prompt_vector": vectors.tolist()})


def sdk_records(rows: Dataset) -> list:
    """The same records as plain SDK objects (what a user of the bare SDK would build)."""
    import argilla as rg

    records = []
    for row in rows:
        span = row["trigger_spans"][0]
        p = row["p_refuse"]
        records.append(rg.Record(
            id=row["id"], fields={"prompt": row["prompt"]},
            metadata={"source": row["source"], "language": row["language"], "category": row["category"],
                      "boundary_score": row["boundary_score"], "p_refuse": p},
            suggestions=[
                rg.Suggestion("trigger_spans", [{"label": span["label"], "start": span["start"], "end": span["end"]}],
                              score=[span["score"]], agent="lexicon.v1 syntactic.v1"),
                rg.Suggestion("harmfulness", "benign", score=1 - p, agent="label:bench"),
                rg.Suggestion("should_refuse", "yes" if p >= 0.5 else "no", score=max(p, 1 - p),
                              agent="boundary_probe")],
            vectors={"prompt_vector": row["prompt_vector"]}))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=250)
    args = parser.parse_args()
    logging.getLogger("argilla.sdk").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    rows = make_rows(args.records)
    with tempfile.TemporaryDirectory(prefix="bench_push_") as tmp:
        stack = LocalStack(tmp, StackConfig(port=0))
        started = time.perf_counter()
        stack.start()
        print(f"local stack up in {time.perf_counter() - started:.1f}s")
        try:
            creds = stack.credentials()
            client = connect(creds["api_url"], creds["api_key"])
            import argilla as rg

            settings = load_schema("trigger_spans", client=client)
            bare = rg.Dataset(name="bench_sdk", workspace="argilla", settings=settings, client=client).create()
            records = sdk_records(rows)  # built before timing: the SDK side is timed on `log` alone
            t0 = time.perf_counter()
            bare.records.log(records, batch_size=args.batch_size)
            sdk_s = time.perf_counter() - t0

            n_sdk = sum(1 for _ in bare.records)
            bare.delete()  # noida-db rewrites its whole data file on writes: both sides start from an empty index

            push_records(rows.select(range(1)), "trigger_spans", "bench_ours", client, show_progress=False)
            t0 = time.perf_counter()
            push_records(rows, "trigger_spans", "bench_ours", client, batch_size=args.batch_size)
            ours_s = time.perf_counter() - t0
            n_ours = sum(1 for _ in client.datasets(name="bench_ours", workspace="argilla").records)
            assert n_sdk == n_ours == args.records, (n_sdk, n_ours)
        finally:
            stack.stop()
    n = args.records
    print(f"bare SDK dataset.records.log : {n / sdk_s:8.1f} records/s ({sdk_s:.1f}s for {n})")
    print(f"curate push_records          : {n / ours_s:8.1f} records/s ({ours_s:.1f}s for {n}, rows -> records "
          "included)")
    print(f"ratio push_records / SDK     : {sdk_s / ours_s:.2f}x")


if __name__ == "__main__":
    main()
