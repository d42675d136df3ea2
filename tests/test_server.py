"""The local Argilla stack: health, secrets, idempotent start, stale pids, taken ports, persistence, crashes."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass

import httpx
import pytest
from datasets import Dataset
from typer.testing import CliRunner

from curation.core.errors import InputError, ServiceError
from curation.core.hashing import record_id
from curation.server import PARTS, LocalStack, StackConfig
from curation.server.search_compat import CompatElasticSearchEngine

pytestmark = pytest.mark.server


def _cli(ws_root, *args: str):
    from curation.cli import app

    return CliRunner(mix_stderr=False).invoke(app, ["--workspace", str(ws_root), *args])


def _records(n: int, tag: str) -> Dataset:
    prompts = [f"{tag} prompt number {i}: how do I kill a stuck process?" for i in range(n)]
    return Dataset.from_dict({"id": [record_id(p) for p in prompts], "prompt": prompts, "source": [tag] * n,
                              "language": ["en"] * n, "label": ["benign"] * n,
                              "prompt_vector": [[float(i + 1)] + [0.5] * 383 for i in range(n)]})


def _count(client, name: str) -> int:
    return sum(1 for _ in client.datasets(name=name, workspace="argilla").records)


# --- the compat search engine, on the exact filter objects argilla-server builds --------------------------------------
@dataclass
class _User:
    id: str


def _engine() -> CompatElasticSearchEngine:
    return CompatElasticSearchEngine(config={"hosts": "http://127.0.0.1:1"}, number_of_shards=1, number_of_replicas=0)


def _status_filter(values: list[str], user: _User | None = None):
    from argilla_server.search_engine import ResponseFilterScope, TermsFilter

    return TermsFilter(scope=ResponseFilterScope(property="status", user=user), values=values)


def test_compat_pending_filter_is_a_nested_must_not():
    nested_of_user = {"nested": {"path": "responses", "query": {"term": {"responses.user_id": "u1"}},
                                 "score_mode": "avg"}}
    assert _engine()._response_status_filter_to_es_filter(_status_filter(["pending"], _User("u1"))) == {
        "bool": {"must_not": nested_of_user}}
    no_user = _engine()._response_status_filter_to_es_filter(_status_filter(["pending"]))
    assert no_user == {"bool": {"must_not": {"nested": {"path": "responses", "query": {"match_all": {}},
                                                        "score_mode": "avg"}}}}


def test_compat_engine_waits_longer_than_the_client_default_for_noida():
    """A bulk that meets noida-db's whole-store rewrite took over elasticsearch8's 10 s default under load."""
    import asyncio

    from curation.server.search_compat import REQUEST_TIMEOUT_S

    async def timeout() -> float:
        engine = await CompatElasticSearchEngine.new_instance()
        try:
            return engine.client._request_timeout
        finally:
            await engine.close()

    assert asyncio.run(timeout()) == REQUEST_TIMEOUT_S >= 60


def test_compat_mixed_status_filter_keeps_upstream_shape():
    mixed = _engine()._response_status_filter_to_es_filter(_status_filter(["pending", "draft"], _User("u1")))
    assert mixed["bool"]["minimum_should_match"] == 1
    pending, draft = mixed["bool"]["should"]
    assert "must_not" in pending["bool"]
    assert draft["nested"]["query"]["bool"]["must"][0] == {"terms": {"responses.status": ["draft"]}}
    submitted = _engine()._response_status_filter_to_es_filter(_status_filter(["submitted"]))
    assert submitted["nested"]["path"] == "responses"  # non-pending values go to upstream unchanged


# --- the running stack ----------------------------------------------------------------------------------------------
def test_status_lists_every_part_healthy_on_localhost(argilla_stack):
    status = argilla_stack.stack.status()
    assert [p.name for p in status.parts] == list(PARTS)
    assert status.healthy, [(p.name, p.detail) for p in status.parts]
    assert status.url.startswith("http://127.0.0.1:")
    result = _cli(argilla_stack.workspace.root, "server", "status")
    assert result.exit_code == 0, result.output
    assert argilla_stack.api_url in result.output and "argilla" in result.output
    ui = httpx.get(f"{argilla_stack.api_url}/sign-in", timeout=10)
    assert ui.status_code == 200 and "<html" in ui.text.lower()
    # the status endpoint works thanks to the compat engine's info()
    api = httpx.get(f"{argilla_stack.api_url}/api/v1/status", headers={"X-Argilla-Api-Key": argilla_stack.api_key})
    assert api.status_code == 200 and api.json()["search_engine"]["version"]["number"]


def test_credentials_are_random_private_and_shown_only_when_asked(argilla_stack):
    ws = argilla_stack.workspace
    secret = ws.path("secrets", "argilla.json")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    creds = json.loads(secret.read_text())
    assert creds["password"] not in ("1234", "12345678") and len(creds["password"]) >= 16
    assert creds["api_key"] != "argilla.apikey"
    token = httpx.post(f"{argilla_stack.api_url}/api/v1/token",
                       data={"username": "argilla", "password": creds["password"]})
    assert token.status_code in (200, 201) and token.json()["access_token"]
    for default in ("1234", "12345678"):
        assert httpx.post(f"{argilla_stack.api_url}/api/v1/token",
                          data={"username": "argilla", "password": default}).status_code == 401
    hidden = _cli(ws.root, "server", "credentials")
    assert hidden.exit_code == 0 and creds["password"] not in hidden.output and creds["api_key"] not in hidden.output
    shown = _cli(ws.root, "server", "credentials", "--show-secret")
    assert creds["password"] in shown.output and creds["api_key"] in shown.output


def test_start_is_idempotent(argilla_stack):
    stack = argilla_stack.stack
    before = {p.name: p.pid for p in stack.status().parts}
    again = LocalStack(argilla_stack.workspace, StackConfig()).start()
    assert {p.name: p.pid for p in again.parts} == before
    assert again.url == argilla_stack.api_url


def test_taken_port_gives_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(InputError, match=f"port {port} .*already in use"):
            LocalStack(tmp_path / "ws", StackConfig(port=port)).start()
        result = subprocess.run([sys.executable, "-c", "from curation.cli import main; main()", "--workspace",
                                 str(tmp_path / "ws2"), "server", "start", "--port", str(port)],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"port {port}" in result.stderr and "--port" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not any(LocalStack(tmp_path / "ws").pid(p) for p in PARTS)  # nothing was left running


def test_stale_pid_files_are_cleaned_and_the_part_restarted(argilla_stack):
    stack = argilla_stack.stack
    stack.stop(("worker",))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stack.pid_path("worker").write_text(json.dumps({"pid": dead.pid, "port": None, "started": 1}))
    assert stack.pid("worker") is None and not stack.pid_path("worker").exists()
    # a live pid that belongs to another process (start time differs) is stale too
    stack.pid_path("worker").write_text(json.dumps({"pid": os.getpid(), "port": None, "started": 1}))
    assert stack.pid("worker") is None
    assert stack.start().healthy


def test_data_survives_stop_and_start(argilla_stack):
    from curation.annotate.push import push_records

    client = argilla_stack.client
    push_records(_records(5, "persist"), "trigger_spans", "persist_stop", client, show_progress=False)
    stack = argilla_stack.stack
    assert set(stack.stop()) == set(PARTS)
    assert not stack.status().running
    with pytest.raises(ServiceError, match="not reachable"):
        from curation.annotate.client import connect

        connect(argilla_stack.api_url, argilla_stack.api_key)
    assert stack.start().healthy
    assert _count(client, "persist_stop") == 5
    found = client.datasets(name="persist_stop", workspace="argilla").records(
        query="stuck", with_vectors=True).to_list(flatten=True)
    assert len(found) == 5 and len(found[0]["prompt_vector"]) == 384


def test_data_survives_killed_processes(argilla_stack):
    import argilla as rg

    from curation.annotate.push import push_records

    client = argilla_stack.client
    push_records(_records(4, "crash"), "trigger_spans", "persist_kill", client, show_progress=False)
    stack = argilla_stack.stack
    for part in PARTS:
        stack.kill(part)
    status = stack.status()  # pid files are stale now
    assert not status.running
    assert stack.start().healthy
    dataset = client.datasets(name="persist_kill", workspace="argilla")
    assert _count(client, "persist_kill") == 4
    hits = dataset.records(query=rg.Query(filter=rg.Filter(("metadata.source", "==", "crash")))).to_list(flatten=True)
    assert len(hits) == 4


def test_buffered_search_writes_of_a_killed_server_are_rebuilt_from_the_database(argilla_stack, monkeypatch):
    """Write buffering: a read through the server sees its own buffered writes; writes still buffered when the server
    is killed are missing from noida-db, and the next start rebuilds that index from SQLite (search equal again)."""
    import argilla as rg

    from curation.annotate.push import push_records
    from curation.server.search_compat import FLUSH_IDLE_ENV, UNFLUSHED_FILE

    stack, client = argilla_stack.stack, argilla_stack.client
    monkeypatch.setenv(FLUSH_IDLE_ENV, "600")  # nothing is flushed on idle: only reads flush
    stack.stop(("server",))
    assert stack.start().healthy
    try:
        rows = _records(30, "buffered")
        push_records(rows.select(range(20)), "trigger_spans", "buffered", client, show_progress=False)
        dataset = client.datasets(name="buffered", workspace="argilla")
        found = dataset.records(query=rg.Query(filter=rg.Filter(("metadata.source", "==", "buffered"))))
        assert len(found.to_list(flatten=True)) == 20  # the search flushed the buffer first
        push_records(rows.select(range(20, 30)), "trigger_spans", "buffered", client, show_progress=False)
        index = f"rg.{dataset.id}"
        listed = json.loads((stack.data_dir("home") / UNFLUSHED_FILE).read_text())
        assert index in listed
        stack.kill("server")
        noida = httpx.Client(base_url=f"http://127.0.0.1:{stack.part_port('search')}", timeout=60)
        noida.post(f"/{index}/_refresh").raise_for_status()
        assert noida.get(f"/{index}/_count").json()["count"] == 20  # the last 10 never reached the search store
    finally:
        monkeypatch.delenv(FLUSH_IDLE_ENV)
        assert stack.start().healthy
    assert "search indices rebuilt from the database" in stack.log_path("server").read_text()
    assert noida.get(f"/{index}/_count").json()["count"] == 30
    found = dataset.records(query=rg.Query(filter=rg.Filter(("metadata.source", "==", "buffered"))))
    assert len(found.to_list(flatten=True)) == 30
    similar = list(dataset.records(query=rg.Query(similar=rg.Similar(name="prompt_vector",
                                                                      value=[1.0] + [0.5] * 383)), limit=3))
    assert similar[0][0].id == rows[0]["id"] and similar[0][1] > similar[1][1]
    assert not (stack.data_dir("home") / UNFLUSHED_FILE).exists() or \
        index not in json.loads((stack.data_dir("home") / UNFLUSHED_FILE).read_text())
    doomed = list(dataset.records(query=rg.Query(filter=rg.Filter(("metadata.source", "==", "buffered")))))[:5]
    dataset.records.delete(doomed)  # delete actions go through the buffer too, in order after the index actions
    found = dataset.records(query=rg.Query(filter=rg.Filter(("metadata.source", "==", "buffered"))))
    assert len(found.to_list(flatten=True)) == 25


def test_a_failing_part_is_named_with_its_log(tmp_path):
    """A corrupt database makes argilla-server exit during start-up: the error names the part and its log."""
    stack = LocalStack(tmp_path / "ws", StackConfig(port=0, start_timeout=60))
    stack.data_dir().mkdir(parents=True)
    stack.data_dir("argilla.db").write_bytes(b"this is not a sqlite database" * 100)
    stack.workspace.write_secret("argilla", {"username": "argilla", "password": "x" * 20, "api_key": "k" * 30})
    from importlib.metadata import version

    stack._save_state(initialized=version("argilla-server"))
    try:
        with pytest.raises(ServiceError) as err:
            stack.start()
        message = str(err.value)
        assert "server" in message and str(stack.log_path("server")) in message
    finally:
        stack.stop()
    assert not stack.status().running


# --- perf_compat: guarded patches, and the same results with and without them ---------------------------------------
def test_perf_patches_match_the_installed_argilla_server():
    """Fails when argilla-server changes a patched function: re-check the patch, then record the new source hash."""
    from curation.server import perf_compat

    assert perf_compat.mismatches() == [], "argilla-server changed; see curation/server/perf_compat.py"


def test_search_write_buffer_matches_the_installed_argilla_server():
    """Fails when argilla-server changes code the write buffer relies on: re-check search_compat, then record the
    new hash in BUFFER_UPSTREAM (until then the launcher leaves buffering off)."""
    from curation.server import search_compat

    assert search_compat.buffering_mismatches() == [], "argilla-server changed; see curation/server/search_compat.py"


def test_a_patch_whose_upstream_changed_is_not_applied(monkeypatch):
    from curation.server import perf_compat

    installed = []
    stale = perf_compat.Patch("stale", (("argilla_server.models.database", "Question.parsed_settings", "0" * 64),),
                              lambda: installed.append("stale"))
    monkeypatch.setattr(perf_compat, "PATCHES", (stale,))
    monkeypatch.setattr(perf_compat, "_applied", [])
    assert perf_compat.mismatches() == ["stale"]
    assert perf_compat.apply() == [] and installed == []
    monkeypatch.setenv(perf_compat.PATCHES_ENV, "0")
    assert not perf_compat.enabled()


_ORJSON_PARITY = """
import datetime, json, uuid
import numpy as np
from curation.server import perf_compat
assert "orjson-on-the-push-path" in perf_compat.apply()
from argilla_server.database import async_engine
from elasticsearch8.serializer import JsonSerializer
from starlette.responses import JSONResponse
doc = {"text": "café ✓ 東京 \\u2028", "vector": [float(x) for x in np.random.default_rng(0).normal(size=384)
                                               .astype(np.float32)], "n": [0, -1, 2**63 - 1, 1e-05, 1e300],
       "nested": {"a": None, "b": [True, False]}}
