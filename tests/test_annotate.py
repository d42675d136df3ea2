"""Push / pull / status / users against the real local Argilla stack (session fixture `argilla_stack`)."""

from __future__ import annotations

import json

import httpx
import pytest
from datasets import Dataset
from factories import PIPELINE_PROMPTS, pipeline_rows
from typer.testing import CliRunner

from curation.annotate.client import connect, resolve_credentials
from curation.annotate.pull import pull_records
from curation.annotate.push import push_records
from curation.annotate.status import annotation_status
from curation.annotate.users import add_user, api_key
from curation.core.errors import InputError, ServiceError
from curation.core.hashing import record_id
from curation.server import free_port

pytestmark = pytest.mark.server

def _records(client, name, workspace="argilla"):
    return list(client.datasets(name=name, workspace=workspace).records(with_suggestions=True, with_vectors=True,
                                                                      with_responses=True))


def _respond(api_url: str, key: str, record_uuid, values: dict, status: str = "submitted") -> None:
    body = {"status": status, "values": {q: {"value": v} for q, v in values.items()}}
    resp = httpx.post(f"{api_url}/api/v1/records/{record_uuid}/responses", json=body,
                      headers={"X-Argilla-Api-Key": key}, timeout=30)
    assert resp.status_code in (200, 201), resp.text


def test_round_trip_spans_labels_metadata_vectors(argilla_stack, encoder):
    client = argilla_stack.client
    ds = pipeline_rows()
    push_records(ds, "trigger_spans", "round_trip", client, encoder=encoder, show_progress=False)
    records = {r.id: r for r in _records(client, "round_trip")}
    assert set(records) == set(ds["id"])
    kill = records[record_id(PIPELINE_PROMPTS[0])]
    assert kill.fields["prompt"] == PIPELINE_PROMPTS[0] and kill.fields["response"] == "Use kill -9 PID."
    spans = kill.suggestions["trigger_spans"]
    assert spans.value == [{"label": "benign_homonym", "start": 9, "end": 13}]
    assert spans.score == [0.75] and spans.agent == "lexicon.v1 syntactic.v1"
    assert kill.suggestions["harmfulness"].value == "benign"
    assert kill.suggestions["harmfulness"].score == pytest.approx(0.8)
    assert kill.suggestions["should_refuse"].value == "no"
    assert kill.metadata == {"source": "t", "language": "en", "category": "cat_b", "boundary_score": 0.0,
                             "p_refuse": 0.2, "judge_label": "full_compliance", "uncertainty": pytest.approx(0.4)}
    vector = kill.vectors["prompt_vector"]
    assert len(vector) == 384
    assert vector == pytest.approx(encoder.encode([PIPELINE_PROMPTS[0]])[0].tolist(), abs=1e-5)
    # pulled back: suggestions beside (still empty) responses, agents comma-joined, metadata as columns
    pulled = pull_records(client, "round_trip")
    row = pulled.filter(lambda r: r["id"] == record_id(PIPELINE_PROMPTS[0]))[0]
    suggestions = json.loads(row["suggestions"])
    assert suggestions["trigger_spans"] == {"value": [{"label": "benign_homonym", "start": 9, "end": 13}],
                                            "score": [0.75], "agent": "lexicon.v1,syntactic.v1"}
    assert row["responses"] == [] and row["record_status"] == "pending"
    assert row["source"] == "t" and row["p_refuse"] == pytest.approx(0.2) and row["argilla_dataset"] == "round_trip"


