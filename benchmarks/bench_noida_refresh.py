"""What a bulk write costs noida-db with and without `refresh=true`, and what a refresh alone costs, per index size.

Starts noida-db (the embedded stack's Elasticsearch emulator) in a temp dir and bulk-indexes documents with a text
field and a 384-d vector in batches of 250 without refresh; at each size in --sizes it times one more batch with
`refresh=true`, one without, and `POST /<index>/_refresh`. The figures behind the refresh coalescing in
curation/server/search_compat.py (docs/push-performance.md).
`--stream N` instead writes N documents without refresh and reports, per 5,000 documents, the bulk time (mean, p95,
max), the store on disk, how often noida-db rewrote its data files, and the time of one more bulk to a second, small
index (does a write cost grow with the whole store or with its own index?): the write cost vs store size that the
choice between refresh coalescing and one store per dataset rests on.
Usage: .venv/bin/python benchmarks/bench_noida_refresh.py --sizes 5000,10000,20000 | --stream 50000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from curation.server.stack import _binary, free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000")
    parser.add_argument("--stream", type=int, default=0, help="write this many documents, report per 5k (see above)")
    parser.add_argument("--bulk-size", type=int, default=250,
                        help="documents per bulk request in --stream (the coalesced push sends 250, the buffered one "
                             "up to search_compat.FLUSH_DOCS)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rng = np.random.default_rng(0)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="noida_refresh_") as tmp:
        proc = subprocess.Popen([str(_binary("noida_db", "noida-db")), "start", "--only", "elasticsearch", "--host",
                                 "127.0.0.1", "--elasticsearch-port", str(port), "--data-dir", tmp],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300)
            for _ in range(200):
                try:
                    client.get("/")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            client.put("/bench", json={"mappings": {"properties": {
                "text": {"type": "text"},
                "v": {"type": "dense_vector", "dims": 384, "index": True, "similarity": "cosine"}}}})
            count = 0

            def bulk(refresh: str, n: int = 250) -> float:
                nonlocal count
                lines = []
                for vec in rng.normal(size=(n, 384)).round(6).tolist():
                    lines += [json.dumps({"index": {"_index": "bench", "_id": str(count)}}),
                              json.dumps({"text": f"document {count} with some words", "v": vec})]
                    count += 1
                started = time.perf_counter()
                client.post(f"/_bulk?refresh={refresh}", content="\n".join(lines) + "\n",
                            headers={"content-type": "application/x-ndjson"}).raise_for_status()
                return (time.perf_counter() - started) * 1000

            if args.stream:
                client.put("/other", json={"mappings": {"properties": {"text": {"type": "text"}, "v": {
                    "type": "dense_vector", "dims": 384, "index": True, "similarity": "cosine"}}}})
                stream(client, Path(tmp), bulk, args.stream, proc.pid, args.bulk_size)
                return
            print(f"{'docs':>7} {'bulk refresh=true ms':>21} {'bulk refresh=false ms':>22} {'_refresh ms':>12}")
            for size in sizes:
                while count < size:
                    bulk("false")
                with_refresh, without = bulk("true"), bulk("false")
                started = time.perf_counter()
                client.post("/bench/_refresh").raise_for_status()
                refresh_ms = (time.perf_counter() - started) * 1000
                print(f"{count:>7} {with_refresh:>21.0f} {without:>22.0f} {refresh_ms:>12.0f}", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _files(root: Path) -> dict[str, tuple[float, int]]:
    return {str(f): (f.stat().st_mtime, f.stat().st_size) for f in root.rglob("*") if f.is_file()}


def stream(client: httpx.Client, root: Path, bulk: object, total: int, pid: int, size: int = 250) -> None:
    """Bulk-write `total` documents (refresh=false) in bulks of `size`; per 5k (or per bulk when larger): bulk ms,
    store size, file rewrites, RSS; at the end the wall time and noida-db's CPU seconds for the whole stream."""
    import statistics

    import psutil

    noida = psutil.Process(pid)
    cpu0, wall0 = sum(noida.cpu_times()[:2]), time.perf_counter()

    print(f"{'docs':>7} {'bulk ms mean':>12} {'p95':>6} {'max':>6} {'store MiB':>9} {'rewrites':>8} "
          f"{'MiB rewritten':>13} {'bulk of 250 to a 2nd index ms':>29} {'RSS MiB':>8}", flush=True)
    times: list[float] = []
    before = _files(root)
    rewrites, rewritten = 0, 0.0
    count = 0
    while count < total:
        times.append(bulk("false", size))  # type: ignore[operator]
        count += size
        now = _files(root)
        changed = [f for f, stat in now.items() if before.get(f) != stat]
        rewrites += bool(changed)
        rewritten += sum(now[f][1] for f in changed) / 2**20
        before = now
        if count % 5000 == 0 or size > 5000 or count >= total:
            other = _other_bulk(client)
            print(f"{count:>7} {statistics.mean(times):>12.0f} {sorted(times)[int(len(times) * 0.95)]:>6.0f} "
                  f"{max(times):>6.0f} {sum(s for _, s in now.values()) / 2**20:>9.1f} {rewrites:>8} "
                  f"{rewritten:>13.0f} {other:>29.0f} {psutil.Process(pid).memory_info().rss / 2**20:>8.0f}",
                  flush=True)
            times, rewrites, rewritten = [], 0, 0.0
    wall, cpu = time.perf_counter() - wall0, sum(noida.cpu_times()[:2]) - cpu0
    print(f"{total} documents in bulks of {size}: {wall:.1f} s wall, noida-db CPU {cpu:.1f} s "
          f"({cpu / total * 1000:.2f} ms per document)", flush=True)


def _other_bulk(client: httpx.Client) -> float:
    """One bulk of 250 documents to the second index (kept small: the same 250 ids each time)."""
    lines = []
    for i, vec in enumerate(np.random.default_rng(1).normal(size=(250, 384)).round(6).tolist()):
        lines += [json.dumps({"index": {"_index": "other", "_id": str(i)}}), json.dumps({"text": f"doc {i}", "v": vec})]
    started = time.perf_counter()
    client.post("/_bulk?refresh=false", content="\n".join(lines) + "\n",
                headers={"content-type": "application/x-ndjson"}).raise_for_status()
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main()