dialect = async_engine.sync_engine.dialect
assert json.loads(dialect._json_serializer(doc)) == doc and dialect._json_deserializer(json.dumps(doc)) == doc
assert json.loads(dialect._json_serializer({"big": 2**70})) == {"big": 2**70}  # orjson refuses: json.dumps
assert dialect._json_deserializer("NaN") != dialect._json_deserializer("NaN")  # json.loads reads what it wrote
try:
    dialect._json_deserializer(0.5)  # SQLite's REAL: TypeError, as json.loads, so _SQliteJson returns it as is
    raise AssertionError("no TypeError")
except TypeError:
    pass
es = dict(doc, at=datetime.datetime(2024, 5, 1, 12, 30, 5, 120), day=datetime.date(2024, 5, 1), id=uuid.UUID(int=7),
          f32=np.float32(0.25), arr=np.arange(3))
assert json.loads(JsonSerializer().dumps(es)) == {**doc, "at": "2024-05-01T12:30:05.000120", "day": "2024-05-01",
    "id": str(uuid.UUID(int=7)), "f32": 0.25, "arr": [0, 1, 2]}
assert json.loads(JSONResponse(doc).body) == doc and JSONResponse({1: "x"}).body == b'{"1":"x"}'
import asyncio
from starlette.requests import Request
def body(raw):
    async def receive():
        return {"type": "http.request", "body": raw, "more_body": False}
    return asyncio.run(Request({"type": "http", "method": "PUT", "headers": []}, receive).json())
