"""Scale: push, pull and qa at 10k and 100k records: wall time, records/s and peak RSS, each against the raw library.

push: `push_records` vs plain httpx PUTs of the same pre-built bulk bodies (`/records/bulk`, same batch size).
pull: `pull_records` (-> datasets.Dataset) vs plain httpx paging of `/records` with responses and suggestions.
qa:   `qa.run` on a pulled-format snapshot (3 annotators) vs scikit-learn / statsmodels / krippendorff on arrays.
Every measured operation runs in a forked child, so its peak RSS (`wait4` ru_maxrss) is its own; argilla-server's
RSS after the push is read from /proc. Each size gets a fresh local stack in a temp workspace (127.0.0.1 only).
The schema is trigger_spans without the vector (embedding cost is measured by the embeddings benchmark).
Run: .venv/bin/python benchmarks/bench_scale.py [--sizes 10000 100000] [--no-raw-push] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import random
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from bench_curation_qa import raw as raw_qa  # the same snapshot and raw-library work as the qa benchmark
from bench_curation_qa import snapshot
from datasets import Dataset

from curation.core.hashing import record_id

WORDS = ["kill", "shoot", "attack", "exploit", "bomb", "hack"]
BATCH = 250


def rows(n: int) -> Dataset:
    """n pipeline rows (prompt, label, metadata, one trigger span) with content-hash ids."""
    rng = random.Random(n)
    prompts, spans = [], []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        prompt = f"Request {i}: how do I {word} the background job number {i} safely?"
        at = prompt.index(word)
        prompts.append(prompt)
        spans.append([{"start": at, "end": at + len(word), "text": word, "label": "benign_homonym", "score": 0.7,
                       "agents": ["lexicon.v1"]}])
    return Dataset.from_dict({
        "id": [record_id(p) for p in prompts], "prompt": prompts, "source": ["bench"] * n, "language": ["en"] * n,
        "category": [WORDS[i % len(WORDS)] for i in range(n)], "label": ["benign"] * n, "trigger_spans": spans,
        "boundary_score": [rng.random() for _ in range(n)], "p_refuse": [rng.random() for _ in range(n)]})


def measured(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Run fn in a forked child: (seconds, peak RSS MiB of that child, fn's picklable result)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        code = 0
        try:
            t0 = time.perf_counter()
            result = fn()
            payload = pickle.dumps((time.perf_counter() - t0, result))
        except BaseException as err:  # noqa: BLE001 - reported by the parent
            payload, code = pickle.dumps((None, repr(err))), 1
        with os.fdopen(write_fd, "wb") as out:
            out.write(payload)
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as inp:
        payload = inp.read()
    _, status, usage = os.wait4(pid, 0)
    seconds, result = pickle.loads(payload)
    if seconds is None:
        raise RuntimeError(f"benchmark child failed: {result}")
    return seconds, usage.ru_maxrss / 1024, result


def rss_mib(pid: int | None) -> float:
    """Resident memory of a process (MiB), 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, TypeError):
        pass
    return 0.0


def no_vector_schema(folder: Path) -> Path:
    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "annotation_schemas" / "trigger_spans.yaml")
                          .read_text())
    data.pop("vectors", None)
    path = folder / "trigger_spans_novec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def raw_push(api_url: str, api_key: str, dataset_id: str, bodies: list[list[dict]]) -> int:
    import httpx

    with httpx.Client(base_url=api_url, headers={"X-Argilla-Api-Key": api_key}, timeout=600) as http:
        for items in bodies:
            http.put(f"/api/v1/datasets/{dataset_id}/records/bulk", json={"items": items}).raise_for_status()
    return sum(len(b) for b in bodies)


