"""Load (127.0.0.1 only, bounded): 10 annotator sessions submit 100 responses each through the REST endpoints the UI
uses while a 5k-record push runs, on a private stack. Every response is persisted exactly once, `curate annotate
pull` sees them all, there is no 5xx, and throughput and p95 latency are printed (and written to
$CURATE_LOAD_REPORT when set). CURATE_LOAD_PUSH sets the push size (default 5000)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from datasets import Dataset
from typer.testing import CliRunner

from curation.cli import app
from curation.core.hashing import record_id
from curation.server import LocalStack, StackConfig

pytestmark = [pytest.mark.server, pytest.mark.slow]
ANNOTATORS, PER_ANNOTATOR = 10, 100
PUSH_RECORDS = int(os.environ.get("CURATE_LOAD_PUSH", "5000"))
ANSWERS = ({"harmfulness": {"value": "benign"}, "should_refuse": {"value": "no"}},
           {"harmfulness": {"value": "harmful"}, "should_refuse": {"value": "yes"}})


def rows(n: int, tag: str) -> Dataset:
    prompts = [f"{tag} {i}: how do I kill the background job number {i}?" for i in range(n)]
    return Dataset.from_dict({"id": [record_id(p) for p in prompts], "prompt": prompts, "source": [tag] * n,
                              "language": ["en"] * n, "label": ["benign"] * n})


def annotator_session(url: str, key: str, dataset_id: str, latencies: list[float], codes: list[int]) -> None:
    """Like the UI: fetch the pending queue, then submit one response per record, one request at a time."""
    pending = {"filters": {"and": [{"type": "terms", "scope": {"entity": "response", "property": "status"},
                                    "values": ["pending"]}]}}
    with httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": key}, timeout=300) as http:
        queue = http.post(f"/api/v1/me/datasets/{dataset_id}/records/search", json=pending,
                          params={"limit": PER_ANNOTATOR}).json()["items"]
        for i, item in enumerate(queue):
            t0 = time.perf_counter()
            resp = http.post(f"/api/v1/records/{item['record']['id']}/responses",
                             json={"status": "submitted", "values": ANSWERS[i % 2]})
            latencies.append(time.perf_counter() - t0)
            codes.append(resp.status_code)


def test_ten_annotators_while_a_big_push_runs(tmp_path, capsys):
    from curation.annotate.client import connect
    from curation.annotate.pull import get_dataset
    from curation.annotate.push import push_records
    from curation.annotate.users import add_user, api_key

    stack = LocalStack(tmp_path / "ws", StackConfig(port=0, start_timeout=150, num_workers=2))
    try:
        stack.start()
        creds = stack.credentials()
        assert creds["api_url"].startswith("http://127.0.0.1:")
        client = connect(creds["api_url"], creds["api_key"])
        push_records(rows(PER_ANNOTATOR, "queue"), "trigger_spans", "load_queue", client, show_progress=False)
        dataset_id = str(get_dataset(client, "load_queue").id)
        keys = {}
        for i in range(ANNOTATORS):
            add_user(client, f"load_{i}", "annotator", "argilla")
            keys[f"load_{i}"] = api_key(client, f"load_{i}")

        big = rows(PUSH_RECORDS, "bulk")
        push_done: dict[str, float] = {}

        def push() -> None:
            t0 = time.perf_counter()
            push_records(big, "trigger_spans", "load_bulk", client, batch_size=250, show_progress=False)
            push_done["seconds"] = time.perf_counter() - t0

        latencies: list[float] = []
        codes: list[int] = []
        pusher = threading.Thread(target=push)
        sessions = [threading.Thread(target=annotator_session, args=(creds["api_url"], key, dataset_id, latencies,
                                                                     codes)) for key in keys.values()]
        pusher.start()
        time.sleep(2)  # the push is under way
        t0 = time.perf_counter()
        for s in sessions:
            s.start()
        for s in sessions:
            s.join(900)
        annotate_s = time.perf_counter() - t0
        pusher.join(1800)
        assert "seconds" in push_done, "the push did not finish"

        assert len(codes) == ANNOTATORS * PER_ANNOTATOR
        assert all(c in (200, 201) for c in codes), {c: codes.count(c) for c in set(codes)}
        result = CliRunner(mix_stderr=False).invoke(app, ["--workspace", str(stack.workspace.root), "annotate",
                                                          "pull", "load_queue"])
        assert result.exit_code == 0, result.output
        snapshot = stack.workspace.load_dataset("load_queue.annotations")
        pairs = [(rid, r["user"]) for rid, rs in zip(snapshot["id"], snapshot["responses"], strict=True) for r in rs]
        assert len(pairs) == len(set(pairs)) == ANNOTATORS * PER_ANNOTATOR, "a response was lost or duplicated"
        assert {u for _, u in pairs} == set(keys)
        from curation.annotate.pull import iter_raw_records

        bulk_ids = [r["external_id"] for r in iter_raw_records(client, get_dataset(client, "load_bulk").id,
                                                               include=())]
        assert len(bulk_ids) == len(set(bulk_ids)) == PUSH_RECORDS

        report = {"responses": len(codes), "annotators": ANNOTATORS, "responses_per_s": len(codes) / annotate_s,
                  "p50_ms": float(np.percentile(latencies, 50) * 1000),
                  "p95_ms": float(np.percentile(latencies, 95) * 1000), "annotate_seconds": annotate_s,
                  "push_records": PUSH_RECORDS, "push_seconds": push_done["seconds"],
                  "push_records_per_s": PUSH_RECORDS / push_done["seconds"], "http_5xx": 0}
        with capsys.disabled():
            print(f"\nload: {json.dumps(report)}")
        if os.environ.get("CURATE_LOAD_REPORT"):
            Path(os.environ["CURATE_LOAD_REPORT"]).write_text(json.dumps(report, indent=2))
    finally:
        stack.stop()
