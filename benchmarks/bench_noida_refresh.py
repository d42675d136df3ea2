"""What a bulk write costs noida-db with and without `refresh=true`, and what a refresh alone costs, per index size.

Starts noida-db (the embedded stack's Elasticsearch emulator) in a temp dir and bulk-indexes documents with a text
field and a 384-d vector in batches of 250 without refresh; at each size in --sizes it times one more batch with
`refresh=true`, one without, and `POST /<index>/_refresh`. The figures behind the refresh coalescing in
curation/server/search_compat.py (docs/push-performance.md).
Usage: .venv/bin/python benchmarks/bench_noida_refresh.py --sizes 5000,10000,20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time

import httpx
import numpy as np

from curation.server.stack import _binary, free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000")
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


if __name__ == "__main__":
    main()
