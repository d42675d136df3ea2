"""Faults on the local stack (its own instance, never the shared one): kill -9 of the server, the search engine,
Redis and the worker in the middle of a push and of annotation; after `start` everything comes back, nothing is
lost or duplicated and the interrupted commands complete on a rerun. The search index is rebuilt from the database
by `curate server reindex`."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
from datasets import Dataset
from typer.testing import CliRunner

from curation.cli import app
from curation.core.errors import CurationError
from curation.core.hashing import record_id
from curation.server import PARTS, LocalStack, StackConfig

pytestmark = [pytest.mark.server, pytest.mark.slow]
ANSWER = {"harmfulness": {"value": "benign"}, "should_refuse": {"value": "no"}}


def rows(n: int, tag: str) -> Dataset:
    prompts = [f"{tag} request {i}: how do I kill the stuck job {i}?" for i in range(n)]
    return Dataset.from_dict({"id": [record_id(p) for p in prompts], "prompt": prompts, "source": [tag] * n,
                              "language": ["en"] * n, "label": ["benign"] * n})


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    """A private stack (temp workspace, free ports) that the tests may kill; stopped at the end."""
    from types import SimpleNamespace

    from curation.annotate.client import connect
    from curation.annotate.users import add_user, api_key

    stack = LocalStack(tmp_path_factory.mktemp("fault_stack") / "ws", StackConfig(port=0, start_timeout=150))
    try:
        stack.start()
        creds = stack.credentials()
        client = connect(creds["api_url"], creds["api_key"])
        add_user(client, "fault_annotator", "annotator", "argilla")
        yield SimpleNamespace(stack=stack, client=client, url=creds["api_url"],
                              annotator_key=api_key(client, "fault_annotator"))
    finally:
        stack.stop()


def db_ids(client, name: str) -> list[str]:
    """External ids of every record as the database lists them (not the search index)."""
    from curation.annotate.pull import get_dataset, iter_raw_records

    return [r["external_id"] for r in iter_raw_records(client, get_dataset(client, name).id, include=())]


def search_total(client, name: str) -> int:
    """Records the search index returns for a query every record matches."""
    from curation.annotate.client import raw_request
    from curation.annotate.pull import get_dataset

    body = {"query": {"text": {"q": "request"}}}
    return raw_request(client, "POST", f"/api/v1/datasets/{get_dataset(client, name).id}/records/search",
                       json=body, params={"limit": 1})["total"]


def respond_all(url: str, key: str, record_uuids: list[str], on_each=None) -> dict[str, int]:
    """Submit the same answer to each record as the annotator (REST, like the UI); status code per record."""
    codes = {}
    with httpx.Client(headers={"X-Argilla-Api-Key": key}, timeout=30) as http:
        for rid in record_uuids:
            try:
                codes[rid] = http.post(f"{url}/api/v1/records/{rid}/responses",
                                       json={"status": "submitted", "values": ANSWER}).status_code
            except httpx.HTTPError:
                codes[rid] = 0
            if on_each:
                on_each(len(codes))
    return codes


def record_uuids(client, name: str) -> list[str]:
    from curation.annotate.pull import get_dataset, iter_raw_records

    return [r["id"] for r in iter_raw_records(client, get_dataset(client, name).id, include=())]


@pytest.mark.parametrize("part", PARTS)
def test_kill_during_push_and_annotation_then_restart_and_rerun(own_stack, part):
    from curation.annotate.pull import pull_records
    from curation.annotate.push import push_records

    client, stack = own_stack.client, own_stack.stack
    n_push, n_answer = 400, 60
    push_rows, answer_rows = rows(n_push, f"push-{part}"), rows(n_answer, f"answer-{part}")
    push_records(answer_rows, "trigger_spans", f"answer_{part}", client, show_progress=False)
    targets = record_uuids(client, f"answer_{part}")

    first_batch, half_answered = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def push() -> None:
        try:
            push_records(push_rows, "trigger_spans", f"push_{part}", client, batch_size=40, show_progress=False,
                         on_batch=lambda done, total: first_batch.set())
            outcome["push"] = "completed"
        except CurationError as err:
            outcome["push"] = str(err)

    def annotate() -> None:
        outcome["codes"] = respond_all(own_stack.url, own_stack.annotator_key, targets,
                                       lambda k: half_answered.set() if k >= n_answer // 2 else None)

    threads = [threading.Thread(target=push), threading.Thread(target=annotate)]
    for t in threads:
        t.start()
    assert first_batch.wait(180) and half_answered.wait(180)
    stack.kill(part)
    for t in threads:
        t.join(300)
    assert stack.start().healthy

    # rerun both interrupted commands: the push upserts by id, the annotator re-submits what was not acknowledged
    push_records(push_rows, "trigger_spans", f"push_{part}", client, batch_size=40, show_progress=False)
    acknowledged = {rid for rid, code in outcome["codes"].items() if code in (200, 201)}
    retry = respond_all(own_stack.url, own_stack.annotator_key, [r for r in targets if r not in acknowledged])
    assert all(code in (200, 201, 409) for code in retry.values()), Counter(retry.values())

    ids = db_ids(client, f"push_{part}")
    assert len(ids) == n_push and set(ids) == set(push_rows["id"]), "records lost or duplicated"
    assert search_total(client, f"push_{part}") == n_push, "search index out of step with the database"
    snapshot = pull_records(client, f"answer_{part}")
    per_record = [[r for r in responses if r["user"] == "fault_annotator"] for responses in snapshot["responses"]]
    assert all(len(r) == 1 and r[0]["status"] == "submitted" for r in per_record), "responses lost or duplicated"


def test_reindex_rebuilds_the_search_index_from_the_database(own_stack):
    from curation.annotate.push import push_records

    client, stack = own_stack.client, own_stack.stack
    push_records(rows(30, "reindex"), "trigger_spans", "reindex_me", client, show_progress=False)
    assert search_total(client, "reindex_me") == 30
    stack.stop(("server", "worker", "search"))
    for path in stack.data_dir("search").iterdir():  # the index is lost; the database is not
        path.unlink() if path.is_file() else None
    stack._save_state(search_running=False)  # a clean stop: start alone does not rebuild
    (stack.data_dir("home") / "search-unflushed.json").unlink(missing_ok=True)  # nor does the server's write list
    assert stack.start().healthy
    try:
        lost = search_total(client, "reindex_me")
    except CurationError:  # the dataset's index is gone: searches fail
        lost = None
    assert lost != 30
    result = CliRunner(mix_stderr=False).invoke(app, ["--workspace", str(stack.workspace.root), "server", "reindex"])
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.output
    deadline = time.monotonic() + 30
    while search_total(client, "reindex_me") != 30 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert search_total(client, "reindex_me") == 30 and len(db_ids(client, "reindex_me")) == 30