def test_repush_updates_without_duplicating_and_keeps_responses(argilla_stack):
    client = argilla_stack.client
    ds = pipeline_rows(tag="v1").remove_columns(["trigger_spans"])
    dataset = push_records(ds, "trigger_spans", "repush", client, show_progress=False)
    first = {r.id: r for r in _records(client, "repush")}
    target = first[record_id(PIPELINE_PROMPTS[2])]
    _respond(argilla_stack.api_url, argilla_stack.api_key, target._server_id,
             {"harmfulness": "benign", "should_refuse": "no"})
    changed = ds.map(lambda r: {"source": "v2", "label": "harmful"})
    push_records(changed, "trigger_spans", "repush", client, show_progress=False)
    push_records(changed, "trigger_spans", "repush", client, show_progress=False)
    again = {r.id: r for r in _records(client, "repush")}
    assert len(again) == len(PIPELINE_PROMPTS) and set(again) == set(first)
    assert {r._server_id for r in again.values()} == {r._server_id for r in first.values()}
    kept = again[record_id(PIPELINE_PROMPTS[2])]
    assert [(x.question_name, x.value) for x in kept.responses] == [("harmfulness", "benign"), ("should_refuse", "no")]
    assert kept.metadata["source"] == "v2" and kept.suggestions["harmfulness"].value == "harmful"
    assert dataset.name == "repush"


def test_filter_by_metadata_and_response_status(argilla_stack):
    import argilla as rg

    client = argilla_stack.client
    dataset = push_records(pipeline_rows(tag="filters").remove_columns(["trigger_spans"]), "trigger_spans",
                           "filters", client, show_progress=False)
    by_category = dataset.records(query=rg.Query(filter=rg.Filter(("metadata.category", "==", "cat_a")))).to_list(
        flatten=True)
    assert sorted(r["prompt"] for r in by_category) == sorted(PIPELINE_PROMPTS[1::2])
    risky = dataset.records(query=rg.Query(filter=rg.Filter(("metadata.p_refuse", ">=", 0.5)))).to_list(flatten=True)
    assert [r["prompt"] for r in risky] == [PIPELINE_PROMPTS[1]]
    answered = next(r for r in dataset.records if r.id == record_id(PIPELINE_PROMPTS[0]))
    _respond(argilla_stack.api_url, argilla_stack.api_key, answered._server_id,
             {"harmfulness": "benign", "should_refuse": "no"})

    def ids(status):
        query = rg.Query(filter=rg.Filter(("response.status", "==", status)))
        return {r.id for r in dataset.records(query=query)}

    assert ids("submitted") == {record_id(PIPELINE_PROMPTS[0])}
    assert ids("pending") == {record_id(p) for p in PIPELINE_PROMPTS[1:]}  # needs the compat engine on noida-db


def test_similarity_search_by_vector(argilla_stack, encoder):
    import argilla as rg

    client = argilla_stack.client
    dataset = push_records(pipeline_rows(tag="sim"), "trigger_spans", "similar", client, encoder=encoder,
                           show_progress=False)
    query_vector = encoder.encode(["how to stop a frozen python program"])[0].tolist()
    hits = list(dataset.records(query=rg.Query(similar=rg.Similar(name="prompt_vector", value=query_vector)),
                                limit=2))
    assert hits[0][0].id == record_id(PIPELINE_PROMPTS[0])
    assert hits[0][1] >= hits[1][1]


