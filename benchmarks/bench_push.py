"""Push throughput per size: `push_records` on the patched stack vs the unpatched stack vs the bare SDK, same run.

Two local stacks in temp workspaces: one as `curate server start` runs it (curation.server.perf_compat + refresh
coalescing) and one with StackConfig(patches=False), i.e. argilla-server 2.8.0 as installed. For each size the
same records (fields, metadata, span + label suggestions, a 384-d vector) go to a fresh dataset: `push_records`
on the patched stack, `push_records` and the bare SDK `dataset.records.log` on the unpatched one (each size only
up to --baseline-max there: upstream slows down with the index size). Reports records/s, argilla-server and
noida-db RSS after the push, the store on disk (SQLite + search data), and the pull time of the largest size.
The stacks run one at a time under load; ratios between rows of the same run are the comparable figures.
Usage: .venv/bin/python benchmarks/bench_push.py --records 2000,10000,50000 [--baseline-max 10000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset

from curation.annotate.client import connect
from curation.annotate.pull import pull_records
from curation.annotate.push import push_records
from curation.annotate.schemas import load_schema
from curation.core.hashing import record_id
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


def _rss_mib(pid: int | None) -> float:
    """Resident memory of a process and its children (argilla-server runs under the launcher), MiB."""
    if pid is None:
        return float("nan")
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) of a process and its children so far: the load-independent cost."""
    if pid is None:
        return 0.0
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _du_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