def raw_pull(api_url: str, api_key: str, dataset_id: str) -> int:
    import httpx

    seen, offset = 0, 0
    with httpx.Client(base_url=api_url, headers={"X-Argilla-Api-Key": api_key}, timeout=600) as http:
        while True:
            page = http.get(f"/api/v1/datasets/{dataset_id}/records",
                            params={"include": ["responses", "suggestions"], "offset": offset, "limit": 1000}).json()
            seen += len(page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return seen


def bench_size(n: int, raw_push_too: bool) -> list[dict[str, Any]]:
    """Push, pull and qa figures for one size on a fresh stack."""
    from curation.annotate.client import connect
    from curation.annotate.pull import pull_records
    from curation.annotate.push import build_record, ensure_dataset, push_records, question_ids
    from curation.annotate.schemas import load_schema_model
    from curation.qa import stage as qa
    from curation.server import LocalStack, StackConfig

    out = []
    data = rows(n)
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        schema = str(no_vector_schema(Path(tmp)))
        stack = LocalStack(Path(tmp) / "ws", StackConfig(port=0, start_timeout=180))
        stack.start()
        try:
            creds = stack.credentials()
            client = connect(creds["api_url"], creds["api_key"])
            if raw_push_too:
                spec = load_schema_model(schema)
                raw_ds = ensure_dataset(client, spec, "scale_raw", "argilla", 1)
                qids = question_ids(client, raw_ds)
                records = [build_record(r, spec, qids, {}) for r in data]
                bodies = [records[i:i + BATCH] for i in range(0, n, BATCH)]
                del records
                secs, peak, done = measured(lambda: raw_push(creds["api_url"], creds["api_key"], str(raw_ds.id),
                                                             bodies))
                assert done == n
                raw_push_s, raw_push_mib = secs, peak
                raw_ds.delete()  # both sides start from an empty index (noida-db rewrites its data file)
            secs, peak, _ = measured(lambda: bool(push_records(data, schema, "scale", client, batch_size=BATCH,
                                                               show_progress=False)))
            server_mib = rss_mib(stack.pid("server"))
            out.append({"op": "push", "records": n, "seconds": secs, "rate": n / secs, "peak_mib": peak,
                        "raw_seconds": raw_push_s if raw_push_too else None,
                        "raw_peak_mib": raw_push_mib if raw_push_too else None, "server_mib": server_mib})
            dataset = client.datasets(name="scale", workspace="argilla")
            raw_s, raw_peak, seen = measured(lambda: raw_pull(creds["api_url"], creds["api_key"], str(dataset.id)))
            secs, peak, pulled = measured(lambda: len(pull_records(client, "scale")))
            assert pulled == seen == n, (pulled, seen, n)
            out.append({"op": "pull", "records": n, "seconds": secs, "rate": n / secs, "peak_mib": peak,
                        "raw_seconds": raw_s, "raw_peak_mib": raw_peak, "server_mib": rss_mib(stack.pid("server"))})
        finally:
            stack.stop()
    snap, codes = snapshot(n)
    raw_s, raw_peak, _ = measured(lambda: raw_qa(codes))
    secs, peak, _ = measured(lambda: qa.run(snap).records)
    out.append({"op": "qa", "records": n, "seconds": secs, "rate": n / secs, "peak_mib": peak, "raw_seconds": raw_s,
                "raw_peak_mib": raw_peak, "server_mib": None})
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    head = ("| operation | records | time (s) | records/s | peak RSS (MiB) | raw library time (s) | ratio ours/raw "
            "(throughput) | argilla-server RSS (MiB) |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in results:
        raw, server = r["raw_seconds"], r["server_mib"]
        raw_s = f"{raw:.1f}" if raw else "-"
        ratio = f"{raw / r['seconds']:.2f}" if raw else "-"
        server_s = f"{server:.0f}" if server else "-"
        lines.append(f"| {r['op']} | {r['records']:,} | {r['seconds']:.1f} | {r['rate']:.0f} | {r['peak_mib']:.0f} | "
                     f"{raw_s} | {ratio} | {server_s} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-raw-push", action="store_true", help="skip the raw push baseline (halves push time)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = []
    for n in args.sizes:
        t0 = time.perf_counter()
        results.extend(bench_size(n, not args.no_raw_push))
        print(f"size {n}: done in {time.perf_counter() - t0:.0f}s", flush=True)
        print(markdown(results), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