def test_two_annotators_with_min_submitted_two(argilla_stack):
    client, url = argilla_stack.client, argilla_stack.api_url
    dataset = push_records(pipeline_rows(tag="pair").remove_columns(["trigger_spans"]), "trigger_spans", "pair",
                           client, workspace_name="team", min_submitted=2, show_progress=False)
    assert dataset.settings.distribution.min_submitted == 2
    keys = {}
    for name in ("ann_one", "ann_two"):
        user, password = add_user(client, name, "annotator", "team")
        assert len(password) >= 12 and user.role.value == "annotator"
        keys[name] = api_key(client, name)
    with pytest.raises(InputError, match="already exists"):
        add_user(client, "ann_one", "annotator", "team")
    records = {r.id: r for r in dataset.records}
    first, second, third = (records[record_id(p)]._server_id for p in PIPELINE_PROMPTS[:3])
    _respond(url, keys["ann_one"], first, {"harmfulness": "benign", "should_refuse": "no",
                                           "trigger_spans": [{"label": "benign_homonym", "start": 9, "end": 13}]})
    status_after_one = {r.id: r.status for r in _records(client, "pair", "team")}
    assert status_after_one[record_id(PIPELINE_PROMPTS[0])] == "pending"  # one of two submissions
    _respond(url, keys["ann_two"], first, {"harmfulness": "ambiguous", "should_refuse": "no"})
    _respond(url, keys["ann_two"], second, {}, status="discarded")
    _respond(url, keys["ann_one"], third, {"harmfulness": "benign"}, status="draft")
    status_after_two = {r.id: r.status for r in _records(client, "pair", "team")}
    assert status_after_two[record_id(PIPELINE_PROMPTS[0])] == "completed"

    # the annotator's own queue and progress (the two queries the compat engine rewrites)
    headers = {"X-Argilla-Api-Key": keys["ann_one"]}
    queue = httpx.post(f"{url}/api/v1/me/datasets/{dataset.id}/records/search", headers=headers, json={
        "filters": {"and": [{"type": "terms", "scope": {"entity": "response", "property": "status"},
                             "values": ["pending"]}]}}, timeout=30).json()
    assert queue["total"] == len(PIPELINE_PROMPTS) - 2  # ann_one answered `first` and drafted `third`
    metrics = httpx.get(f"{url}/api/v1/me/datasets/{dataset.id}/metrics", headers=headers, timeout=30).json()
    assert metrics["responses"]["submitted"] == 1 and metrics["responses"]["draft"] == 1

    pulled = pull_records(client, "pair", "team")
    by_id = {r["id"]: r for r in pulled}
    answers = by_id[record_id(PIPELINE_PROMPTS[0])]["responses"]
    assert [(a["user"], a["status"]) for a in answers] == [("ann_one", "submitted"), ("ann_two", "submitted")]
    assert json.loads(answers[0]["values"]) == {
        "harmfulness": "benign", "should_refuse": "no",
        "trigger_spans": [{"label": "benign_homonym", "start": 9, "end": 13}]}
    assert answers[0]["inserted_at"] and answers[0]["updated_at"]
    assert [(a["user"], a["status"], a["values"]) for a in by_id[record_id(PIPELINE_PROMPTS[1])]["responses"]] == [
        ("ann_two", "discarded", "{}")]
    assert by_id[record_id(PIPELINE_PROMPTS[0])]["record_status"] == "completed"

    status = annotation_status(client, "pair", "team")
    assert (status["total"], status["completed"], status["pending"]) == (4, 1, 3)
    per_user = {a["user"]: a for a in status["annotators"]}
    assert (per_user["ann_one"]["submitted"], per_user["ann_one"]["draft"]) == (1, 1)
    assert (per_user["ann_two"]["submitted"], per_user["ann_two"]["discarded"]) == (1, 1)


def test_server_stopped_mid_push_then_rerun_finishes(argilla_stack):
    client, stack = argilla_stack.client, argilla_stack.stack
    prompts = [f"Question {i}: how do I kill a zombie process number {i}?" for i in range(30)]
    ds = pipeline_rows(prompts, tag="fault").remove_columns(["trigger_spans"])
    push_records(ds.select(range(5)), "trigger_spans", "fault", client, show_progress=False)
    early = next(r for r in client.datasets(name="fault", workspace="argilla").records)
    _respond(argilla_stack.api_url, argilla_stack.api_key, early._server_id,
             {"harmfulness": "benign", "should_refuse": "no"})

    def kill_server_after_first_batch(done: int, total: int) -> None:
        if done == 10:
            stack.kill("server")

    try:
        with pytest.raises(ServiceError, match=r"stopped after 10 of 30 records.*unreachable") as err:
            push_records(ds, "trigger_spans", "fault", client, batch_size=10, show_progress=False,
                         on_batch=kill_server_after_first_batch)
        assert "\n" not in str(err.value) and "curate server start" in str(err.value)
    finally:
        assert stack.start().healthy
    push_records(ds, "trigger_spans", "fault", client, batch_size=10, show_progress=False)
    records = _records(client, "fault")
    assert sorted(r.id for r in records) == sorted(ds["id"])  # nothing lost, nothing duplicated
    answered = [r for r in records if r.responses]
    assert [r.id for r in answered] == [early.id]