assert body(json.dumps(doc).encode()) == doc and body(b'{"x": NaN}')["x"] != body(b'{"x": NaN}')["x"]
try:
    body(b'{"x": ')  # FastAPI answers 422 on json.JSONDecodeError, as upstream
    raise AssertionError("no JSONDecodeError")
except json.JSONDecodeError:
    pass
print("ok")
"""


def test_orjson_patch_serializes_what_upstream_did():
    """The orjson patch (in a fresh interpreter: it changes process-wide classes) gives the same JSON values as the
    serializers it replaces, and falls back to them for what orjson refuses."""
    out = subprocess.run([sys.executable, "-c", _ORJSON_PARITY], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def _same_push_rows(n: int, shift: int = 0) -> Dataset:
    """Rows with spans, labels, scores, metadata and distinct 384-d vectors (every kind of data a push sends);
    `shift` changes scores, suggestion values and vectors, not ids or texts."""
    words = ["kill", "shoot", "attack"]
    prompts = [f"Request {i}: how do I {words[i % 3]} the stuck job {i}?" + (" (café ✓ 東京)" if i % 5 == 0 else "")
               for i in range(n)]
    spans = [[{"start": p.index(words[i % 3]), "end": p.index(words[i % 3]) + len(words[i % 3]), "text": words[i % 3],
               "label": "benign_homonym", "score": 0.5 + i / (4 * n), "agents": ["lexicon.v1"]}]
             for i, p in enumerate(prompts)]
    vectors = [[float((i * 7 + j + shift) % 11) - 5.0 + i / n for j in range(384)] for i in range(n)]
    return Dataset.from_dict({
        "id": [record_id(p) for p in prompts], "prompt": prompts, "source": ["same"] * n, "language": ["en"] * n,
        "category": [words[i % 3] for i in range(n)],
        "label": ["harmful" if i % 4 == 0 else "benign" for i in range(n)],
        "trigger_spans": spans, "boundary_score": [i / n for i in range(n)],
        "p_refuse": [((i * 37 + shift) % n) / n for i in range(n)], "prompt_vector": vectors})


def _snapshot(client, name: str, probe_vector: list[float]) -> dict:
    """Everything a push stores and every search the UI runs, keyed by external id (server UUIDs differ)."""
    from curation.annotate.client import raw_request

    dataset = client.datasets(name=name, workspace="argilla")
    questions = {q["id"]: q["name"] for q in raw_request(client, "GET", f"/api/v1/datasets/{dataset.id}/questions")
                 ["items"]}
    ext = {}
    records = {}
    for r in raw_request(client, "GET", f"/api/v1/datasets/{dataset.id}/records",
                         params={"include": ["responses", "suggestions", "vectors"], "limit": 1000})["items"]:
        ext[r["id"]] = r["external_id"]
        records[r["external_id"]] = {
            "fields": r["fields"], "metadata": r["metadata"], "status": r["status"], "vectors": r["vectors"],
            "responses": sorted((x["status"], json.dumps(x["values"], sort_keys=True)) for x in r["responses"]),
            "suggestions": sorted((questions[s["question_id"]], json.dumps(s["value"]), json.dumps(s["score"]),
                                   s["agent"], s["type"]) for s in r["suggestions"])}

    def search(body: dict, scores: bool = False) -> list:
        hits = raw_request(client, "POST", f"/api/v1/datasets/{dataset.id}/records/search", json=body,
                           params={"limit": 50})["items"]
        return [(ext[h["record"]["id"]], round(h["query_score"] or 0, 5)) if scores else ext[h["record"]["id"]]
                for h in hits]

    def terms(entity: str, values: list, **scope) -> dict:
        return {"type": "terms", "scope": {"entity": entity, **scope}, "values": values}

    p_refuse = {"entity": "metadata", "metadata_property": "p_refuse"}
    return {
        "records": records,
        "text": search({"query": {"text": {"q": "shoot"}}}),
        "metadata_terms": sorted(search({"filters": {"and": [terms("metadata", ["attack"],
                                                                   metadata_property="category")]}})),
        "metadata_range_sorted": search({"filters": {"and": [{"type": "range", "scope": p_refuse, "ge": 0.2,
                                                              "le": 0.7}]},
                                         "sort": [{"scope": p_refuse, "order": "desc"}]}),
        "pending": sorted(search({"filters": {"and": [terms("response", ["pending"], property="status")]}})),
        "discarded": search({"filters": {"and": [terms("response", ["discarded"], property="status")]}}),
        "suggestion_value": sorted(search({"filters": {"and": [terms("suggestion", ["harmful"], question="harmfulness",
                                                                       property="value")]}})),
        "should_refuse_yes": sorted(search({"filters": {"and": [terms("suggestion", ["yes"], question="should_refuse",
                                                                      property="value")]}})),
        "similar": search({"query": {"vector": {"name": "prompt_vector", "value": probe_vector}}}, scores=True)[:10],
        "progress": raw_request(client, "GET", f"/api/v1/datasets/{dataset.id}/progress"),
        "my_metrics": raw_request(client, "GET", f"/api/v1/me/datasets/{dataset.id}/metrics"),
    }


def test_patched_and_upstream_servers_store_and_find_the_same(argilla_stack, tmp_path):
    """The same push (and one discarded response) to the patched stack and to upstream argilla-server: equal data,
    equal search/filter/sort/similarity results, equal progress."""
    from curation.annotate.client import connect, raw_request
    from curation.annotate.push import push_records

    rows = _same_push_rows(60)
    probe = [float((5 * 7 + j) % 11) - 4.9 for j in range(384)]
    upstream = LocalStack(tmp_path / "upstream", StackConfig(port=0, patches=False, start_timeout=150))
    upstream.start()
    try:
        server_log = argilla_stack.stack.log_path("server").read_text()
        assert ("perf_compat applied: cached-settings-adapters, record-events-only-with-webhooks, "
                "core-upserts-of-suggestions-and-vectors, orjson-on-the-push-path; refresh coalescing on; "
                "write buffering on") in server_log
        assert "perf_compat applied" not in upstream.log_path("server").read_text()
        snapshots = []
        for client in (argilla_stack.client, connect(upstream.credentials()["api_url"],
                                                     upstream.credentials()["api_key"])):
            push_records(_same_push_rows(60, shift=13).select(range(25)), "trigger_spans", "same_push", client,
                         batch_size=10, show_progress=False)
            push_records(rows, "trigger_spans", "same_push", client, batch_size=20, show_progress=False)  # updates 25
            dataset = client.datasets(name="same_push", workspace="argilla")
            first = next(r for r in raw_request(client, "GET", f"/api/v1/datasets/{dataset.id}/records",
                                                params={"limit": 100})["items"] if r["external_id"] == rows[3]["id"])
            raw_request(client, "POST", f"/api/v1/records/{first['id']}/responses",
                        json={"status": "discarded", "values": {}})
            gone = {rows[5]["id"], rows[6]["id"]}  # deletes (through the write buffer on the patched stack)
            dataset.records.delete([record for record in dataset.records if record.id in gone])
            snapshots.append(_snapshot(client, "same_push", probe))
    finally:
        upstream.stop()
    patched, plain = snapshots
    assert len(patched["records"]) == 58 and patched["discarded"] == [rows[3]["id"]]
    assert patched["similar"] and patched["text"] and patched["metadata_range_sorted"]
    updated = patched["records"][rows[0]["id"]]  # pushed with shift=13 first: the second push's values won
    assert updated["vectors"]["prompt_vector"] == pytest.approx(rows[0]["prompt_vector"])
    assert updated["metadata"]["p_refuse"] == pytest.approx(rows[0]["p_refuse"])
    for key in plain:
        assert patched[key] == plain[key], key