class Bench:
    """One local stack (patched or not) in a temp workspace, with a client."""

    def __init__(self, root: Path, patches: bool) -> None:
        self.label = "patched" if patches else "unpatched"
        self.stack = LocalStack(root / self.label, StackConfig(port=0, patches=patches, start_timeout=300))

    def __enter__(self) -> Bench:
        started = time.perf_counter()
        self.stack.start()
        print(f"{self.label} stack up in {time.perf_counter() - started:.1f}s", flush=True)
        creds = self.stack.credentials()
        self.client = connect(creds["api_url"], creds["api_key"])
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stack.stop()

    def measure(self, how: str, name: str, rows: Dataset, batch_size: int) -> dict[str, Any]:
        """Push `rows` to a new dataset `name` with push_records ('curate') or SDK records.log ('sdk')."""
        import argilla as rg

        parts = ("server", "search", "worker")
        if how == "sdk":
            settings = load_schema("trigger_spans", client=self.client)
            dataset = rg.Dataset(name=name, workspace="argilla", settings=settings, client=self.client).create()
            records = sdk_records(rows)  # built before timing: the SDK side is timed on `log` alone
            cpu0, client0 = {part: _cpu_s(self.stack.pid(part)) for part in parts}, sum(os.times()[:2])
            t0 = time.perf_counter()
            dataset.records.log(records, batch_size=batch_size)
            seconds = time.perf_counter() - t0
        else:
            push_records(rows.select(range(1)), "trigger_spans", name, self.client, show_progress=False)
            cpu0, client0 = {part: _cpu_s(self.stack.pid(part)) for part in parts}, sum(os.times()[:2])
            t0 = time.perf_counter()
            push_records(rows, "trigger_spans", name, self.client, batch_size=batch_size, show_progress=False)
            seconds = time.perf_counter() - t0
        settle = self.settle(name)
        cpu = {part: _cpu_s(self.stack.pid(part)) - cpu0[part] for part in parts}
        client_cpu = sum(os.times()[:2]) - client0
        time.sleep(3)  # let the idle refresh run: the store and RSS below include it
        respond_ms, search_ms = self.annotate_latency(name)
        data = self.stack.data_dir()
        return {"stack": self.label, "client": how, "records": len(rows), "batch_size": batch_size,
                "load_avg_1m": round(os.getloadavg()[0], 1),
                "seconds": round(seconds, 1), "records_per_s": round(len(rows) / seconds, 1),
                "searchable_after_s": round(settle, 1),
                **{f"{part}_cpu_ms_per_record": round(cpu[part] / len(rows) * 1000, 2) for part in parts},
                "client_cpu_ms_per_record": round(client_cpu / len(rows) * 1000, 2),
                "server_rss_mib": round(_rss_mib(self.stack.pid("server")), 0),
                "search_rss_mib": round(_rss_mib(self.stack.pid("search")), 0),
                "store_mib": round(_du_mib(data), 1), "search_store_mib": round(_du_mib(data / "search"), 1),
                "respond_ms": respond_ms, "pending_search_ms": search_ms}

    def settle(self, name: str, timeout: float = 600.0) -> float:
        """Seconds after the push until the search store holds every record: the patched server's write buffer
        flushed (and persisted by noida-db), i.e. the dataset's index no longer listed as unflushed. The CPU
        figures include this tail, so the search store's deferred work is counted."""
        from curation.server.search_compat import UNFLUSHED_FILE

        index = f"rg.{self.client.datasets(name=name, workspace='argilla').id}"
        listed = self.stack.data_dir("home") / UNFLUSHED_FILE
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            try:
                if not listed.exists() or index not in json.loads(listed.read_text()):
                    break
            except ValueError:  # replaced while read
                pass
            time.sleep(0.25)
        return time.perf_counter() - t0

    def annotate_latency(self, name: str) -> tuple[float, float]:
        """What an annotator waits for at this size: one response stored, then the pending-queue search."""
        from curation.annotate.client import raw_request

        dataset = self.client.datasets(name=name, workspace="argilla")
        record = raw_request(self.client, "GET", f"/api/v1/datasets/{dataset.id}/records", params={"limit": 1})
        t0 = time.perf_counter()
        raw_request(self.client, "POST", f"/api/v1/records/{record['items'][0]['id']}/responses",
                    json={"status": "discarded", "values": {}})
        t1 = time.perf_counter()
        raw_request(self.client, "POST", f"/api/v1/me/datasets/{dataset.id}/records/search", params={"limit": 10},
                    json={"filters": {"and": [{"type": "terms", "scope": {"entity": "response",
                                                                          "property": "status"},
                                               "values": ["pending"]}]}})
        return round((t1 - t0) * 1000), round((time.perf_counter() - t1) * 1000)

    def pull(self, name: str, n: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        pulled = pull_records(self.client, name)
        seconds = time.perf_counter() - t0
        assert len(pulled) == n, (len(pulled), n)
        return {"stack": self.label, "client": "pull", "records": n, "seconds": round(seconds, 1),
                "load_avg_1m": round(os.getloadavg()[0], 1),
                "records_per_s": round(n / seconds, 1)}

    def drop(self, name: str) -> None:
        self.client.datasets(name=name, workspace="argilla").delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="2000,10000", help="comma-separated sizes")
    parser.add_argument("--baseline-max", type=int, default=10000,
                        help="largest size also run on the unpatched stack (push_records and bare SDK)")
    parser.add_argument("--batch-size", default="250", help="comma-separated batch sizes (patched stack)")
    parser.add_argument("--no-sdk", action="store_true", help="skip the bare SDK rows")
    parser.add_argument("--sdk-only", action="store_true",
                        help="on the unpatched stack run only the bare SDK (not push_records)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    logging.getLogger("argilla.sdk").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    sizes = [int(s) for s in args.records.split(",")]
    batches = [int(b) for b in args.batch_size.split(",")]
    results: list[dict[str, Any]] = []

    def report(row: dict[str, Any]) -> None:
        results.append(row)
        print(json.dumps(row), flush=True)

    with tempfile.TemporaryDirectory(prefix="bench_push_") as tmp:
        root = Path(tmp)
        baseline_sizes = [n for n in sizes if n <= args.baseline_max]
        if baseline_sizes:
            with Bench(root, patches=False) as bench:
                for n in baseline_sizes:
                    rows = make_rows(n)
                    hows = (() if args.sdk_only else ("curate",)) + (() if args.no_sdk else ("sdk",))
                    for how in hows:
                        report(bench.measure(how, f"bench_{how}_{n}", rows, batches[0]))
                        bench.drop(f"bench_{how}_{n}")  # each push starts from an empty index
        with Bench(root, patches=True) as bench:
            for n in sizes:
                rows = make_rows(n)
                for batch in batches:
                    name = f"bench_curate_{n}_{batch}"
                    report(bench.measure("curate", name, rows, batch))
                    if n == max(sizes) and batch == batches[-1]:
                        report(bench.pull(name, n))
                    bench.drop(name)
    print(f"\n{'stack':10} {'client':7} {'records':>8} {'batch':>5} {'s':>7} {'rec/s':>7} {'server MiB':>10} "
          f"{'search MiB':>10} {'store MiB':>9} {'respond ms':>10} {'search ms':>9} {'load':>5} "
          f"{'CPU ms/rec server':>17} {'search':>6} {'client':>6} {'searchable s':>12}")
    for r in results:
        print(f"{r['stack']:10} {r['client']:7} {r['records']:>8} {r.get('batch_size', ''):>5} {r['seconds']:>7} "
              f"{r['records_per_s']:>7} {r.get('server_rss_mib', ''):>10} {r.get('search_rss_mib', ''):>10} "
              f"{r.get('store_mib', ''):>9} {r.get('respond_ms', ''):>10} {r.get('pending_search_ms', ''):>9} "
              f"{r['load_avg_1m']:>5} {r.get('server_cpu_ms_per_record', ''):>17} "
              f"{r.get('search_cpu_ms_per_record', ''):>6} {r.get('client_cpu_ms_per_record', ''):>6} "
              f"{r.get('searchable_after_s', ''):>12}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