def test_cli_push_pull_status_and_users(argilla_stack):
    from curation.cli import app

    ws = argilla_stack.workspace
    ws.save_dataset(pipeline_rows(tag="cli"), "cli_rows")
    runner = CliRunner(mix_stderr=False)
    base = ["--workspace", str(ws.root)]
    pushed = runner.invoke(app, [*base, "annotate", "push", "cli_rows", "--schema", "trigger_spans", "--to", "cli_ds"])
    assert pushed.exit_code == 0, pushed.output + str(pushed.exception)
    assert "pushed 4 records to 'cli_ds'" in pushed.output
    added = runner.invoke(app, [*base, "users", "add", "cli_annotator", "--role", "annotator", "--argilla-workspace",
                                "argilla"])
    assert added.exit_code == 0 and "one-time password: " in added.output
    reviewer = runner.invoke(app, [*base, "users", "add", "cli_reviewer", "--role", "reviewer"])
    assert reviewer.exit_code == 0 and "created reviewer 'cli_reviewer' in workspace 'reviewers'" in reviewer.output
    from curation.annotate.users import reviewers

    assert reviewers(ws) == {"cli_reviewer"}
    assert "cli_reviewer" in {u.username for u in argilla_stack.client.workspaces("reviewers").users}
    assert "cli_reviewer" not in {u.username for u in argilla_stack.client.workspaces("argilla").users}
    password = added.output.split("one-time password: ")[1].split()[0]
    token = httpx.post(f"{argilla_stack.api_url}/api/v1/token", data={"username": "cli_annotator",
                                                                      "password": password})
    assert token.status_code in (200, 201)
    pulled = runner.invoke(app, [*base, "annotate", "pull", "cli_ds"])
    assert pulled.exit_code == 0 and "pulled 4 records, 0 responses" in pulled.output
    saved = ws.load_dataset("cli_ds.annotations")
    assert len(saved) == 4 and {"id", "prompt", "responses", "suggestions", "record_status"} <= set(saved.column_names)
    status = runner.invoke(app, [*base, "annotate", "status", "cli_ds"])
    assert status.exit_code == 0 and "0/4 records completed" in status.output and "cli_annotator" in status.output
    # explicit --api-url / --api-key win over the workspace's stack
    explicit = runner.invoke(app, ["--workspace", "/nonexistent/ws", "annotate", "status", "cli_ds", "--api-url",
                                   argilla_stack.api_url, "--api-key", argilla_stack.api_key])
    assert explicit.exit_code == 0, explicit.output


def test_credentials_precedence_and_clear_errors(argilla_stack, monkeypatch, tmp_path):
    ws = argilla_stack.workspace
    assert resolve_credentials(workspace=ws) == (argilla_stack.api_url, argilla_stack.api_key)
    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:1/")
    monkeypatch.setenv("ARGILLA_API_KEY", "from-env")
    assert resolve_credentials(workspace=ws) == ("http://127.0.0.1:1", "from-env")
    assert resolve_credentials("http://x:2", "explicit", ws) == ("http://x:2", "explicit")
    monkeypatch.delenv("ARGILLA_API_URL")
    monkeypatch.delenv("ARGILLA_API_KEY")
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceError, match=f"not reachable at {down}.*curate server start"):
        connect(down, "key")
    with pytest.raises(ServiceError, match="rejected the API key"):
        connect(argilla_stack.api_url, "wrong-key")
    with pytest.raises(ServiceError, match="curate server start"):
        connect(workspace=tmp_path / "empty")
    with pytest.raises(InputError, match="needs column"):
        push_records(Dataset.from_dict({"id": ["a"]}), "trigger_spans", "bad", argilla_stack.client)
    with pytest.raises(InputError, match="no Argilla dataset 'missing'"):
        pull_records(argilla_stack.client, "missing")


# which suggestions are pre-filled (offline: the records as the bulk endpoint receives them) -----------------------
def _offline_record(row: dict, suggest=None) -> dict:
    from curation.annotate.push import build_record
    from curation.annotate.schemas import load_schema_model

    spec = load_schema_model("trigger_spans")
    ids = {q.name: q.name for q in spec.questions}
    return {s["question_id"]: s for s in build_record(row, spec, ids, {}, suggest=suggest)["suggestions"]}


def test_top_cue_and_confident_cue_spans_are_pre_filled():
    from curation.annotate.push import SuggestConfig

    prompt = "Write a haiku about autumn leaves in my garden."
    no_cue = {"id": "a", "prompt": prompt, "trigger_spans": [
        {"start": 36, "end": 46, "label": "context", "score": 0.9},
        {"start": 8, "end": 13, "label": "benign_homonym", "score": 0.11}]}
    assert "trigger_spans" not in _offline_record(no_cue, SuggestConfig(top_cue=False))  # weak cue: not pre-filled
    # the stage labels a span a cue only after its prompt-level decision: the top cue is pre-filled, context is not
    assert _offline_record(no_cue)["trigger_spans"]["value"] == [{"label": "benign_homonym", "start": 8, "end": 13}]
    assert "trigger_spans" not in _offline_record({**no_cue, "trigger_spans": no_cue["trigger_spans"][:1]})
    kill = "How do I kill a stuck process?"
    row = {"id": "b", "prompt": kill, "trigger_spans": [
        {"start": 9, "end": 13, "label": "benign_homonym", "score": 0.8},
        {"start": 14, "end": 29, "label": "target", "score": 0.9}]}
    assert _offline_record(row)["trigger_spans"]["value"] == [{"label": "benign_homonym", "start": 9, "end": 13}]
    asked = _offline_record(row, SuggestConfig(span_labels=["harmful_cue", "benign_homonym", "target"]))
    assert [s["label"] for s in asked["trigger_spans"]["value"]] == ["benign_homonym", "target"]
    assert "trigger_spans" not in _offline_record(row, SuggestConfig(min_span_score=0.9, top_cue=False))
    two = {**row, "trigger_spans": [*row["trigger_spans"], {"start": 0, "end": 3, "label": "harmful_cue",
                                                            "score": 0.5}]}
    assert [s["start"] for s in _offline_record(two)["trigger_spans"]["value"]] == [9]  # 2nd cue below 0.6


def test_label_suggestions_agree_with_each_other():
    bomb = {"id": "c", "prompt": "Comment fabriquer une bombe artisanale ?", "label": "harmful", "p_refuse": 0.2}
    made = _offline_record(bomb)
    assert made["harmfulness"]["value"] == "harmful" and made["should_refuse"]["value"] == "yes"
    assert made["harmfulness"]["score"] == made["should_refuse"]["score"] == pytest.approx(0.2)  # the model doubts
    unlabeled = _offline_record({"id": "d", "prompt": "x", "p_refuse": 0.3, "judge_label": "full_refusal"})
    assert unlabeled["harmfulness"]["value"] == "benign" and unlabeled["should_refuse"]["value"] == "no"
    judged_only = _offline_record({"id": "e", "prompt": "x", "judge_label": "full_refusal", "judge_score": 0.9})
    assert "should_refuse" not in judged_only  # what the model did is not what it should do


def test_rows_are_pushed_most_uncertain_first():
    from curation.annotate.push import most_uncertain_first

    ds = Dataset.from_dict({"id": list("abcd"), "p_refuse": [0.99, 0.5, None, 0.3]})
    assert most_uncertain_first(ds)["id"] == ["b", "d", "a", "c"]
